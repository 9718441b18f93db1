"""accounts.hot_path.HotPathApplication: the hot requests served without the middleware chain, as the chain serves them.

Django's test client never passes through WSGI, so these tests call the WSGI application.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest
from django.core import signals
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.auth.tokens import AMR_PASSWORD, IdToken, tokens_for_login
from accounts.flows import refresh as refresh_flows
from accounts.models import User, UserSession
from config import hot_path
from config.api_handler import api_dispatcher, api_middleware
from config.metrics import http_requests
from tests.factories import DEFAULT_PASSWORD, UserFactory, user_with_every_factor

pytestmark = pytest.mark.django_db

VARYING_HEADERS = {"date", "x-request-id", "content-security-policy"}


@pytest.fixture(autouse=True)
def _connections_kept() -> Iterator[None]:
    """As Django's test client does: the test's transaction must outlive each request's signals."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def comparable_headers(self) -> dict[str, str]:
        return {name: value for name, value in self.headers.items() if name not in VARYING_HEADERS}


class Served:
    """A HotPathApplication in front of the real chain, counting the requests the chain serves."""

    def __init__(self) -> None:
        self.chain_calls = 0
        chain = api_dispatcher()

        def counted(environ: dict, start_response: Any) -> Any:
            self.chain_calls += 1
            return chain(environ, start_response)

        self.application = hot_path.HotPathApplication(counted)

    def __call__(self, method: str, path: str, body: bytes = b"", **headers: str) -> Answer:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "HTTP_HOST": "testserver",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json" if body else "",
            **headers,
        }
        started: list[Any] = []
        chunks = self.application(
            environ, lambda status, response_headers, *_: started.append((status, response_headers))
        )
        body_out = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        status, response_headers = started[0]
        return Answer(
            int(status.split()[0]), {name.lower(): value for name, value in response_headers}, body_out
        )


def _bearer(user: User) -> str:
    return f"Bearer {tokens_for_login(user, amr=AMR_PASSWORD).id_token}"


def _me(served: Served, user: User, **headers: str) -> Answer:
    return served("GET", "/auth/me", HTTP_AUTHORIZATION=_bearer(user), **headers)


def _refresh_body(token: str) -> bytes:
    return json.dumps({"refreshToken": token}).encode()


def test_the_api_chain_is_the_one_the_hot_path_stands_in_for() -> None:
    """A middleware added to the API's chain must be taken into config/hot_path.py (or it turns itself off)."""
    assert tuple(api_middleware()) == hot_path.HOT_PATH_CHAIN
    assert hot_path.HotPathApplication.enabled()


@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_ACCEPT_LANGUAGE": "es-ES,es;q=0.9"}, {"HTTP_X_FORWARDED_FOR": "203.0.113.7"}],
    ids=["english", "spanish", "forwarded"],
)
def test_the_profile_served_without_the_chain_is_the_chains(headers: dict[str, str]) -> None:
    served = Served()
    user, _ = user_with_every_factor()

    through_chain = _me(served, user, **headers)
    assert served.chain_calls == 1
    without_chain = _me(served, user, **headers)

    assert served.chain_calls == 1
    assert without_chain.status == through_chain.status == 200
    assert without_chain.comparable_headers() == through_chain.comparable_headers()
    assert without_chain.body == through_chain.body
    assert without_chain.headers["content-language"] == (
        "es" if headers.get("HTTP_ACCEPT_LANGUAGE") else "en"
    )


def test_https_behind_the_proxy_is_learned_apart_and_gets_hsts(settings) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    served = Served()
    user = UserFactory()

    plain = [_me(served, user) for _ in range(2)]
    secure = [_me(served, user, HTTP_X_FORWARDED_PROTO="https") for _ in range(2)]

    assert served.chain_calls == 2
    assert "strict-transport-security" not in plain[1].headers
    assert secure[1].headers["strict-transport-security"] == secure[0].headers["strict-transport-security"]


def test_the_refresh_served_without_the_chain_is_the_chains(user: User) -> None:
    served = Served()

    through_chain = served(
        "POST", "/auth/login/refresh", _refresh_body(tokens_for_login(user, amr=AMR_PASSWORD).refresh_token)
    )
    without_chain = served(
        "POST", "/auth/login/refresh", _refresh_body(tokens_for_login(user, amr=AMR_PASSWORD).refresh_token)
    )

    assert served.chain_calls == 1
    assert without_chain.status == through_chain.status == 200
    assert without_chain.comparable_headers() | {
        "content-length": ""
    } == through_chain.comparable_headers() | {"content-length": ""}
    assert IdToken(without_chain.json()["idToken"])["sub"] == str(user.pk)
    assert without_chain.headers["cache-control"] == "no-store"


def test_a_refused_refresh_without_the_chain_is_the_chains_error(user: User) -> None:
    served = Served()
    served(
        "POST", "/auth/login/refresh", _refresh_body(tokens_for_login(user, amr=AMR_PASSWORD).refresh_token)
    )
    token = tokens_for_login(user, amr=AMR_PASSWORD).refresh_token
    UserSession.objects.filter(user=user).update(ended_at=timezone.now())

    without_chain = served("POST", "/auth/login/refresh", _refresh_body(token), HTTP_ACCEPT_LANGUAGE="en")
    calls = served.chain_calls
    through_chain = Served()("POST", "/auth/login/refresh", _refresh_body(token))

    assert calls == 1
    assert without_chain.status == through_chain.status == 403
    assert without_chain.comparable_headers() == through_chain.comparable_headers()
    assert without_chain.body == through_chain.body


