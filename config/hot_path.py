"""The hot requests served without the middleware chain (`HotPathApplication`, in front of config.wsgi)."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponseBase
from django.urls import ResolverMatch, resolve, reverse
from django.utils import translation

from accounts.api.hot import HotPathApi, is_negotiated_as_plain_json
from config.api_handler import api_middleware, request_language
from config.middleware import request_observe

# --- Serving the hot requests without the middleware chain -----------------------------------
#
# Why: with the answers above, the API's middleware chain and Django's handler around them
# were a fifth of what a worker spent on `GET /auth/me` (docs/benchmarks.md). What the chain
# does for these two requests is known, and is done here instead:
#
# - what it refuses or redirects (a host not in ALLOWED_HOSTS, the HTTPS redirect, disallowed
#   user agents, the `www.` redirect): such a request goes through the chain, which answers it;
# - the language (the same pick as ApiLocaleMiddleware) and the request id, metrics and log line
#   (config.middleware.request_observe, the function the middleware runs);
# - the headers it adds: learned from the chain itself. The first hot answer of each view,
#   language and scheme goes through the chain, and the headers the chain added to it are kept
#   and added to the later ones (they depend on nothing else: tests compare both paths).
#
# It turns itself off (every request through the chain, as before) when the API's chain is
# not the one it knows, so that a middleware added later is never skipped unseen, and under
# DEBUG, where the chain's answers differ (django-csp leaves DEBUG errors alone).

# The chain whose work is done here; a test fails when config.api_handler.api_middleware() changes.
HOT_PATH_CHAIN = (
    "config.middleware.RequestObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.api_handler.ApiLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.api_handler.ApiCSPMiddleware",
)
HOT_ROUTE_NAMES = ("me", "login-refresh", "login")
# The headers of an answer that the view sets, or that differ between any two answers.
_OWN_HEADERS = frozenset({"content-type", "allow", "retry-after", "content-length", "x-request-id"})

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Declined(Exception):
    """The view's hot answer returned None."""


@dataclass(frozen=True)
class _HotRoute:
    view_class: type[HotPathApi]
    match: ResolverMatch


class HotPathApplication:
    """WSGI: the hot requests answered by their view's `hot_answer` with the chain's work done here; the rest by `chain`."""

    def __init__(self, chain: WSGIApplication) -> None:
        self.chain = chain
        self.routes: dict[tuple[str, str], _HotRoute] = {}
        for name in HOT_ROUTE_NAMES:
            path = reverse(name)
            match = resolve(path)
            self.routes[(match.func.cls.hot_method, path)] = _HotRoute(match.func.cls, match)
        self.learned: dict[tuple[type, str, bool], tuple[tuple[str, str], ...]] = {}
        self.static_prefix = settings.STATIC_URL

    @staticmethod
    def enabled() -> bool:
        return _serving_without_the_chain()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = self.routes.get((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")))
        if route is None or not self.enabled():
            return self.chain(environ, start_response)
        request = WSGIRequest(environ)
        if not (_chain_lets_through(request) and is_negotiated_as_plain_json(request)):
            return self.chain(environ, start_response)
        language = request_language(request)
        key = (route.view_class, language, request.is_secure())
        learned = self.learned.get(key)
        if learned is None:
            return self._learn(key, environ, start_response)
        response = self._answer(route, request, language)
        if response is None:  # the view's hot answer declined: the chain serves it, body and all
            if hasattr(request, "_body"):
                environ["wsgi.input"] = io.BytesIO(request._body)
            return self.chain(environ, start_response)
        for header, value in learned:
            response.headers.setdefault(header, value)
        if "Content-Length" not in response:  # hot answers and Django's 500 answer are never streamed
            response["Content-Length"] = str(len(response.content))
        start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
        return [response.content]

    def _answer(self, route: _HotRoute, request: WSGIRequest, language: str) -> HttpResponseBase | None:
        """The view's hot answer, observed as the chain's first middleware does; None when the view declines."""

        def answer(request: HttpRequest) -> HttpResponseBase:
            try:
                view = route.view_class(**route.match.func.view_initkwargs)
                view.setup(request)
                response = view.hot_answer(request)
            except Exception as error:  # noqa: BLE001 - as Django's handler: its 500 answer, logged
                return response_for_exception(request, error)
            if response is None:
                raise _Declined
            return response

        signals.request_started.send(sender=self.__class__, environ=request.environ)
        try:
            request.resolver_match = route.match
            translation.activate(language)
            request.LANGUAGE_CODE = language
            return request_observe(request, answer, static_prefix=self.static_prefix)
        except _Declined:  # neither counted nor logged: the chain will
            return None
        finally:
            signals.request_finished.send(sender=self.__class__)

    def _learn(
        self, key: tuple[type, str, bool], environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Any:
        """Through the chain; a hot answer's headers that the chain added are kept for `key`."""
        answered = self.chain(environ, start_response)
        if getattr(answered, "hot_path_answer", False) and answered.status_code == 200:
            self.learned[key] = tuple(
                (header, value) for header, value in answered.items() if header.lower() not in _OWN_HEADERS
            )
        return answered


@functools.cache
def _serving_without_the_chain() -> bool:
    """Not under DEBUG, the API's chain is the one whose work HotPathApplication does, and no URL
    carries a language prefix (the language is then picked as ApiLocaleMiddleware does). Read once."""
    return (
        not settings.DEBUG
        and tuple(api_middleware()) == HOT_PATH_CHAIN
        and not is_language_prefix_patterns_used(settings.ROOT_URLCONF)[0]
    )


def _settings_reread(*, setting: str, **kwargs: Any) -> None:
    if setting in ("DEBUG", "MIDDLEWARE", "ROOT_URLCONF"):
        _serving_without_the_chain.cache_clear()


setting_changed.connect(_settings_reread)


def _chain_lets_through(request: WSGIRequest) -> bool:
    """Whether the API's chain would pass `request` on to its view unchanged (else it answers it itself)."""
    try:
        request.get_host()  # ALLOWED_HOSTS
    except DisallowedHost:
        return False
    if settings.SECURE_SSL_REDIRECT and not request.is_secure():
        return False
    return not (settings.DISALLOWED_USER_AGENTS or settings.PREPEND_WWW)
