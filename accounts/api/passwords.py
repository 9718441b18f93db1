"""Password change (step-up) and the reset by email link."""

from __future__ import annotations

from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.headers import PASSWORD_FIELD, otp_header
from accounts.api.schema import OTP_HEADER, error_responses
from accounts.api.serializers import ProfileSerializer
from accounts.api.throttles import PasswordResetRateThrottle
from accounts.api.token_serializers import DetailSerializer
from accounts.core.client import client_from
from accounts.core.errors import ErrorCode
from accounts.core.input_limits import EMAIL_MAX_LENGTH
from accounts.flows import passwords as passwords_flows


@method_decorator(sensitive_post_parameters("currentPassword", "newPassword"), name="dispatch")
class PasswordChangeApi(APIView):
    class InputSerializer(serializers.Serializer):
        currentPassword = serializers.CharField(**PASSWORD_FIELD)
        newPassword = serializers.CharField(**PASSWORD_FIELD)

    @extend_schema(
        operation_id="password_change",
        request=InputSerializer,
        parameters=[OTP_HEADER],
        responses={
            200: ProfileSerializer,
            **error_responses(
                ErrorCode.VALIDATION_ERROR,
                ErrorCode.PASSWORD_INVALID,
                ErrorCode.PASSWORD_COMPROMISED,
                ErrorCode.AUTHENTICATION_FAILED,
                ErrorCode.LOGIN_THROTTLED,
                ErrorCode.OTP_INVALID,
                ErrorCode.OTP_THROTTLED,
                ErrorCode.ACCOUNT_LOCKED,
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = passwords_flows.password_change(
            user=request.user,
            current_password=data.validated_data["currentPassword"],
            new_password=data.validated_data["newPassword"],
            otp=otp_header(request),
            client=client_from(request),
        )
        return Response(ProfileSerializer(user).data)


class PasswordResetApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PasswordResetRateThrottle]

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)

    @extend_schema(
        operation_id="password_reset",
        request=InputSerializer,
        responses={
            202: OpenApiResponse(DetailSerializer, description="Accepted, whether or not the email is known"),
            **error_responses(ErrorCode.VALIDATION_ERROR, "throttled", bearer=False),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        passwords_flows.password_reset_request(
            email=data.validated_data["email"], client=client_from(request)
        )
        return Response(
            {"detail": _("If an account has this email, a link to reset the password is on its way.")},
            status=status.HTTP_202_ACCEPTED,
        )


@method_decorator(sensitive_post_parameters("newPassword", "token"), name="dispatch")
class PasswordResetConfirmApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        uid = serializers.CharField(max_length=64)
        token = serializers.CharField(max_length=128)
        newPassword = serializers.CharField(**PASSWORD_FIELD)

    @extend_schema(
        operation_id="password_reset_confirm",
        request=InputSerializer,
        responses={
            200: OpenApiResponse(DetailSerializer, description="The password is reset; log in with it"),
            **error_responses(
                ErrorCode.VALIDATION_ERROR,
                ErrorCode.PASSWORD_INVALID,
                ErrorCode.PASSWORD_COMPROMISED,
                ErrorCode.TOKEN_NOT_VALID,
                bearer=False,
                status_overrides={ErrorCode.TOKEN_NOT_VALID: 400},
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        passwords_flows.password_reset_confirm(
            uid=data.validated_data["uid"],
            token=data.validated_data["token"],
            new_password=data.validated_data["newPassword"],
            client=client_from(request),
        )
        return Response({"detail": _("The password is reset. Log in with the new password.")})
