"""OpenAPI pieces shared by every endpoint: the `x-otp` header and the error responses."""

from __future__ import annotations

from collections import defaultdict

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from .errors import ERROR_CATALOGUE, ErrorCode

OTP_HEADER = OpenApiParameter(
    name="x-otp",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="A one-time code: TOTP, SMS code or recovery code (step-up, login second factor).",
)

# Codes answered by DRF itself rather than by a service, with their status.
FRAMEWORK_CODES: dict[str, int] = {
    "not_authenticated": 401,
    "token_not_valid": 401,
    "throttled": 429,
    "parse_error": 400,
    "unsupported_media_type": 415,
}


def _error_serializer(status: int, codes: list[str]) -> serializers.Serializer:
    name = "Error" + "".join(code.title().replace("_", "") for code in codes)
    fields = {
        "code": serializers.ChoiceField(choices=codes),
        "detail": serializers.CharField(),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False
        ),
        "retryAfter": serializers.IntegerField(required=False),
    }
    if "otp_required" in codes:
        fields["methods"] = serializers.ListField(
            child=serializers.ChoiceField(choices=["TOTP", "SMS", "RECOVERY_CODE"]), required=False
        )
        fields["channel"] = serializers.ChoiceField(choices=["SMS"], required=False)
        fields["validUntil"] = serializers.DateTimeField(required=False)
    return inline_serializer(name, fields)


def error_responses(
    *codes: ErrorCode | str, bearer: bool = True, status_overrides: dict[str, int] | None = None
) -> dict[int, OpenApiResponse]:
    """The error responses of an endpoint, grouped by status, each listing its codes."""
    by_status: dict[int, list[str]] = defaultdict(list)
    overrides = status_overrides or {}
    for code in codes:
        status = overrides.get(str(code)) or (
            ERROR_CATALOGUE[code][0] if isinstance(code, ErrorCode) else FRAMEWORK_CODES[code]
        )
        by_status[status].append(str(code))
    if bearer:
        by_status[401] += ["not_authenticated", "token_not_valid"]
    by_status[400].append("parse_error")
    by_status[415].append("unsupported_media_type")
    by_status[503].append(ErrorCode.SERVICE_UNAVAILABLE)
    return {
        status: OpenApiResponse(
            _error_serializer(status, sorted(set(codes))),
            description="Codes: " + ", ".join(sorted(set(codes))),
        )
        for status, codes in sorted(by_status.items())
    }
