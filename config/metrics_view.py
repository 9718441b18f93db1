"""GET /metrics for Prometheus, answered only to the bearer of METRICS_TOKEN (404 to anyone else)."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache

from config.metrics import metrics_exposition

BEARER_PREFIX = "Bearer "


def _metrics_token_presented(request: HttpRequest) -> bool:
    expected: str = settings.METRICS_TOKEN
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    if not expected or not authorization.startswith(BEARER_PREFIX):
        return False
    presented = authorization[len(BEARER_PREFIX) :]
    return hmac.compare_digest(presented.encode(), expected.encode())


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    # Unset token, wrong token or another method: the same 404 as a path that does not exist.
    if request.method not in ("GET", "HEAD") or not _metrics_token_presented(request):
        raise Http404
    body, content_type = metrics_exposition()
    return HttpResponse(body, content_type=content_type)
