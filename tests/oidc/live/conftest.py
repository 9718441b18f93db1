"""Real relying parties against the provider: gunicorn on PostgreSQL + Redis, Chromium for the user.

The server is known as `localhost` (its URL is its issuer, as relying parties check); the
applications' redirect URIs are on a small HTTP server of the test's own, which notes every URL
the browser lands on and hands it to the relying party, as its own server would receive it.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyotp
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP_VIEWPORT, screenshot
from tests.robustness.conftest import postgres_and_redis_missing
from tests.robustness.live_server import (
    RELAXED_IP_LIMITS,
    LiveDatabase,
    LiveServer,
    live_database_create,
    live_database_drop,
    live_server,
    manage_command_run,
    redis_url,
)

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]


def pytest_runtest_setup(item: pytest.Item) -> None:
    """On SQLite the suite says why these are skipped; `make test`'s PostgreSQL run has them."""
    if reason := postgres_and_redis_missing():
        pytest.skip(reason)


@dataclass(frozen=True)
class RegisteredApp:
    name: str
    client_id: str
    client_secret: str
    redirect_uri: str
    post_logout_redirect_uri: str


@dataclass(frozen=True)
class TotpAccount:
    email: str
    password: str
    authenticator: pyotp.TOTP


class Landings:
    """The relying party's own web server: answers every GET and remembers the URLs, in order."""

    def __init__(self) -> None:
        self.urls: queue.Queue[str] = queue.Queue()
        landings = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/favicon.ico":  # the browser's own request, not a redirect
                    landings.urls.put(f"http://localhost:{self.server.server_port}{self.path}")
                body = b"<!doctype html><title>Relying party</title><p>Back at the application"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, timeout: float = 15) -> str:
        try:
            return self.urls.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the browser never came back to the application") from None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def landings() -> Iterator[Landings]:
    server = Landings()
    yield server
    server.close()


@pytest.fixture(scope="session")
def oidc_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDatabase]:
    database = live_database_create(tmp_path_factory.mktemp("oidc-database"))
    yield database
    live_database_drop(database)


@pytest.fixture(scope="session")
def oidc_server(
    oidc_database: LiveDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with live_server(
        tmp_dir=tmp_path_factory.mktemp("oidc-server"),
        database_url=oidc_database.url,
        cache_url=redis_url(),
        workers=2,
        environment=RELAXED_IP_LIMITS,
        public_host="localhost",
    ) as server:
        yield server


@pytest.fixture
def registered_app(oidc_database: LiveDatabase, landings: Landings) -> RegisteredApp:
    """A confidential application, registered as an operator would: `manage.py createapplication`."""
    port = landings.port
    app = RegisteredApp(
        name="Trading Desk",
        client_id=f"trading-{uuid.uuid4().hex[:12]}",
        client_secret=f"secret-{uuid.uuid4().hex}",
        redirect_uri=f"http://localhost:{port}/callback",
        post_logout_redirect_uri=f"http://localhost:{port}/signed-out",
    )
    manage_command_run(
        oidc_database,
        "createapplication",
        "confidential",
        "authorization-code",
        "--name",
        app.name,
        "--client-id",
        app.client_id,
        "--client-secret",
        app.client_secret,
        "--redirect-uris",
        app.redirect_uri,
        "--post-logout-redirect-uris",
        app.post_logout_redirect_uri,
        "--algorithm",
        "RS256",
    )
    return app


@pytest.fixture
def totp_account(oidc_server: LiveServer) -> TotpAccount:
    """An account with a confirmed authenticator app, made through the API."""
    email = f"rp-{uuid.uuid4().hex[:12]}@example.com"
    password = f"unguessable {uuid.uuid4().hex}"
    assert (
        oidc_server.request("POST", "/auth/register", json={"email": email, "password": password}).status_code
        == 202
    )
    tokens = oidc_server.request("POST", "/auth/login", json={"email": email, "password": password}).json()
    bearer = {"Authorization": f"Bearer {tokens['idToken']}"}
    enrolled = oidc_server.request("POST", "/auth/otp/methods/totp", headers=bearer)
    assert enrolled.status_code == 200, enrolled.text
    authenticator = pyotp.parse_uri(enrolled.json()["otpauthUri"])
    confirmed = oidc_server.request(
        "POST", "/auth/otp/code", json={"channel": "TOTP"}, headers={**bearer, "x-otp": authenticator.now()}
    )
    assert confirmed.status_code == 200, confirmed.text
    return TotpAccount(email=email, password=password, authenticator=authenticator)


@pytest.fixture(scope="session")
def oidc_browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class RelyingPartyBrowser:
    """The user's browser: signs in on the provider's pages and lands on the application's redirect URIs."""

    def __init__(self, page: Page, landings: Landings) -> None:
        self.page = page
        self.landings = landings

    def wait_for_landing(self) -> str:
        return self.landings.next()

    def sign_in(
        self, authorization_url: str, account: TotpAccount, *, screenshot_name: str | None = None
    ) -> str:
        """Password, the authenticator's code, then Allow on the consent page; the callback URL."""
        self.page.goto(authorization_url)
        self.page.fill("input[name=email]", account.email)
        self.page.fill("input[name=password]", account.password)
        self.page.click("form button[type=submit]")
        self.page.wait_for_url("**/account/login/code/**")
        # The step after the one the API's enrolment used: each TOTP step counts once.
        self.page.fill("input[name=code]", account.authenticator.at(time.time() + 30))
        self.page.click("form button[type=submit]")
        self.page.wait_for_selector("#consent")
        if screenshot_name:
            screenshot(self.page, screenshot_name)
        self.page.click("button[name=allow]")
        return self.wait_for_landing()

    def visit(self, url: str) -> str:
        self.page.goto(url)
        return self.wait_for_landing()


@pytest.fixture
def rp_browser(
    oidc_browser: Browser, oidc_server: LiveServer, landings: Landings
) -> Iterator[RelyingPartyBrowser]:
    context = oidc_browser.new_context(base_url=oidc_server.base_url, viewport=DESKTOP_VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield RelyingPartyBrowser(page, landings)
    context.close()


def discovery_of(server: LiveServer) -> dict:
    response = server.request("GET", "/.well-known/openid-configuration")
    assert response.status_code == 200, response.text
    return json.loads(response.text)
