"""Every answer under the API's paths is JSON: unknown paths, odd spellings, CSRF, with and without DEBUG."""

from __future__ import annotations

import pytest
from django.test import Client as BrowserClient

NOT_FOUND = {"code": "not_found", "detail": "Nothing is here."}


def assert_json_not_found(response) -> None:
    assert response.status_code == 404, response.content[:300]
    assert response["Content-Type"] == "application/json", response.content[:300]
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/auth/nothing-here"),
        ("DELETE", "/auth/otp/methods/webauthn/%02A"),
        ("POST", "/auth/nothing-here"),
        ("GET", "//auth/me"),
        ("GET", "/AUTH/ME"),
        ("POST", "/Auth/Login"),
        ("GET", "/.well-known/nothing-here"),
        ("GET", "/healthz/extra"),
        ("GET", "/metrics/extra"),
        ("POST", "/metrics"),
        ("PUT", "/metrics"),
        ("DELETE", "/metrics"),
    ],
)
def test_api_paths_answer_the_json_404(db: None, settings, debug: bool, method: str, path: str) -> None:
    settings.DEBUG = debug
    browser = BrowserClient(enforce_csrf_checks=True)

    # The test client would read `//auth/me` as a URL with a host: the path goes in as a server gets it.
    raw_path = {"PATH_INFO": path} if path.startswith("//") else {}
    response = browser.generic(method, path, HTTP_ACCEPT="*/*", **raw_path)

    assert_json_not_found(response)


@pytest.mark.parametrize("debug", [False, True])
def test_pages_keep_their_html_404(db: None, settings, debug: bool) -> None:
    settings.DEBUG = debug

    response = BrowserClient().get("/account/nothing-here/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
