"""Account protection endpoints: `POST /auth/me/freeze` and `PUT|DELETE /auth/me/anti-phishing-code`."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.headers import otp_header
from accounts.api.schema import OTP_HEADER, error_responses
from accounts.api.serializers import ProfileSerializer
from accounts.core.client import client_from
from accounts.core.errors import ErrorCode
from accounts.flows.anti_phishing import CODE_MAX_LENGTH, anti_phishing_code_remove, anti_phishing_code_set
from accounts.flows.freezing import FreezeMethod, account_freeze

STEP_UP_ERRORS = (ErrorCode.OTP_INVALID, ErrorCode.OTP_THROTTLED, ErrorCode.ACCOUNT_LOCKED)


class AccountFreezeApi(APIView):
    """No `x-otp`: freezing only protects, and whoever holds the token may already hold the account."""

    @extend_schema(
        operation_id="me_freeze",
        request=None,
        responses={
            204: OpenApiResponse(
                description="The account is FROZEN: every session ended, every token and trusted device "
                "revoked; the user is emailed. Only a password reset unfreezes it."
            ),
            **error_responses(),
        },
    )
    def post(self, request: Request) -> Response:
        account_freeze(user=request.user, how=FreezeMethod.API, client=client_from(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AntiPhishingCodeApi(APIView):
    class InputSerializer(serializers.Serializer):
        # Checked by the service (4 to 20 ASCII letters and digits), as the page's form is.
        code = serializers.CharField(
            max_length=CODE_MAX_LENGTH * 2,
            trim_whitespace=False,
            help_text="4 to 20 ASCII letters and digits, shown at the top of every email.",
        )

    @extend_schema(
        operation_id="me_anti_phishing_code_set",
        request=InputSerializer,
        parameters=[OTP_HEADER],
        responses={200: ProfileSerializer, **error_responses(ErrorCode.VALIDATION_ERROR, *STEP_UP_ERRORS)},
    )
    def put(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = anti_phishing_code_set(
            user=request.user,
            code=data.validated_data["code"],
            otp=otp_header(request),
            client=client_from(request),
        )
        return Response(ProfileSerializer(user).data)

    @extend_schema(
        operation_id="me_anti_phishing_code_remove",
        request=None,
        parameters=[OTP_HEADER],
        responses={200: ProfileSerializer, **error_responses(ErrorCode.NOT_FOUND, *STEP_UP_ERRORS)},
    )
    def delete(self, request: Request) -> Response:
        user = anti_phishing_code_remove(
            user=request.user, otp=otp_header(request), client=client_from(request)
        )
        return Response(ProfileSerializer(user).data)
