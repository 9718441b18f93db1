"""The second-factor endpoints: factors, one-time codes, recovery codes."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.headers import otp_header
from accounts.api.schema import OTP_HEADER, error_responses
from accounts.api.serializers import ProfileSerializer
from accounts.core.client import client_from
from accounts.core.errors import ErrorCode
from accounts.core.input_limits import PHONE_INPUT_MAX_LENGTH
from otp import services
from otp.phone_numbers import SUPPORTED_COUNTRIES

STEP_UP_ERRORS = (ErrorCode.OTP_INVALID, ErrorCode.OTP_THROTTLED, ErrorCode.ACCOUNT_LOCKED)
SEND_ERRORS = (ErrorCode.OTP_ATTEMPTS_EXHAUSTED, ErrorCode.SMS_UNAVAILABLE)


class SmsMethodApi(APIView):
    class InputSerializer(serializers.Serializer):
        phone = serializers.CharField(min_length=1, max_length=PHONE_INPUT_MAX_LENGTH)
        country = serializers.ChoiceField(choices=SUPPORTED_COUNTRIES)

    @extend_schema(
        operation_id="otp_methods_sms_create",
        request=InputSerializer,
        parameters=[OTP_HEADER],
        responses={
            200: OpenApiResponse(
                ProfileSerializer,
                description="Number added; a code is sent by SMS and must be confirmed with POST /auth/otp/code.",
            ),
            **error_responses(
                ErrorCode.VALIDATION_ERROR,
                ErrorCode.PHONE_INVALID,
                ErrorCode.COUNTRY_NOT_ALLOWED,
                ErrorCode.SMS_ALREADY_CONFIGURED,
                *STEP_UP_ERRORS,
                *SEND_ERRORS,
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.sms_device_add(
            user=request.user,
            phone=data.validated_data["phone"],
            country=data.validated_data["country"],
            otp=otp_header(request),
            client=client_from(request),
        )
        return Response(ProfileSerializer(user).data)

    @extend_schema(
        operation_id="otp_methods_sms_delete",
        parameters=[OTP_HEADER],
        responses={200: ProfileSerializer, **error_responses(ErrorCode.SMS_NOT_CONFIGURED, *STEP_UP_ERRORS)},
    )
    def delete(self, request: Request) -> Response:
        user = services.sms_device_delete(
            user=request.user, otp=otp_header(request), client=client_from(request)
        )
        return Response(ProfileSerializer(user).data)


class TotpEnrolmentSerializer(ProfileSerializer):
    secret = serializers.CharField(help_text="Base32 secret (160 bits) for manual entry; shown once.")
    otpauthUri = serializers.CharField(
        help_text="otpauth://totp/... URI for an authenticator app; shown once."
    )


class TotpMethodApi(APIView):
    @extend_schema(
        operation_id="otp_methods_totp_create",
        request=None,
        parameters=[OTP_HEADER],
        responses={
            200: OpenApiResponse(TotpEnrolmentSerializer, description="Secret created successfully"),
            **error_responses(ErrorCode.TOTP_ALREADY_CONFIGURED, *STEP_UP_ERRORS),
        },
    )
    def post(self, request: Request) -> Response:
        enrolment = services.totp_device_create(
            user=request.user, otp=otp_header(request), client=client_from(request)
        )
        body = ProfileSerializer(enrolment.user).data
        body.update(secret=enrolment.secret, otpauthUri=enrolment.otpauth_uri)
        response = Response(body)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        operation_id="otp_methods_totp_delete",
        parameters=[OTP_HEADER],
        responses={
            200: OpenApiResponse(ProfileSerializer, description="User secret deleted successfully"),
            **error_responses(ErrorCode.TOTP_NOT_CONFIGURED, *STEP_UP_ERRORS),
        },
    )
    def delete(self, request: Request) -> Response:
        user = services.totp_device_delete(
            user=request.user, otp=otp_header(request), client=client_from(request)
        )
        return Response(ProfileSerializer(user).data)


class RecoveryCodesApi(APIView):
    class OutputSerializer(serializers.Serializer):
        codes = serializers.ListField(child=serializers.CharField(), min_length=10, max_length=10)

    @extend_schema(
        operation_id="otp_methods_recovery_codes_create",
        request=None,
        parameters=[OTP_HEADER],
        responses={
            200: OpenApiResponse(
                OutputSerializer, description="Ten new codes, shown once, replacing older ones"
            ),
            **error_responses(ErrorCode.MFA_NOT_ENABLED, *STEP_UP_ERRORS),
        },
    )
    def post(self, request: Request) -> Response:
        codes = services.recovery_codes_generate(
            user=request.user, otp=otp_header(request), client=client_from(request)
        )
        response = Response({"codes": codes})
        response["Cache-Control"] = "no-store"
        return response


class CodeApi(APIView):
    class SendInputSerializer(serializers.Serializer):
        method = serializers.ChoiceField(choices=[services.Channel.EMAIL, services.Channel.SMS])

    class SentSerializer(serializers.Serializer):
        validUntil = serializers.DateTimeField()
        channel = serializers.ChoiceField(choices=[services.Channel.EMAIL, services.Channel.SMS])
        validated = serializers.BooleanField(help_text="Whether that channel is already verified.")

    class ConfirmInputSerializer(serializers.Serializer):
        channel = serializers.ChoiceField(choices=list(services.Channel))

    @extend_schema(
        operation_id="otp_code_send",
        parameters=[
            OpenApiParameter("method", enum=[services.Channel.EMAIL, services.Channel.SMS], required=True)
        ],
        responses={
            200: SentSerializer,
            **error_responses(
                ErrorCode.VALIDATION_ERROR,
                ErrorCode.CHANNEL_ALREADY_VERIFIED,
                ErrorCode.METHOD_NOT_ALLOWED,
                *SEND_ERRORS,
            ),
        },
    )
    def get(self, request: Request) -> Response:
        data = self.SendInputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        sent = services.verification_code_send(
            user=request.user, channel=services.Channel(data.validated_data["method"])
        )
        return Response(
            self.SentSerializer(
                {"validUntil": sent.valid_until, "channel": sent.channel, "validated": sent.validated}
            ).data
        )

    @extend_schema(
        operation_id="otp_code_confirm",
        request=ConfirmInputSerializer,
        parameters=[
            OpenApiParameter(
                name="x-otp",
                location=OpenApiParameter.HEADER,
                required=True,
                description="The code sent to the channel, or shown by the authenticator app.",
            )
        ],
        responses={
            200: OpenApiResponse(ProfileSerializer, description="Method correctly verified"),
            **error_responses(
                ErrorCode.VALIDATION_ERROR,
                ErrorCode.CHANNEL_NOT_CONFIGURED,
                ErrorCode.CHANNEL_ALREADY_VERIFIED,
                *STEP_UP_ERRORS,
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.ConfirmInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.channel_confirm(
            user=request.user,
            channel=services.Channel(data.validated_data["channel"]),
            code=otp_header(request) or "",
            client=client_from(request),
        )
        return Response(ProfileSerializer(user).data)
