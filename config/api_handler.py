"""The JSON API's lean request path: `/auth/`, `/.well-known/` and `/healthz` through a shorter middleware chain.

Why: the API is authenticated by bearer tokens only (`REST_FRAMEWORK`'s one authentication
class), sets no cookie and renders no template, yet every request used to pay the site's
whole middleware chain, built for the browser pages and the admin. Profiled on `/auth/me`
(docs/benchmarks.md), that chain was a sixth of the request.

Which middlewares the API skips, and why that is safe (`API_SKIPPED_MIDDLEWARE`):

- WhiteNoise serves files under `STATIC_URL` (`/static/`), which no API path is.
- Sessions, authentication (`request.user` from the session), django-otp's `is_verified`,
  the browser session's last-used stamp and messages exist for cookie-authenticated pages; DRF sets `request.user` from the bearer token,
  and no API code reads the session or messages.
- CSRF protects cookie-authenticated forms. DRF marks every API view `csrf_exempt` already,
  and enforces CSRF only in `SessionAuthentication`, which the API does not use: without
  cookies there is no ambient credential for another site to ride on.

Everything else runs on both paths, in the site's order: SecurityMiddleware (HSTS, nosniff,
Referrer-Policy, COOP, the HTTPS redirect), LocaleMiddleware (the answer's language from
`Accept-Language` or the language cookie; it needs no session; picked once per pair of values:
`ApiLocaleMiddleware`), CommonMiddleware (disallowed user agents, the
slash redirect, Content-Length), X-Frame-Options, the Content-Security-Policy header (the same
header, built once: `ApiCSPMiddleware`), and any middleware added to `MIDDLEWARE` later unless
it is named in `API_SKIPPED_MIDDLEWARE`.

One module owns the choice: `config.wsgi` serves through `api_dispatcher()`. Django's test
client has a handler of its own and never passes through WSGI: tests mix `ApiMiddlewareMixin`
into it to send requests down the API's chain (tests/config/test_api_handler.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponseBase
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.cache import patch_vary_headers

API_PATH_PREFIXES = ("/auth/", "/.well-known/", "/healthz")

API_SKIPPED_MIDDLEWARE = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django_otp.middleware.OTPMiddleware",
        "accounts.auth.browser_sessions.BrowserSessionMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    }
)


# The same work done once rather than per answer (see ApiCSPMiddleware, ApiLocaleMiddleware).
API_REPLACED_MIDDLEWARE = {
    "csp.middleware.CSPMiddleware": "config.api_handler.ApiCSPMiddleware",
    "django.middleware.locale.LocaleMiddleware": "config.api_handler.ApiLocaleMiddleware",
}

# What django-csp's decorators leave on a response for a policy of its own.
_PER_VIEW_POLICY = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)


def api_middleware() -> list[str]:
    """`MIDDLEWARE` without what the API does not need, in the same order."""
    return [
        API_REPLACED_MIDDLEWARE.get(path, path)
        for path in settings.MIDDLEWARE
        if path not in API_SKIPPED_MIDDLEWARE
    ]


class ApiCSPMiddleware(CSPMiddleware):
    """django-csp with the policy built once: an API answer has no nonce and no per-view policy.

    django-csp builds the header from the settings on every response (4% of `/auth/me`);
    here the same header is built on first use and reused. An answer that does carry a
    nonce or a decorator's policy goes through django-csp's own code.
    """

    @functools.cached_property
    def _policies(self) -> tuple[str, str]:
        return build_policy(), build_policy(report_only=True)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(
            hasattr(response, name) for name in _PER_VIEW_POLICY
        ):
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response
        policy, report_only = self._policies
        for header, value, exempt, setting in (
            (HEADER, policy, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (HEADER_REPORT_ONLY, report_only, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            excluded = tuple((getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ())
            if (
                value
                and header not in response
                and not getattr(response, exempt, False)
                and not request.path_info.startswith(excluded)
            ):
                response[header] = value
        return response


class _LanguageAsked:
    """What `get_language_from_request` reads of a request (without `check_path`): the cookie and the header."""

    def __init__(self, cookie: str | None, accept_language: str) -> None:
        self.COOKIES = {} if cookie is None else {settings.LANGUAGE_COOKIE_NAME: cookie}
        self.META = {"HTTP_ACCEPT_LANGUAGE": accept_language}


@functools.lru_cache(maxsize=512)
def _language_for(cookie: str | None, accept_language: str) -> str:
    return translation.get_language_from_request(_LanguageAsked(cookie, accept_language))


def request_language(request: HttpRequest) -> str:
    """The language LocaleMiddleware picks for `request` when no URL carries a language prefix."""
    cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    return _language_for(cookie, request.META.get("HTTP_ACCEPT_LANGUAGE", ""))


def _language_cache_clear(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("LANGUAGE"):
        _language_for.cache_clear()


setting_changed.connect(_language_cache_clear)


class ApiLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware, with the language picked once per language cookie and `Accept-Language`.

    Django picks it again on every request (a fifth of the API chain's time); without
    language prefixes in the URLs, the pick depends on those two values only, which clients
    repeat. With prefixes (`i18n_patterns`), Django's own code runs.
    """

    @staticmethod
    def _prefixes_used(request: HttpRequest) -> bool:
        return is_language_prefix_patterns_used(getattr(request, "urlconf", settings.ROOT_URLCONF))[0]

    def process_request(self, request: HttpRequest) -> None:
        if self._prefixes_used(request):
            return super().process_request(request)
        translation.activate(request_language(request))
        request.LANGUAGE_CODE = translation.get_language()
        return None

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if self._prefixes_used(request):
            return super().process_response(request, response)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


def is_api_path(path_info: str) -> bool:
    return path_info.startswith(API_PATH_PREFIXES)


class ApiMiddlewareMixin:
    """A Django handler whose chain is `api_middleware()` instead of `MIDDLEWARE`.

    Django builds a handler's chain from `settings.MIDDLEWARE` once, in `load_middleware`;
    this hands it the API's list for that call and puts the site's back right after.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        site_middleware = settings.MIDDLEWARE
        settings.MIDDLEWARE = api_middleware()
        try:
            super().load_middleware(is_async)  # type: ignore[misc]
        finally:
            settings.MIDDLEWARE = site_middleware


class ApiWSGIHandler(ApiMiddlewareMixin, WSGIHandler):
    """The WSGI handler of the API's paths."""


WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PathDispatcher:
    """Sends each request to the API's handler or the site's, by its path."""

    def __init__(self, *, site: WSGIApplication, api: WSGIApplication) -> None:
        self.site = site
        self.api = api

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        handler = self.api if is_api_path(environ.get("PATH_INFO", "")) else self.site
        return handler(environ, start_response)


def api_dispatcher() -> PathDispatcher:
    """The service's WSGI application; call after `django.setup()`."""
    return PathDispatcher(site=WSGIHandler(), api=ApiWSGIHandler())
