"""Headers the API's answers carry by rule: `Cache-Control: no-store` on every answer with a token or secret.

RFC 6749 §5.1 asks it of token answers; SECURITY.md (29) of every answer carrying a token or a
secret. A view that answers one mixes in `NoStoreApi`, which marks all its answers (errors too,
which cost nothing to leave uncached); the hot path marks its own answers of such a view alike.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from rest_framework.request import Request

NO_STORE = "no-store"


def no_store(response: HttpResponseBase) -> HttpResponseBase:
    """Mark `response` as never to be stored by a browser or a proxy."""
    response["Cache-Control"] = NO_STORE
    return response


class NoStoreApi:
    """A DRF view whose answers carry a token or a secret: every answer gets `Cache-Control: no-store`."""

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        return no_store(super().finalize_response(request, response, *args, **kwargs))  # type: ignore[misc]
