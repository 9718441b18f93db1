"""CORS for the public documents (OIDC discovery, JWKS): any origin may read them from a browser."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

PREFLIGHT_MAX_AGE_SECONDS = 24 * 60 * 60


def public_cors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """`Access-Control-Allow-Origin: *` on every answer of `view`, and a preflight answered here.

    Safe because the documents are public and read without credentials: `*` never lets a
    browser send cookies or an Authorization header along.
    """

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            response["Access-Control-Allow-Headers"] = "*"
            response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
        else:
            response = view(request, *args, **kwargs)
        response["Access-Control-Allow-Origin"] = "*"
        return response

    return wrapped
