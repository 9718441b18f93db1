"""Request headers and fields every API door reads the same way: `x-otp`, `deviceToken`, the password."""

from __future__ import annotations

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
