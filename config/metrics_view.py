"""GET /metrics for Prometheus, answered only to the bearer of METRICS_TOKEN (404 to anyone else)."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from accounts.api.errors import not_found_response
from config.metrics import metrics_exposition

BEARER_PREFIX = "Bearer "


def _metrics_token_presented(request: HttpRequest) -> bool:
    expected: str = settings.METRICS_TOKEN
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    if not expected or not authorization.startswith(BEARER_PREFIX):
        return False
    presented = authorization[len(BEARER_PREFIX) :]
    return hmac.compare_digest(presented.encode(), expected.encode())


@csrf_exempt  # a bearer token, never a cookie: CSRF's HTML 403 would tell the path exists
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    # Unset token, wrong token or another method: the same 404 as a path that does not exist
    # (returned, not raised: under DEBUG, Django would show its technical page instead).
    if request.method not in ("GET", "HEAD") or not _metrics_token_presented(request):
        return not_found_response()
    body, content_type = metrics_exposition()
    return HttpResponse(body, content_type=content_type)
