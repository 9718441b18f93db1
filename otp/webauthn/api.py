"""The passkey endpoints: registration, list, removal, passwordless login and step-up."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.headers import NoStoreApi, otp_header
from accounts.api.schema import OTP_HEADER, error_responses
from accounts.api.serializers import ProfileSerializer
from accounts.api.throttles import PasskeyLoginOptionsRateThrottle
from accounts.api.token_serializers import TokensSerializer, WebAuthnAssertionSerializer
from accounts.core.client import client_from
from accounts.core.errors import ErrorCode
from accounts.flows import passwordless_login as login
from otp.webauthn import registration as registration_webauthn
from otp.webauthn import relying_party, selectors, services

STEP_UP_ERRORS = (ErrorCode.OTP_INVALID, ErrorCode.OTP_THROTTLED, ErrorCode.ACCOUNT_LOCKED)
ASSERTION_ERRORS = (
    ErrorCode.VALIDATION_ERROR,
    ErrorCode.CHALLENGE_INVALID,
    ErrorCode.WEBAUTHN_INVALID,
    ErrorCode.OTP_THROTTLED,
    ErrorCode.ACCOUNT_LOCKED,
)


class CeremonySerializer(serializers.Serializer):
    challengeId = serializers.CharField(help_text="Send it back with the credential; valid 5 minutes, once.")
    publicKey = serializers.DictField(
        help_text="PublicKeyCredentialCreationOptionsJSON or PublicKeyCredentialRequestOptionsJSON, "
        "for PublicKeyCredential.parseCreationOptionsFromJSON() / parseRequestOptionsFromJSON()."
    )


def ceremony_body(options: relying_party.CeremonyOptions) -> dict:
    return {"challengeId": options.challenge_id, "publicKey": options.public_key}


class PasskeySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")
    lastUsedAt = serializers.DateTimeField(source="last_used_at", required=False)
    backedUp = serializers.BooleanField(source="backed_up")
    transports = serializers.ListField(child=serializers.CharField())

    def to_representation(self, instance: object) -> dict:
        body = super().to_representation(instance)
        if body.get("lastUsedAt") is None:
            body.pop("lastUsedAt", None)
        return body


class WebAuthnOptionsApi(APIView):
    @extend_schema(
        operation_id="otp_methods_webauthn_options",
        request=None,
        parameters=[OTP_HEADER],
        responses={200: CeremonySerializer, **error_responses(*STEP_UP_ERRORS)},
    )
    def post(self, request: Request) -> Response:
        options = registration_webauthn.registration_options_generate(
            user=request.user, otp=otp_header(request), client=client_from(request)
        )
        return Response(ceremony_body(options))


class WebAuthnMethodApi(APIView):
    class InputSerializer(serializers.Serializer):
        challengeId = serializers.CharField(max_length=64)
        credential = serializers.DictField(
            help_text="PublicKeyCredential.toJSON() after credentials.create()"
        )
        name = serializers.CharField(
            max_length=registration_webauthn.NAME_MAX_LENGTH, required=False, allow_blank=True
        )

    class ListSerializer(serializers.Serializer):
        passkeys = PasskeySerializer(many=True)

    @extend_schema(
        operation_id="otp_methods_webauthn_create",
        request=InputSerializer,
        responses={
            200: OpenApiResponse(ProfileSerializer, description="The passkey is a verified second factor"),
            **error_responses(
                ErrorCode.VALIDATION_ERROR,
                ErrorCode.CHALLENGE_INVALID,
                ErrorCode.WEBAUTHN_INVALID,
                ErrorCode.OTP_THROTTLED,
                ErrorCode.ACCOUNT_LOCKED,
                status_overrides={ErrorCode.WEBAUTHN_INVALID: 400},
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = registration_webauthn.registration_complete(
            user=request.user,
            challenge_id=data.validated_data["challengeId"],
            credential=data.validated_data["credential"],
            name=data.validated_data.get("name", ""),
            client=client_from(request),
        )
        return Response(ProfileSerializer(user).data)

    @extend_schema(
        operation_id="otp_methods_webauthn_list", responses={200: ListSerializer, **error_responses()}
    )
    def get(self, request: Request) -> Response:
        return Response({"passkeys": PasskeySerializer(selectors.passkeys_of(request.user), many=True).data})


class WebAuthnPasskeyApi(APIView):
    @extend_schema(
        operation_id="otp_methods_webauthn_delete",
        parameters=[OTP_HEADER],
        responses={200: ProfileSerializer, **error_responses(ErrorCode.NOT_FOUND, *STEP_UP_ERRORS)},
    )
    def delete(self, request: Request, id: int) -> Response:
        user = services.passkey_delete(
            user=request.user, passkey_id=id, otp=otp_header(request), client=client_from(request)
        )
        return Response(ProfileSerializer(user).data)


class WebAuthnLoginOptionsApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PasskeyLoginOptionsRateThrottle]

    @extend_schema(
        operation_id="login_webauthn_options",
        request=None,
        responses={200: CeremonySerializer, **error_responses("throttled", bearer=False)},
    )
    def post(self, request: Request) -> Response:
        return Response(ceremony_body(services.passwordless_options_generate()))


class WebAuthnLoginApi(NoStoreApi, APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="login_webauthn",
        request=WebAuthnAssertionSerializer,
        responses={
            200: OpenApiResponse(TokensSerializer, description="Logged in with a passkey: amr pop, mfa"),
            **error_responses(
                *ASSERTION_ERRORS, ErrorCode.ACCOUNT_BLOCKED, ErrorCode.ACCOUNT_FROZEN, bearer=False
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = WebAuthnAssertionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tokens = login.passwordless_login(
            challenge_id=data.validated_data["challengeId"],
            credential=data.validated_data["credential"],
            client=client_from(request),
        )
        return Response({"idToken": tokens.id_token, "refreshToken": tokens.refresh_token})


class WebAuthnStepUpOptionsApi(APIView):
    @extend_schema(
        operation_id="otp_webauthn_step_up_options",
        request=None,
        responses={200: CeremonySerializer, **error_responses(ErrorCode.METHOD_NOT_ALLOWED)},
    )
    def post(self, request: Request) -> Response:
        return Response(ceremony_body(services.step_up_options_generate(user=request.user)))


class WebAuthnStepUpApi(NoStoreApi, APIView):
    class OutputSerializer(serializers.Serializer):
        stepUpToken = serializers.CharField(help_text="Send it as `x-otp` for one sensitive change.")
        validUntil = serializers.DateTimeField()

    @extend_schema(
        operation_id="otp_webauthn_step_up",
        request=WebAuthnAssertionSerializer,
        responses={200: OutputSerializer, **error_responses(*ASSERTION_ERRORS)},
    )
    def post(self, request: Request) -> Response:
        data = WebAuthnAssertionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token = services.step_up_complete(
            user=request.user,
            challenge_id=data.validated_data["challengeId"],
            credential=data.validated_data["credential"],
            client=client_from(request),
        )
        return Response({"stepUpToken": token.token, "validUntil": token.valid_until})
