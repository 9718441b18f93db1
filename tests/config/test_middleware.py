"""Every request gets a request id, echoed in X-Request-ID, and one log line."""

from __future__ import annotations

import logging
import re

import pytest
from django.test import RequestFactory
from django.utils.functional import SimpleLazyObject
from rest_framework.test import APIClient

from config.logs import RequestIdFilter, request_id_var
from config.middleware import _known_user_id

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(autouse=True)
def _request_ids_on_captured_records(caplog: pytest.LogCaptureFixture) -> None:
    """As on the console handler of the LOGGING setting."""
    caplog.handler.addFilter(RequestIdFilter())


def request_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "http.request"]


def test_a_request_id_is_made_and_returned(api_client: APIClient) -> None:
    first = api_client.get("/healthz")["X-Request-ID"]
    second = api_client.get("/healthz")["X-Request-ID"]

    assert HEX_ID.fullmatch(first)
    assert HEX_ID.fullmatch(second)
    assert first != second


@pytest.mark.parametrize("presented", ["abc-123_DEF.456", "f" * 128, "7"])
def test_a_sane_request_id_is_kept(api_client: APIClient, presented: str) -> None:
    assert api_client.get("/healthz", HTTP_X_REQUEST_ID=presented)["X-Request-ID"] == presented


@pytest.mark.parametrize("presented", ["", "a" * 129, "two words", "id;drop", "é", "a\tb", "x/../y"])
def test_another_request_id_is_replaced(api_client: APIClient, presented: str) -> None:
    returned = api_client.get("/healthz", HTTP_X_REQUEST_ID=presented)["X-Request-ID"]

    assert HEX_ID.fullmatch(returned)


def test_one_log_line_per_request_with_its_request_id(
    api_client: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="http.request"):
        response = api_client.get("/.well-known/jwks.json", HTTP_X_REQUEST_ID="trace-42")
        api_client.get("/.well-known/jwks.json", HTTP_X_REQUEST_ID="trace-43")

    first, second = request_records(caplog)
    assert response["X-Request-ID"] == "trace-42"
    assert (first.method, first.route, first.status, first.user_id) == ("GET", "jwks", 200, None)
    assert first.duration_ms >= 0
    assert second.route == "jwks"
    assert request_id_var.get() is None  # the request's id does not leak past it


def test_the_log_line_names_a_known_user(auth_client: APIClient, user, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="http.request"):
        auth_client.get("/auth/me")

    (record,) = request_records(caplog)
    assert (record.route, record.status, record.user_id) == ("me", 200, user.pk)


def test_the_log_line_names_the_route_never_the_path(api_client: APIClient, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="http.request"):
        api_client.get("/auth/nothing/here?token=secret-in-the-query")

    (record,) = request_records(caplog)
    assert (record.route, record.status) == ("unmatched", 404)
    assert "secret-in-the-query" not in caplog.text
    assert "/auth/nothing" not in record.getMessage()
    assert "/auth/nothing" not in str(vars(record))


def test_a_user_no_view_loaded_is_left_unloaded() -> None:
    """The middleware reads the user only when a view already did: never a query of its own."""
    request = RequestFactory().get("/")
    request.user = SimpleLazyObject(lambda: pytest.fail("the middleware loaded the user"))

    assert _known_user_id(request) is None


@pytest.mark.django_db
def test_a_page_that_loaded_the_user_names_it(client, user, caplog) -> None:
    client.force_login(user)
    with caplog.at_level(logging.INFO, logger="http.request"):
        response = client.get("/account/")

    assert response.status_code == 200
    (record,) = request_records(caplog)
    assert (record.route, record.user_id) == ("account:security", user.pk)


@pytest.mark.django_db
def test_the_request_id_is_on_every_record_logged_during_the_request(
    api_client: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        api_client.post(
            "/auth/login",
            {"email": "nobody@example.com", "password": "x" * 12},
            format="json",
            HTTP_X_REQUEST_ID="login-trace",
        )

    security = [record for record in caplog.records if record.name == "accounts.security"]
    assert security, "the failed login was not logged"
    assert all(record.request_id == "login-trace" for record in [*security, *request_records(caplog)])
