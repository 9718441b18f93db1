"""Live servers for the robustness suite, and the PostgreSQL + Redis gate of the concurrency tests."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.robustness.live_server import (
    RELAXED_IP_LIMITS,
    LiveDatabase,
    LiveServer,
    environment_database_url,
    is_postgres,
    live_database_create,
    live_database_drop,
    live_server,
    redis_is_up,
    redis_url,
)


@functools.cache
def postgres_and_redis_missing() -> str | None:
    """Why the concurrency tests cannot run here, or None when they can."""
    if not is_postgres(environment_database_url()):
        return "needs DATABASE_URL=postgres://... (row locks across gunicorn workers); SQLite run"
    url = redis_url()
    if url is None:
        return "needs CACHE_URL=redis://... (throttles shared by gunicorn workers)"
    if not redis_is_up(url):
        return f"needs Redis at {url}, which does not answer"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip before any fixture starts a server for nothing."""
    if item.get_closest_marker("postgres") and (reason := postgres_and_redis_missing()):
        pytest.skip(reason)


@pytest.fixture(scope="session")
def live_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDatabase]:
    """A migrated database for the live servers, apart from pytest-django's test database."""
    database = live_database_create(tmp_path_factory.mktemp("live-database"))
    yield database
    live_database_drop(database)


@pytest.fixture(scope="session")
def live_api(live_database: LiveDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """gunicorn serving the API: 2 workers on PostgreSQL, 1 on SQLite (one writer at a time)."""
    with live_server(
        tmp_dir=tmp_path_factory.mktemp("live-api"),
        database_url=live_database.url,
        cache_url=redis_url(),
        workers=2 if live_database.postgres else 1,
        environment=RELAXED_IP_LIMITS,
    ) as server:
        yield server


@pytest.fixture(scope="session")
def live_api_debug(
    live_database: LiveDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The same server with DEBUG on, as `make run` serves it: its error pages must stay the API's."""
    with live_server(
        tmp_dir=tmp_path_factory.mktemp("live-api-debug"),
        database_url=live_database.url,
        cache_url=redis_url(),
        workers=2 if live_database.postgres else 1,
        environment={**RELAXED_IP_LIMITS, "DJANGO_DEBUG": "true"},
    ) as server:
        yield server


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    id_token: str
    refresh_token: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.id_token}"}


def account_create(server: LiveServer) -> Account:
    """Sign up and log in through the live server, as a client would."""
    email = f"robust-{uuid.uuid4().hex[:12]}@example.com"
    password = f"unguessable {uuid.uuid4().hex}"
    registered = server.request("POST", "/auth/register", json={"email": email, "password": password})
    assert registered.status_code == 202, registered.text
    return account_login(server, email, password)


def account_login(server: LiveServer, email: str, password: str) -> Account:
    response = server.request("POST", "/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens = response.json()
    return Account(email, password, tokens["idToken"], tokens["refreshToken"])
