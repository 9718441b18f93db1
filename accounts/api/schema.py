"""OpenAPI pieces shared by every endpoint: the `x-otp` header and the error responses."""

from __future__ import annotations

import functools
from collections import defaultdict
from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from accounts.core.errors import ERROR_CATALOGUE, ErrorCode
from otp.methods import METHOD_CHOICES

OTP_HEADER = OpenApiParameter(
    name="x-otp",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="A one-time code: TOTP, SMS code or recovery code (step-up, login second factor).",
)


class AutoSchema(openapi.AutoSchema):
    """Names a view's nested serializer after the view (`LoginApi.InputSerializer` -> `LoginInput`).

    Every view nests an `InputSerializer`; named by class name alone they would all be one
    component, and the schema would give every endpoint the body of the first.
    """

    def get_serializer_name(self, serializer: serializers.Serializer, direction: str) -> str:
        outer, _, inner = type(serializer).__qualname__.rpartition(".")
        if outer.endswith("Api"):
            return outer.removesuffix("Api") + inner
        return super().get_serializer_name(serializer, direction)


class IdTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <idToken>` for the views using `IdTokenAuthentication`."""

    target_class = "accounts.auth.authentication.IdTokenAuthentication"
    name = "idToken"

    def get_security_definition(self, auto_schema: openapi.AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Bearer authentication header of the form Bearer <token> (the idToken).",
        }


# Codes answered by DRF itself rather than by a service, with their status.
FRAMEWORK_CODES: dict[str, int] = {
    "not_authenticated": 401,
    "token_not_valid": 401,
    "throttled": 429,
    "parse_error": 400,
    "unsupported_media_type": 415,
    "request_too_large": 413,
}


@functools.cache
def _error_serializer(codes: tuple[str, ...]) -> serializers.Serializer:
    """One component per set of codes: built once, so equal names are the same class."""
    name = "Error" + "".join(code.title().replace("_", "") for code in codes)
    fields = {
        "code": serializers.ChoiceField(choices=list(codes)),
        "detail": serializers.CharField(),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False
        ),
        "retryAfter": serializers.IntegerField(required=False),
    }
    if "otp_required" in codes:
        fields["methods"] = serializers.ListField(
            child=serializers.ChoiceField(choices=METHOD_CHOICES), required=False
        )
        fields["webauthn"] = inline_serializer(
            "WebAuthnSecondFactorChallenge",
            {
                "challengeId": serializers.CharField(),
                "publicKey": serializers.DictField(help_text="PublicKeyCredentialRequestOptionsJSON"),
            },
            required=False,
            help_text='With `otpMethod: "WEBAUTHN"`: the challenge to sign with one of the passkeys.',
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
    by_status[413].append("request_too_large")
    by_status[415].append("unsupported_media_type")
    by_status[503].append(ErrorCode.SERVICE_UNAVAILABLE)
    return {
        status: OpenApiResponse(
            _error_serializer(tuple(sorted(set(codes)))),
            description="Codes: " + ", ".join(sorted(set(codes))),
        )
        for status, codes in sorted(by_status.items())
    }
