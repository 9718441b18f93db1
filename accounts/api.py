"""The account endpoints. Each view validates input, calls one service and shapes the answer."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from otp.methods import METHOD_CHOICES

from . import hot_path, services
from .api_schema import OTP_HEADER, error_responses
from .client import client_from
from .errors import ErrorCode
from .hot_path import HotPathApi
from .input_limits import EMAIL_MAX_LENGTH, PASSWORD_INPUT_MAX_LENGTH
from .mfa_resets import mfa_reset_apply_if_due
from .serializers import ProfileSerializer, profile_of
from .signing_keys import key_set
from .throttles import PasswordResetRateThrottle, RegisterRateThrottle

REFRESH_TOKEN_MAX_LENGTH = 4096

PASSWORD_FIELD = {
    "style": {"input_type": "password"},
    "trim_whitespace": False,
    "max_length": PASSWORD_INPUT_MAX_LENGTH,
}


def otp_header(request: Request) -> str | None:
    """The `x-otp` header; absent or blank is None."""
    value = request.headers.get("x-otp", "").strip()
    return value or None


class WebAuthnAssertionSerializer(serializers.Serializer):
    """`{challengeId, credential}`: the answer of `navigator.credentials.get()` as `toJSON()` gives it."""

    challengeId = serializers.CharField(max_length=64)
    credential = serializers.DictField(help_text="PublicKeyCredential.toJSON()")


class TokensSerializer(serializers.Serializer):
    idToken = serializers.CharField()
    refreshToken = serializers.CharField()


DEVICE_TOKEN_HEADER = OpenApiParameter(
    name="x-device-token",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="The `deviceToken` of a device this user trusts: no second factor is asked. "
    "Another user's, an expired, revoked or malformed token is ignored.",
)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class LoginApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

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
        tokens = services.login(
            webauthn=data.validated_data.get("webauthn"),
            email=data.validated_data["email"],
            password=data.validated_data["password"],
            otp=otp_header(request),
            otp_method=data.validated_data.get("otpMethod"),
            client=client_from(request),
            device_token=request.headers.get("x-device-token"),
            trust_device=data.validated_data["trustDevice"],
        )
        body = {"idToken": tokens.id_token, "refreshToken": tokens.refresh_token}
        if tokens.device_token is not None:
            body["deviceToken"] = tokens.device_token
        return Response(body)


class RefreshApi(HotPathApi):
    """Refresh; its POST takes the hot path (accounts/hot_path.py) when the body is in order."""

    authentication_classes: list = []
    hot_method = "POST"
    permission_classes = [AllowAny]

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
        data = hot_path.json_object_of(request, hot_path.REFRESH_BODY_MAX_BYTES)
        refresh_token = None if data is None else data.get("refreshToken")
        if not _is_plain_ascii(refresh_token, REFRESH_TOKEN_MAX_LENGTH):
            return None  # what the serializer would trim, refuse or explain: DRF's to answer
        return hot_path.handled(self, lambda: self.hot_response(self.refreshed(request, refresh_token)))

    @staticmethod
    def refreshed(request: HttpRequest, refresh_token: str) -> dict[str, str]:
        tokens = services.token_refresh(refresh_token=refresh_token, client=client_from(request))
        body = {"idToken": tokens.id_token}
        if tokens.refresh_token is not None:
            body["refreshToken"] = tokens.refresh_token
        return body


def _is_plain_ascii(value: object, max_length: int) -> bool:
    """A non-empty string of printable ASCII, nothing to trim, at most `max_length`: what a token is."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= max_length
        and value.isascii()
        and value.isprintable()
        and value == value.strip()
    )


class MeApi(HotPathApi):
    """The profile; its GET takes the hot path (accounts/hot_path.py) with a valid idToken."""

    hot_method = "GET"

    class UpdateInputSerializer(serializers.Serializer):
        language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False)

    @extend_schema(operation_id="me", responses={200: ProfileSerializer, **error_responses()})
    def get(self, request: Request) -> Response:
        return Response(profile_of(mfa_reset_apply_if_due(request.user)))

    def hot_answer(self, request: HttpRequest) -> HttpResponse | None:
        def profile() -> HttpResponse | None:
            user = hot_path.bearer_user(request)
            if user is None:
                return None  # no token or a refused one: DRF answers 401
            request.user = user  # for the request's log line, as DRF sets it
            return self.hot_response(profile_of(mfa_reset_apply_if_due(user)))

        return hot_path.handled(self, profile)

    @extend_schema(
        operation_id="me_update",
        request=UpdateInputSerializer,
        responses={200: ProfileSerializer, **error_responses(ErrorCode.VALIDATION_ERROR)},
    )
    def patch(self, request: Request) -> Response:
        data = self.UpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        if "language" in data.validated_data:
            user = services.user_language_set(user=user, language=data.validated_data["language"])
        return Response(ProfileSerializer(user).data)


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
                ErrorCode.SERVICE_UNAVAILABLE,
                "throttled",
                bearer=False,
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_register(
            email=data.validated_data["email"],
            password=data.validated_data["password"],
            client=client_from(request),
        )
        return Response(
            {"detail": _("Check your inbox: we sent a code to verify the email, then log in.")},
            status=status.HTTP_202_ACCEPTED,
        )


class RefreshTokenInputSerializer(serializers.Serializer):
    refreshToken = serializers.CharField(max_length=REFRESH_TOKEN_MAX_LENGTH)


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
        services.logout(
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
        services.tokens_revoke_all(user=request.user, client=client_from(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


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
        user = services.password_change(
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
        services.password_reset_request(email=data.validated_data["email"], client=client_from(request))
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
                ErrorCode.TOKEN_NOT_VALID,
                bearer=False,
                status_overrides={ErrorCode.TOKEN_NOT_VALID: 400},
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_confirm(
            uid=data.validated_data["uid"],
            token=data.validated_data["token"],
            new_password=data.validated_data["newPassword"],
            client=client_from(request),
        )
        return Response({"detail": _("The password is reset. Log in with the new password.")})


class JwksApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="jwks",
        responses={
            200: inline_serializer("Jwks", {"keys": serializers.ListField(child=serializers.DictField())})
        },
    )
    def get(self, request: Request) -> Response:
        response = Response(key_set().jwks())
        response["Cache-Control"] = "public, max-age=300"
        return response


class HealthApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=["ok", "unavailable"])
        database = serializers.ChoiceField(choices=["ok", "unavailable"])
        cache = serializers.ChoiceField(choices=["ok", "unavailable"])

    @extend_schema(
        operation_id="healthz",
        responses={
            200: OutputSerializer,
            503: OpenApiResponse(OutputSerializer, description="A dependency is down"),
        },
    )
    def get(self, request: Request) -> Response:
        checks = {"database": _database_ok(), "cache": _cache_ok()}
        healthy = all(checks.values())
        body: dict[str, str] = {"status": "ok" if healthy else "unavailable"}
        body.update({name: "ok" if ok else "unavailable" for name, ok in checks.items()})
        if not healthy:
            body.update(code=ErrorCode.SERVICE_UNAVAILABLE, detail=_("A dependency of the service is down."))
        return Response(body, status=200 if healthy else 503)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means the database cannot serve us
        return False


def _cache_ok() -> bool:
    try:
        cache.set("healthz", "ok", timeout=5)
        return cache.get("healthz") == "ok"
    except Exception:  # noqa: BLE001 - any failure means the cache cannot serve us
        return False
