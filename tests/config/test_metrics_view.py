"""GET /metrics: Prometheus text for the bearer of METRICS_TOKEN, the JSON 404 for anyone else."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD, UserFactory

TOKEN = "metrics-token-for-the-tests-0123456789"


def scrape(client: APIClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def assert_not_found(response) -> None:
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Nothing is here."}


def test_without_a_configured_token_there_is_nothing_here(api_client: APIClient, settings) -> None:
    settings.METRICS_TOKEN = ""

    assert_not_found(api_client.get("/metrics"))
    assert_not_found(api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer "))


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"bearer {TOKEN}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer é",
    ],
)
def test_without_the_token_there_is_nothing_here(
    api_client: APIClient, settings, authorization: str | None
) -> None:
    settings.METRICS_TOKEN = TOKEN
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    assert_not_found(api_client.get("/metrics", **headers))


def test_other_methods_are_not_found_even_with_the_token(api_client: APIClient, settings) -> None:
    settings.METRICS_TOKEN = TOKEN

    assert_not_found(api_client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))


def test_the_bearer_of_the_token_gets_prometheus_text(api_client: APIClient, settings) -> None:
    settings.METRICS_TOKEN = TOKEN

    response = api_client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "no-store" in response["Cache-Control"]
    families = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {
        "auth_http_requests",
        "auth_http_request_duration_seconds",
        "auth_logins",
        "auth_second_factor_failures",
        "auth_account_lockouts",
        "auth_sms_sent",
        "auth_sms_refused",
    } <= families


@pytest.mark.django_db
def test_a_login_shows_in_the_scrape(api_client: APIClient, settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    user = UserFactory()
    key = ("auth_logins_total", (("factor", "password"), ("result", "succeeded")))
    before = scrape(api_client).get(key, 0.0)

    response = api_client.post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert scrape(api_client)[key] == before + 1
