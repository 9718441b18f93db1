"""The request id, the request metrics and the one log line of every request.

Outermost in MIDDLEWARE so it times and counts every answer, static files and redirects too.
It touches neither the database nor the cache: the user is only read if a view loaded it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.functional import SimpleLazyObject, empty

from config.logs import request_id_choose, request_id_var
from config.metrics import http_request_count

request_logger = logging.getLogger("http.request")

REQUEST_ID_HEADER = "X-Request-ID"
UNMATCHED_ROUTE = "unmatched"
STATIC_ROUTE = "static"


def _route_of(request: HttpRequest, static_prefix: str) -> str:
    """The URL pattern's name (never the path, which would hold ids and be unbounded)."""
    match = request.resolver_match
    if match is not None:
        return match.view_name
    return STATIC_ROUTE if request.path_info.startswith(static_prefix) else UNMATCHED_ROUTE


def _known_user_id(request: HttpRequest) -> int | None:
    """The user's id if authentication already ran (DRF or a page that read request.user)."""
    user = request.__dict__.get("user")
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    return user.pk if user.is_authenticated else None


def request_observe(
    request: HttpRequest, answer: Callable[[HttpRequest], HttpResponseBase], *, static_prefix: str
) -> HttpResponseBase:
    """`answer(request)` with the request id set for its logs, counted, logged in one line, the id on the answer.

    The middleware below does this for every request; accounts.hot_path for the requests it
    serves without the middleware chain.
    """
    request_id = request_id_choose(request.META.get("HTTP_X_REQUEST_ID"))
    context_token = request_id_var.set(request_id)
    try:
        started = time.perf_counter()
        response = answer(request)
        seconds = time.perf_counter() - started
        route = _route_of(request, static_prefix)
        http_request_count(route=route, method=request.method, status=response.status_code, seconds=seconds)
        if request_logger.isEnabledFor(logging.INFO):
            request_logger.info(
                "%s %s %s",
                request.method,
                route,
                response.status_code,
                extra={
                    "method": request.method,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(seconds * 1000, 2),
                    "user_id": _known_user_id(request),
                },
            )
        response[REQUEST_ID_HEADER] = request_id
        return response
    finally:
        request_id_var.reset(context_token)


class RequestObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.static_prefix = settings.STATIC_URL

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return request_observe(request, self.get_response, static_prefix=self.static_prefix)
