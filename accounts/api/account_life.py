"""The account's life in the API: change the email (`/auth/me/email`), export the data, close the account."""

from __future__ import annotations

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.headers import PASSWORD_FIELD, otp_header
from accounts.api.schema import OTP_HEADER, error_responses
from accounts.api.serializers import ProfileSerializer
from accounts.core.client import client_from
from accounts.core.errors import ErrorCode
from accounts.core.input_limits import CODE_MAX_LENGTH, EMAIL_MAX_LENGTH
from accounts.flows import closing, data_export, email_change

STEP_UP_CODES = (ErrorCode.OTP_INVALID, ErrorCode.OTP_THROTTLED, ErrorCode.ACCOUNT_LOCKED)
PASSWORD_CODES = (ErrorCode.AUTHENTICATION_FAILED, ErrorCode.LOGIN_THROTTLED)


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class EmailChangeApi(APIView):
    class InputSerializer(serializers.Serializer):
        newEmail = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)
        password = serializers.CharField(**PASSWORD_FIELD)

    class OutputSerializer(serializers.Serializer):
        validUntil = serializers.DateTimeField(help_text="Until when the code sent to the new address works.")

    @extend_schema(
        operation_id="me_email_change",
        request=InputSerializer,
        parameters=[OTP_HEADER],
        responses={
            202: OpenApiResponse(
                OutputSerializer,
                description="A code is on its way to the new address (or, when that address already has an "
                "account, a notice to its owner: the answer is the same)",
            ),
            **error_responses(
                ErrorCode.VALIDATION_ERROR, *PASSWORD_CODES, *STEP_UP_CODES, ErrorCode.OTP_ATTEMPTS_EXHAUSTED
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = email_change.email_change_request(
            user=request.user,
            new_email=data.validated_data["newEmail"],
            password=data.validated_data["password"],
            otp=otp_header(request),
            client=client_from(request),
        )
        return Response({"validUntil": user.pending_email_until}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="me_email_change_cancel",
        request=None,
        responses={
            204: OpenApiResponse(description="The pending change of email is cancelled"),
            **error_responses(ErrorCode.NOT_FOUND),
        },
    )
    def delete(self, request: Request) -> Response:
        email_change.email_change_cancel(user=request.user, client=client_from(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailChangeConfirmApi(APIView):
    class InputSerializer(serializers.Serializer):
        code = serializers.CharField(
            max_length=CODE_MAX_LENGTH, help_text="The code sent to the new address."
        )

    @extend_schema(
        operation_id="me_email_change_confirm",
        request=InputSerializer,
        responses={
            200: OpenApiResponse(
                ProfileSerializer,
                description="The email is changed and verified; every token of the user is revoked",
            ),
            **error_responses(
                ErrorCode.VALIDATION_ERROR,
                ErrorCode.TOKEN_NOT_VALID,
                ErrorCode.EMAIL_TAKEN,
                *STEP_UP_CODES,
                status_overrides={ErrorCode.TOKEN_NOT_VALID: 400},
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = email_change.email_change_confirm(
            user=request.user, code=data.validated_data["code"], client=client_from(request)
        )
        return Response(ProfileSerializer(user).data)


class DataExportApi(APIView):
    @extend_schema(
        operation_id="me_export",
        parameters=[OTP_HEADER],
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Everything the service holds about the user, as an attachment: profile (email and "
                "phone in full), factors, passkeys, sessions, trusted devices, connected apps, security "
                "events. Never a secret, code or hash.",
            ),
            **error_responses(*STEP_UP_CODES),
        },
    )
    def get(self, request: Request) -> Response:
        document = data_export.account_data_export(
            user=request.user, otp=otp_header(request), client=client_from(request)
        )
        filename = data_export.account_data_export_filename(request.user)
        return Response(
            document,
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            },
        )


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class AccountCloseApi(APIView):
    class InputSerializer(serializers.Serializer):
        password = serializers.CharField(**PASSWORD_FIELD)

    @extend_schema(
        operation_id="me_close",
        request=InputSerializer,
        parameters=[OTP_HEADER],
        responses={
            204: OpenApiResponse(
                description="The account is closed: every session and token ends at once, and the email "
                "behaves as an unknown one. Support can reopen it for ACCOUNT_CLOSED_RETENTION_DAYS."
            ),
            **error_responses(ErrorCode.VALIDATION_ERROR, *PASSWORD_CODES, *STEP_UP_CODES),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        closing.account_close(
            user=request.user,
            password=data.validated_data["password"],
            otp=otp_header(request),
            client=client_from(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
