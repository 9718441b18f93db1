"""Against a live gunicorn: other services verify our idTokens by discovery; metrics add up across workers."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import pytest
import requests
from django.conf import settings
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from tests.robustness.conftest import account_create
from tests.robustness.live_server import LiveDatabase, LiveServer, live_server, redis_url

METRICS_TOKEN = "live-metrics-token-0123456789abcdef"
ROUTE = "openid-configuration"
MAX_REQUESTS = 400


def test_pyjwkclient_verifies_an_id_token_found_through_discovery(live_api: LiveServer) -> None:
    account = account_create(live_api)

    response = requests.get(live_api.url("/.well-known/openid-configuration"), timeout=10)
    document = response.json()
    signing_key = jwt.PyJWKClient(document["jwks_uri"]).get_signing_key_from_jwt(account.id_token)
    claims = jwt.decode(
        account.id_token,
        signing_key.key,
        algorithms=document["id_token_signing_alg_values_supported"],
        audience=settings.JWT_AUDIENCE,
        issuer=document["issuer"],
    )

    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert document["jwks_uri"] == live_api.url("/.well-known/jwks.json")
    assert document["token_endpoint"] == live_api.url("/oauth/token/")
    assert claims["email"] == account.email
    assert claims["amr"] == ["pwd"]
    with pytest.raises(jwt.InvalidIssuerError):
        jwt.decode(
            account.id_token,
            signing_key.key,
            algorithms=document["id_token_signing_alg_values_supported"],
            audience=settings.JWT_AUDIENCE,
            issuer="https://someone-else.example.com",
        )


@pytest.fixture(scope="module")
def metrics_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("prometheus")
    (directory / "counter_999999.db").write_bytes(b"values of an earlier run")
    return directory


@pytest.fixture(scope="module")
def two_workers(
    live_database: LiveDatabase, metrics_directory: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """gunicorn with 2 workers in Prometheus multiprocess mode, with the shipped server hooks."""
    with live_server(
        tmp_dir=tmp_path_factory.mktemp("live-metrics"),
        database_url=live_database.url,
        cache_url=redis_url(),
        workers=2,
        environment={"METRICS_TOKEN": METRICS_TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(metrics_directory)},
        gunicorn_args=["--config", "python:config.gunicorn_metrics"],
    ) as server:
        yield server


def served_by_worker(directory: Path) -> dict[int, float]:
    """The requests for ROUTE each worker counted in its own values file."""
    served: dict[int, float] = {}
    for values_file in directory.glob("counter_*.db"):
        pid = int(values_file.stem.split("_")[1])
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(values_file)):
            _, name, labels, _ = json.loads(key)
            if name == "auth_http_requests_total" and labels.get("route") == ROUTE:
                served[pid] = served.get(pid, 0.0) + value
    return served


def scraped_count(server: LiveServer) -> float:
    response = requests.get(
        server.url("/metrics"), headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "auth_http_requests_total" and sample.labels == {
                "route": ROUTE,
                "method": "GET",
                "status": "200",
            }:
                return sample.value
    return 0.0


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])


def send_until_both_workers_served(server: LiveServer, directory: Path) -> int:
    """Concurrent requests (a connection each) in rounds until both workers answered some."""
    sent = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        while sent < MAX_REQUESTS:
            answers = list(
                pool.map(lambda _: requests.get(server.url(f"/.well-known/{ROUTE}"), timeout=10), range(20))
            )
            assert all(answer.status_code == 200 for answer in answers)
            sent += len(answers)
            if len([count for count in served_by_worker(directory).values() if count]) >= 2:
                return sent
    pytest.fail(f"one worker answered all {sent} requests")


def test_the_values_of_an_earlier_run_are_gone_at_start(
    two_workers: LiveServer, metrics_directory: Path
) -> None:
    assert not (metrics_directory / "counter_999999.db").exists()


def test_metrics_are_refused_without_the_token(two_workers: LiveServer) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = requests.get(two_workers.url("/metrics"), headers=headers, timeout=10)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_every_scrape_counts_the_requests_of_both_workers(
    two_workers: LiveServer, metrics_directory: Path
) -> None:
    before = scraped_count(two_workers)

    sent = send_until_both_workers_served(two_workers, metrics_directory)

    # Whichever worker answers the scrape, it adds up every worker's values.
    assert [scraped_count(two_workers) for _ in range(6)] == [before + sent] * 6
    assert sum(served_by_worker(metrics_directory).values()) == before + sent


def test_counts_survive_a_worker_that_dies(two_workers: LiveServer, metrics_directory: Path) -> None:
    send_until_both_workers_served(two_workers, metrics_directory)
    before = scraped_count(two_workers)
    victim = max(served_by_worker(metrics_directory))
    assert parent_of(victim) == two_workers.process.pid  # a worker of our own gunicorn
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.5)  # the master notices, runs child_exit and forks a new worker

    answers = [requests.get(two_workers.url(f"/.well-known/{ROUTE}"), timeout=10) for _ in range(10)]

    assert all(answer.status_code == 200 for answer in answers)
    assert scraped_count(two_workers) == before + 10
