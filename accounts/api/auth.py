"""Sign-up, login, refresh and logout endpoints."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import hot
from accounts.api.headers import DEVICE_TOKEN_HEADER, PASSWORD_FIELD, NoStoreApi, otp_header
from accounts.api.hot import HotPathApi
from accounts.api.schema import OTP_HEADER, error_responses
from accounts.api.throttles import RegisterRateThrottle
from accounts.api.token_serializers import (
    REFRESH_TOKEN_MAX_LENGTH,
    DetailSerializer,
    RefreshTokenInputSerializer,
    TokensSerializer,
    WebAuthnAssertionSerializer,
)
from accounts.auth import revocation
from accounts.core.client import client_from
from accounts.core.errors import ErrorCode
from accounts.core.input_limits import EMAIL_MAX_LENGTH, PASSWORD_INPUT_MAX_LENGTH
from accounts.flows import login as login_flows
from accounts.flows import refresh as refresh_flows
from accounts.flows import registration as registration_flows
from otp.methods import METHOD_CHOICES


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class LoginApi(NoStoreApi, HotPathApi):
    """Login; a POST of only an email and a password takes the hot path (config/hot_path.py)
    when both are plainly what the serializer accepts; anything else is DRF's to judge."""

    authentication_classes: list = []
    hot_method = "POST"
    permission_classes = [AllowAny]
    hot_permission_classes = (AllowAny,)

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)
        password = serializers.CharField(**PASSWORD_FIELD)
        otpMethod = serializers.ChoiceField(
            choices=METHOD_CHOICES,
            required=False,
            help_text="`SMS` sends a login code to the verified phone; `WEBAUTHN` asks for a passkey "
            "challenge (both answered by 403 otp_required).",
        )
        webauthn = WebAuthnAssertionSerializer(
            required=False, help_text="A passkey as the second factor, instead of `x-otp`."
        )
        trustDevice = serializers.BooleanField(
            default=False,
            help_text="With a successful second factor: trust this device, answer with a `deviceToken`.",
        )

    class OutputSerializer(TokensSerializer):
        deviceToken = serializers.CharField(
            required=False,
            help_text="Only after `trustDevice` with a second factor: send it as `x-device-token` later.",
        )

    @extend_schema(
        operation_id="login",
        request=InputSerializer,
        parameters=[OTP_HEADER, DEVICE_TOKEN_HEADER],
        responses={
            200: OpenApiResponse(OutputSerializer, description="Login successful"),
            **error_responses(
                ErrorCode.VALIDATION_ERROR,
                ErrorCode.METHOD_NOT_ALLOWED,
                ErrorCode.AUTHENTICATION_FAILED,
                ErrorCode.ACCOUNT_BLOCKED,
                ErrorCode.ACCOUNT_FROZEN,
                ErrorCode.ACCOUNT_LOCKED,
                ErrorCode.OTP_REQUIRED,
                ErrorCode.OTP_INVALID,
                ErrorCode.LOGIN_THROTTLED,
                ErrorCode.OTP_THROTTLED,
                ErrorCode.OTP_ATTEMPTS_EXHAUSTED,
                ErrorCode.SMS_UNAVAILABLE,
                ErrorCode.WEBAUTHN_INVALID,
                ErrorCode.CHALLENGE_INVALID,
                bearer=False,
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(self.logged_in(request, **data.validated_data))

    def hot_answer(self, request: HttpRequest) -> HttpResponse | None:
        data = hot.json_object_of(request, LOGIN_BODY_MAX_BYTES)
        if data is None or data.keys() != {"email", "password"}:
            return None  # a second factor's options, trustDevice, a missing field: DRF's to judge
        email, password = data["email"], data["password"]
        if not (_is_plain_email(email) and _is_plain_password(password)):
            return None  # what the serializer would trim, refuse or explain
        return hot.handled(
            self, lambda: self.hot_response(self.logged_in(request, email=email, password=password))
        )

    @staticmethod
    def logged_in(
        request: HttpRequest,
        *,
        email: str,
        password: str,
        otpMethod: str | None = None,
        webauthn: dict | None = None,
        trustDevice: bool = False,
    ) -> dict[str, str]:
        tokens = login_flows.login(
            webauthn=webauthn,
            email=email,
            password=password,
            otp=otp_header(request),
            otp_method=otpMethod,
            client=client_from(request),
            device_token=request.headers.get("x-device-token"),
            trust_device=trustDevice,
        )
        body = {"idToken": tokens.id_token, "refreshToken": tokens.refresh_token}
        if tokens.device_token is not None:
            body["deviceToken"] = tokens.device_token
        return body


class RefreshApi(NoStoreApi, HotPathApi):
    """Refresh; its POST takes the hot path (config/hot_path.py) when the body is in order."""

    authentication_classes: list = []
    hot_method = "POST"
    permission_classes = [AllowAny]
    hot_permission_classes = (AllowAny,)

    class InputSerializer(serializers.Serializer):
        refreshToken = serializers.CharField(max_length=REFRESH_TOKEN_MAX_LENGTH)

    class OutputSerializer(serializers.Serializer):
        idToken = serializers.CharField()
        refreshToken = serializers.CharField(
            required=False, help_text="Present only when refresh-token rotation is on."
        )

    @extend_schema(
        operation_id="login_refresh",
        request=InputSerializer,
        responses={
            200: OpenApiResponse(OutputSerializer, description="ID Token refreshed successfully"),
            **error_responses(ErrorCode.VALIDATION_ERROR, ErrorCode.TOKEN_NOT_VALID, bearer=False),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(self.refreshed(request, data.validated_data["refreshToken"]))

    def hot_answer(self, request: HttpRequest) -> HttpResponse | None:
        data = hot.json_object_of(request, hot.REFRESH_BODY_MAX_BYTES)
        refresh_token = None if data is None else data.get("refreshToken")
        if not _is_plain_ascii(refresh_token, REFRESH_TOKEN_MAX_LENGTH):
            return None  # what the serializer would trim, refuse or explain: DRF's to answer
        return hot.handled(self, lambda: self.hot_response(self.refreshed(request, refresh_token)))

    @staticmethod
    def refreshed(request: HttpRequest, refresh_token: str) -> dict[str, str]:
        tokens = refresh_flows.token_refresh(refresh_token=refresh_token, client=client_from(request))
        body = {"idToken": tokens.id_token}
        if tokens.refresh_token is not None:
            body["refreshToken"] = tokens.refresh_token
        return body


# A login body is an email and a password of at most PASSWORD_INPUT_MAX_LENGTH characters.
LOGIN_BODY_MAX_BYTES = 8 * 1024
_EMAIL_VALIDATOR = EmailValidator()


def _is_plain_email(value: object) -> bool:
    """An ASCII email the serializer's EmailField takes as it is (nothing to trim), of at most
    EMAIL_MAX_LENGTH characters; a non-ASCII or doubtful one is left to it."""
    if not _is_plain_ascii(value, EMAIL_MAX_LENGTH):
        return False
    try:
        _EMAIL_VALIDATOR(value)
    except ValidationError:
        return False
    return True


def _is_plain_password(value: object) -> bool:
    """A password the serializer's CharField takes as it is: a non-empty string, no NUL, not too long."""
    return isinstance(value, str) and 0 < len(value) <= PASSWORD_INPUT_MAX_LENGTH and "\x00" not in value


def _is_plain_ascii(value: object, max_length: int) -> bool:
    """A non-empty string of printable ASCII, nothing to trim, at most `max_length`: what a token is."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= max_length
        and value.isascii()
        and value.isprintable()
        and value == value.strip()
    )


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class RegisterApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [RegisterRateThrottle]

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)
        password = serializers.CharField(**PASSWORD_FIELD)

    @extend_schema(
        operation_id="register",
        request=InputSerializer,
        responses={
            202: OpenApiResponse(DetailSerializer, description="Accepted, for a new and a taken email alike"),
            **error_responses(
                ErrorCode.VALIDATION_ERROR,
                ErrorCode.PASSWORD_INVALID,
                ErrorCode.PASSWORD_COMPROMISED,
                ErrorCode.SERVICE_UNAVAILABLE,
                "throttled",
                bearer=False,
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        registration_flows.user_register(
            email=data.validated_data["email"],
            password=data.validated_data["password"],
            client=client_from(request),
        )
        return Response(
            {"detail": _("Check your inbox: we sent a code to verify the email, then log in.")},
            status=status.HTTP_202_ACCEPTED,
        )


class LogoutApi(APIView):
    @extend_schema(
        operation_id="logout",
        request=RefreshTokenInputSerializer,
        responses={
            204: OpenApiResponse(description="The refresh token is revoked and its session has ended"),
            **error_responses(ErrorCode.VALIDATION_ERROR, ErrorCode.TOKEN_NOT_VALID),
        },
    )
    def post(self, request: Request) -> Response:
        data = RefreshTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        refresh_flows.logout(
            user=request.user, refresh_token=data.validated_data["refreshToken"], client=client_from(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllApi(APIView):
    @extend_schema(
        operation_id="logout_all",
        request=None,
        responses={
            204: OpenApiResponse(
                description="Every token of the user is revoked, every session ends, no device is trusted"
            ),
            **error_responses(),
        },
    )
    def post(self, request: Request) -> Response:
        revocation.tokens_revoke_all(user=request.user, client=client_from(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
