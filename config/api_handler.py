"""The JSON API's lean request path: `/auth/`, `/.well-known/` and `/healthz` through a shorter middleware chain.

Why: the API is authenticated by bearer tokens only (`REST_FRAMEWORK`'s one authentication
class), sets no cookie and renders no template, yet every request used to pay the site's
whole middleware chain, built for the browser pages and the admin. Profiled on `/auth/me`
(docs/benchmarks.md), that chain was a sixth of the request.

Which middlewares the API skips, and why that is safe (`API_SKIPPED_MIDDLEWARE`):

- WhiteNoise serves files under `STATIC_URL` (`/static/`), which no API path is.
- Sessions, authentication (`request.user` from the session), django-otp's `is_verified` and
  messages exist for cookie-authenticated pages; DRF sets `request.user` from the bearer token,
  and no API code reads the session or messages.
- CSRF protects cookie-authenticated forms. DRF marks every API view `csrf_exempt` already,
  and enforces CSRF only in `SessionAuthentication`, which the API does not use: without
  cookies there is no ambient credential for another site to ride on.

Everything else runs on both paths, in the site's order: SecurityMiddleware (HSTS, nosniff,
Referrer-Policy, COOP, the HTTPS redirect), CommonMiddleware (disallowed user agents, the
slash redirect, Content-Length), X-Frame-Options, the Content-Security-Policy header, and any
middleware added to `MIDDLEWARE` later unless it is named in `API_SKIPPED_MIDDLEWARE`.

One module owns the choice: `config.wsgi` serves through `api_dispatcher()`. Django's test
client has a handler of its own and never passes through WSGI: tests mix `ApiMiddlewareMixin`
into it to send requests down the API's chain (tests/config/test_api_handler.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

API_PATH_PREFIXES = ("/auth/", "/.well-known/", "/healthz")

API_SKIPPED_MIDDLEWARE = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django_otp.middleware.OTPMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    }
)


def api_middleware() -> list[str]:
    """`MIDDLEWARE` without what the API does not need, in the same order."""
    return [path for path in settings.MIDDLEWARE if path not in API_SKIPPED_MIDDLEWARE]


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
