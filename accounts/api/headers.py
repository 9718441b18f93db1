"""Request headers and fields every API door reads the same way: `x-otp`, `deviceToken`, the password;
and the header every answer with a token or secret carries: `Cache-Control: no-store`.

RFC 6749 §5.1 asks `no-store` of token answers; SECURITY.md (29) of every answer carrying a
token or a secret. A view that answers one mixes in `NoStoreApi`, which marks all its answers
(errors too, which cost nothing to leave uncached); the hot path marks its own answers of such
a view alike (accounts/api/hot.py).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from accounts.core.input_limits import PASSWORD_INPUT_MAX_LENGTH

PASSWORD_FIELD = {
    "style": {"input_type": "password"},
    "trim_whitespace": False,
    "max_length": PASSWORD_INPUT_MAX_LENGTH,
}


def otp_header(request: Request) -> str | None:
    """The `x-otp` header; absent or blank is None."""
    value = request.headers.get("x-otp", "").strip()
    return value or None


DEVICE_TOKEN_HEADER = OpenApiParameter(
    name="x-device-token",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="The `deviceToken` of a device this user trusts: no second factor is asked. "
    "Another user's, an expired, revoked or malformed token is ignored.",
)


NO_STORE = "no-store"


def no_store(response: HttpResponseBase) -> HttpResponseBase:
    """Mark `response` as never to be stored by a browser or a proxy."""
    response["Cache-Control"] = NO_STORE
    return response


class NoStoreApi:
    """A DRF view whose answers carry a token or a secret: every answer gets `Cache-Control: no-store`."""

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        return no_store(super().finalize_response(request, response, *args, **kwargs))  # type: ignore[misc]
