"""The JSON API's lean request path (config.api_handler): same answers, no session or CSRF machinery."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.conf import settings
from django.test.client import ClientHandler
from rest_framework.test import APIClient

from accounts.models import User
from config import api_handler
from tests.conftest import USER_AGENT, authenticate
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

# Headers that differ between two answers by nature, not by the chain that made them.
# A fresh request id per answer (config.middleware) and the date differ between any two answers.
VARYING_HEADERS = {"date", "x-request-id"}


class ApiClientHandler(api_handler.ApiMiddlewareMixin, ClientHandler):
    """Django's test client handler with the API's middleware chain."""


def _lean_client() -> APIClient:
    client = APIClient(HTTP_USER_AGENT=USER_AGENT)
    client.handler = ApiClientHandler(enforce_csrf_checks=False)
    return client


def _site_client() -> APIClient:
    return APIClient(HTTP_USER_AGENT=USER_AGENT)


def _headers(response: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in response.items() if name.lower() not in VARYING_HEADERS}


def test_the_api_chain_is_the_site_chain_without_the_browser_middlewares() -> None:
    chain = api_handler.api_middleware()

    assert chain == [
        "config.middleware.RequestObservabilityMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "config.api_handler.ApiLocaleMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "config.api_handler.ApiCSPMiddleware",
    ]
    assert "csp.middleware.CSPMiddleware" in settings.MIDDLEWARE
    assert "django.middleware.locale.LocaleMiddleware" in settings.MIDDLEWARE
    for skipped in (
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django_otp.middleware.OTPMiddleware",
        "accounts.auth.browser_sessions.BrowserSessionMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
    ):
        assert skipped in settings.MIDDLEWARE
        assert skipped not in chain


def test_a_middleware_added_later_runs_on_the_api_too(settings: Any) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.some.RequestIdMiddleware"]

    assert api_handler.api_middleware()[-1] == "tests.some.RequestIdMiddleware"


def test_the_csp_header_built_once_is_django_csps(rf: Any) -> None:
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse

    lean = api_handler.ApiCSPMiddleware(lambda request: HttpResponse())
    stock = CSPMiddleware(lambda request: HttpResponse())

    first, second = lean(rf.get("/auth/me")), lean(rf.get("/auth/me"))

    assert first["Content-Security-Policy"] == stock(rf.get("/auth/me"))["Content-Security-Policy"]
    assert second["Content-Security-Policy"] == first["Content-Security-Policy"]
    assert "default-src 'none'" in first["Content-Security-Policy"]


def test_a_per_view_policy_still_goes_through_django_csp(rf: Any) -> None:
    from django.http import HttpResponse

    def view(request: Any) -> HttpResponse:
        response = HttpResponse()
        response._csp_replace = {"img-src": ["https://cdn.example"]}
        return response

    answer = api_handler.ApiCSPMiddleware(view)(rf.get("/auth/me"))

    assert "img-src https://cdn.example" in answer["Content-Security-Policy"]


def test_an_excluded_prefix_gets_no_csp_header(rf: Any, settings: Any) -> None:
    from django.http import HttpResponse

    settings.CONTENT_SECURITY_POLICY = {
        **settings.CONTENT_SECURITY_POLICY,
        "EXCLUDE_URL_PREFIXES": ["/auth/"],
    }

    answer = api_handler.ApiCSPMiddleware(lambda request: HttpResponse())(rf.get("/auth/me"))

    assert "Content-Security-Policy" not in answer


LANGUAGE_REQUESTS = {
    "none": {},
    "spanish": {"HTTP_ACCEPT_LANGUAGE": "es"},
    "spanish of Spain first": {"HTTP_ACCEPT_LANGUAGE": "es-ES,es;q=0.9,en;q=0.8"},
    "unsupported": {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9"},
    "any": {"HTTP_ACCEPT_LANGUAGE": "*"},
    "garbage": {"HTTP_ACCEPT_LANGUAGE": ";;q=x,,"},
    "cookie": {"HTTP_COOKIE": "django_language=es"},
    "unknown cookie": {"HTTP_COOKIE": "django_language=xx", "HTTP_ACCEPT_LANGUAGE": "es"},
}


@pytest.mark.parametrize("variant", LANGUAGE_REQUESTS)
def test_the_api_picks_the_language_as_djangos_locale_middleware(rf: Any, variant: str) -> None:
    from django.http import HttpResponse
    from django.middleware.locale import LocaleMiddleware
    from django.utils import translation

    def answer(middleware_class: type) -> tuple[str, str, str]:
        def view(request: Any) -> HttpResponse:
            return HttpResponse(translation.get_language())

        response = middleware_class(view)(rf.get("/auth/me", **LANGUAGE_REQUESTS[variant]))
        return response.content.decode(), response["Content-Language"], response["Vary"]

    for _ in range(2):  # the second pick comes from the cache
        assert answer(api_handler.ApiLocaleMiddleware) == answer(LocaleMiddleware)


def test_a_change_of_languages_is_picked_up(rf: Any, settings: Any) -> None:
    from django.http import HttpResponse
    from django.utils import translation

    middleware = api_handler.ApiLocaleMiddleware(lambda request: HttpResponse(translation.get_language()))
    assert middleware(rf.get("/auth/me", HTTP_ACCEPT_LANGUAGE="es")).content == b"es"

    settings.LANGUAGES = [("en", "English")]

    assert middleware(rf.get("/auth/me", HTTP_ACCEPT_LANGUAGE="es")).content == b"en"


def test_loading_the_api_chain_leaves_the_site_setting_alone() -> None:
    before = list(settings.MIDDLEWARE)

    handler = ApiClientHandler()
    handler.load_middleware()

    assert before == settings.MIDDLEWARE


@pytest.mark.parametrize(
    ("path", "is_api"),
    [
        ("/auth/me", True),
        ("/auth/login", True),
        ("/.well-known/jwks.json", True),
        ("/healthz", True),
        ("/account/login/", False),
        ("/admin/", False),
        ("/api/schema/", False),
        ("/static/app.css", False),
        ("/authx", False),
        ("/", False),
    ],
)
def test_the_dispatcher_picks_the_handler_by_path(path: str, is_api: bool) -> None:
    calls = []
    dispatcher = api_handler.PathDispatcher(
        site=lambda environ, start_response: calls.append("site") or [b""],
        api=lambda environ, start_response: calls.append("api") or [b""],
    )

    dispatcher({"PATH_INFO": path}, lambda *args: None)

    assert calls == ["api" if is_api else "site"]


@pytest.mark.parametrize(
    ("method", "path", "authenticated"),
    [
        ("get", "/auth/me", True),
        ("get", "/auth/me", False),
        ("get", "/auth/me/events", True),
        ("get", "/.well-known/jwks.json", False),
        ("get", "/healthz", False),
        ("get", "/auth/nothing-here", False),
        ("post", "/auth/login/refresh", False),
    ],
)
def test_the_api_answers_the_same_on_both_chains(
    user: User, method: str, path: str, authenticated: bool
) -> None:
    site, lean = _site_client(), _lean_client()
    if authenticated:
        authenticate(site, user)
        authenticate(lean, user)

    site_answer = getattr(site, method)(path, format="json")
    lean_answer = getattr(lean, method)(path, format="json")

    assert lean_answer.status_code == site_answer.status_code
    assert lean_answer.content == site_answer.content
    assert _headers(lean_answer) == _headers(site_answer)
    assert "x-frame-options" in _headers(lean_answer)
    assert "content-security-policy" in _headers(lean_answer)


def test_login_on_the_lean_chain_sets_no_cookie_and_keeps_the_security_headers(user: User) -> None:
    site, lean = _site_client(), _lean_client()
    body = {"email": user.email, "password": DEFAULT_PASSWORD}

    site_answer = site.post("/auth/login", body, format="json")
    lean_answer = lean.post("/auth/login", body, format="json")

    assert lean_answer.status_code == site_answer.status_code == 200
    assert lean_answer.json().keys() == site_answer.json().keys()
    assert _headers(lean_answer).keys() == _headers(site_answer).keys()
    assert "set-cookie" not in _headers(lean_answer)
    assert not lean_answer.cookies
    assert lean_answer["X-Content-Type-Options"] == "nosniff"


def _wsgi_get(application: Any, path: str) -> tuple[str, list[tuple[str, str]]]:
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer.update(status=status, headers=headers)

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": USER_AGENT,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
    }
    body = application(environ, start_response)
    b"".join(body)
    getattr(body, "close", lambda: None)()
    return answer["status"], answer["headers"]


def test_the_wsgi_application_serves_pages_with_the_site_chain_and_the_api_without_cookies() -> None:
    from config.hot_path import HotPathApplication
    from config.wsgi import application

    assert isinstance(application, HotPathApplication)
    assert isinstance(application.chain, api_handler.PathDispatcher)
    assert isinstance(application.chain.api, api_handler.ApiWSGIHandler)

    page_status, page_headers = _wsgi_get(application, "/account/login/")
    api_status, api_headers = _wsgi_get(application, "/.well-known/jwks.json")

    assert page_status.startswith("200")
    assert any(name == "Set-Cookie" and "csrftoken=" in value for name, value in page_headers)
    assert api_status.startswith("200")
    assert not [value for name, value in api_headers if name == "Set-Cookie"]
    assert ("X-Frame-Options", "DENY") in api_headers


def test_the_answers_language_is_chosen_alike_on_the_lean_chain() -> None:
    site, lean = _site_client(), _lean_client()

    site_answer = site.get("/auth/me", HTTP_ACCEPT_LANGUAGE="es")
    lean_answer = lean.get("/auth/me", HTTP_ACCEPT_LANGUAGE="es")

    assert lean_answer.status_code == site_answer.status_code == 401
    assert lean_answer.content == site_answer.content
    assert _headers(lean_answer) == _headers(site_answer)
    assert lean_answer.get("Content-Language") == "es"
