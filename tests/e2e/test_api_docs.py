"""Swagger UI in a real browser: its assets are ours, and it runs under the site's CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, expect


@pytest.mark.e2e
def test_swagger_ui_renders_the_schema_from_local_assets_under_the_csp(page: Page, live_server) -> None:
    requests: list[Request] = []
    csp_violations: list[str] = []

    def csp_violation_note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            csp_violations.append(message.text)

    page.on("request", lambda request: requests.append(request))
    page.on("console", csp_violation_note)

    response = page.goto("/api/docs/")

    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    expect(page.get_by_text("Auth Service API").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/auth/login").first).to_be_visible()
    foreign = [request.url for request in requests if not request.url.startswith(live_server.url)]
    assert foreign == [], foreign
    assert csp_violations == [], csp_violations