def test_a_refused_token_is_answered_by_the_chain() -> None:
    served = Served()
    user = UserFactory()
    _me(served, user)

    answer = served("GET", "/auth/me", HTTP_AUTHORIZATION="Bearer not.a.token")

    assert served.chain_calls == 2
    assert answer.status == 401 and answer.json()["code"] == "token_not_valid"


def test_a_body_the_view_declines_reaches_the_chain_whole(user: User) -> None:
    served = Served()
    served(
        "POST", "/auth/login/refresh", _refresh_body(tokens_for_login(user, amr=AMR_PASSWORD).refresh_token)
    )
    before = http_requests.labels("login-refresh", "POST", "400")._value.get()

    answer = served("POST", "/auth/login/refresh", b'{"refreshToken": "  padded  "}')

    assert served.chain_calls == 2
    assert answer.status == 403 and answer.json()["code"] == "token_not_valid"  # the trimmed token, checked
    assert http_requests.labels("login-refresh", "POST", "400")._value.get() == before


@pytest.mark.parametrize(
    "change",
    [
        {"ALLOWED_HOSTS": ["auth.example.com"]},
        {"SECURE_SSL_REDIRECT": True},
        {"DEBUG": True},
        {"DISALLOWED_USER_AGENTS": []},
    ],
    ids=["unknown host", "https redirect", "debug", "nothing"],
)
def test_what_the_chain_would_refuse_or_redirect_goes_through_it(settings, change: dict) -> None:
    served = Served()
    user = UserFactory()
    _me(served, user)
    for name, value in change.items():
        setattr(settings, name, value)

    answer = _me(served, user)

    expected_calls = 1 if change == {"DISALLOWED_USER_AGENTS": []} else 2
    assert served.chain_calls == expected_calls
    assert answer.status in {200, 400, 301}


def test_a_middleware_added_to_the_chain_turns_the_hot_path_off(settings) -> None:
    served = Served()
    user = UserFactory()
    _me(served, user)
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]

    _me(served, user)

    assert served.chain_calls == 2


def test_each_answer_is_counted_once_with_its_route_and_carries_a_request_id(user: User) -> None:
    served = Served()
    _me(served, user)
    before = http_requests.labels("me", "GET", "200")._value.get()

    answer = _me(served, user, HTTP_X_REQUEST_ID="trace-42")

    assert served.chain_calls == 1
    assert http_requests.labels("me", "GET", "200")._value.get() == before + 1
    assert answer.headers["x-request-id"] == "trace-42"


def test_a_bug_in_a_hot_answer_is_djangos_500_with_the_chains_headers(user: User) -> None:
    served = Served()
    learned = _me(served, user)

    with mock.patch.object(refresh_flows, "token_refresh", side_effect=RuntimeError("bug")):
        served(
            "POST",
            "/auth/login/refresh",
            _refresh_body(tokens_for_login(user, amr=AMR_PASSWORD).refresh_token),
        )
    with mock.patch("accounts.api.me.profile_of", side_effect=RuntimeError("bug")):
        answer = _me(served, user)

    assert answer.status == 500 and answer.json()["code"] == "server_error"
    assert answer.headers["x-frame-options"] == learned.headers["x-frame-options"]


def _hot_request(served: Served, user: User, route: str) -> Callable[[], Answer]:
    """A hot request of `route`, its token made now; call it to send it."""
    if route == "me":
        bearer = _bearer(user)
        return lambda: served("GET", "/auth/me", HTTP_AUTHORIZATION=bearer)
    body = _refresh_body(tokens_for_login(user, amr=AMR_PASSWORD).refresh_token)
    return lambda: served("POST", "/auth/login/refresh", body)


@pytest.mark.parametrize("route", ["me", "refresh"])
def test_a_hot_request_served_without_the_chain_is_one_query(user: User, route: str) -> None:
    served = Served()
    _hot_request(served, user, route)()
    ask = _hot_request(served, user, route)

    with CaptureQueriesContext(connection) as queries:
        assert ask().status == 200

    assert served.chain_calls == 1
    assert len(queries) == 1


@pytest.mark.parametrize("accept", ["text/html", "application/xml"])
def test_an_accept_drf_refuses_is_answered_by_the_chain_with_406(accept: str) -> None:
    served = Served()
    user = UserFactory()
    _me(served, user)

    answer = _me(served, user, HTTP_ACCEPT=accept)

    assert served.chain_calls == 2
    assert answer.status == 406 and answer.json()["code"] == "not_acceptable"


@pytest.mark.parametrize("accept", ["*/*", "application/json"])
def test_a_json_accept_is_served_without_the_chain(accept: str) -> None:
    served = Served()
    user = UserFactory()
    _me(served, user)

    answer = _me(served, user, HTTP_ACCEPT=accept)

    assert served.chain_calls == 1
    assert answer.status == 200 and "email" in answer.json()


def _login_body(email: str, password: str = DEFAULT_PASSWORD) -> bytes:
    return json.dumps({"email": email, "password": password}).encode()


def test_the_login_served_without_the_chain_is_the_chains(user: User) -> None:
    served = Served()

    through_chain = served("POST", "/auth/login", _login_body(user.email))
    without_chain = served("POST", "/auth/login", _login_body(user.email))
    refused = served("POST", "/auth/login", _login_body(user.email, "not the password"))

    assert served.chain_calls == 1
    assert without_chain.status == through_chain.status == 200
    assert without_chain.comparable_headers() | {
        "content-length": ""
    } == through_chain.comparable_headers() | {"content-length": ""}
    assert IdToken(without_chain.json()["idToken"])["sub"] == str(user.pk)
    assert without_chain.headers["cache-control"] == "no-store"
    assert refused.status == 403
    assert refused.json()["code"] == "authentication_failed"
