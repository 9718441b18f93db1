"""The hot path (accounts.hot_path): GET /auth/me and refresh answer exactly as DRF would, or let DRF answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.utils import timezone
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from accounts.api import auth as auth_api
from accounts.api import me
from accounts.api.hot import HotPathApi
from accounts.auth.tokens import AMR_PASSWORD, NO_CLIENT, IdToken, tokens_for_login
from accounts.flows import refresh as refresh_flows
from accounts.flows.mfa_resets import mfa_reset_request_create
from accounts.models import User, UserSession
from tests.conftest import USER_AGENT
from tests.factories import DEFAULT_PASSWORD, UserFactory, user_with_every_factor

pytestmark = pytest.mark.django_db

# Differ between any two answers, whichever path made them.
VARYING_HEADERS = {"date", "x-request-id"}
# Claims that differ between any two idTokens issued a moment apart.
VARYING_CLAIMS = {"jti", "iat", "exp"}


def _headers(response: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in response.items() if name.lower() not in VARYING_HEADERS}


def _client(**headers: str) -> APIClient:
    return APIClient(HTTP_USER_AGENT=USER_AGENT, **headers)


def _bearer(user: User) -> str:
    return f"Bearer {tokens_for_login(user, amr=AMR_PASSWORD).id_token}"


def _by_drf(view: type[HotPathApi]) -> Any:
    """The view with its hot path turned off: DRF answers every request."""
    return mock.patch.object(view, "hot_answer", return_value=None)


class DrfCalls:
    """Counts the requests DRF's own cycle served."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> DrfCalls:
        original = APIView.initial

        def counted(view: APIView, *args: Any, **kwargs: Any) -> None:
            self.count += 1
            original(view, *args, **kwargs)

        self._patch = mock.patch.object(APIView, "initial", counted)
        self._patch.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._patch.stop()


def _same_answer(hot: Any, drf: Any) -> None:
    assert hot.status_code == drf.status_code
    assert _headers(hot) == _headers(drf)
    assert hot.content == drf.content


# --- GET /auth/me ----------------------------------------------------------------------------

ME_REQUESTS: dict[str, Callable[[User], dict[str, str]]] = {
    "plain": lambda user: {},
    "spanish": lambda user: {"HTTP_ACCEPT_LANGUAGE": "es-ES,es;q=0.9"},
    "language cookie": lambda user: {"HTTP_COOKIE": "django_language=es"},
    "forwarded": lambda user: {"HTTP_X_FORWARDED_FOR": "203.0.113.9", "HTTP_X_REQUEST_ID": "abc-123"},
}


@pytest.mark.parametrize("variant", ME_REQUESTS)
def test_the_hot_profile_is_drfs_byte_for_byte(variant: str) -> None:
    user, _ = user_with_every_factor()
    headers = {"HTTP_AUTHORIZATION": _bearer(user), **ME_REQUESTS[variant](user)}

    with DrfCalls() as drf_calls:
        hot = _client().get("/auth/me", **headers)
    assert drf_calls.count == 0
    with _by_drf(me.MeApi), DrfCalls() as drf_calls:
        drf = _client().get("/auth/me", **headers)
    assert drf_calls.count == 1

    assert hot.status_code == 200
    _same_answer(hot, drf)


def test_the_hot_profile_applies_a_due_mfa_reset_first(settings) -> None:
    user, _ = user_with_every_factor()
    bearer = _bearer(user)
    mfa_reset_request_create(user=user, requested_by=None, reason="lost phone", client=NO_CLIENT)
    assert "mfaResetScheduledAt" in _client().get("/auth/me", HTTP_AUTHORIZATION=bearer).json()

    with (
        time_machine.travel(timezone.now() + timedelta(seconds=settings.SUPPORT_MFA_RESET_DELAY_SECONDS + 1)),
        DrfCalls() as drf_calls,
    ):
        profile = _client().get("/auth/me", HTTP_AUTHORIZATION=_bearer(user)).json()

    assert drf_calls.count == 0
    assert "mfaResetScheduledAt" not in profile
    assert profile["hasValidatedSecret"] is False and profile["hasValidatedPhone"] is False


def _ended(user: User) -> dict[str, str]:
    bearer = _bearer(user)
    UserSession.objects.filter(user=user).update(ended_at=timezone.now())
    return {"HTTP_AUTHORIZATION": bearer}


def _blocked(user: User) -> dict[str, str]:
    bearer = _bearer(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    return {"HTTP_AUTHORIZATION": bearer}


REFUSED_ME_REQUESTS: dict[str, Callable[[User], dict[str, str]]] = {
    "no token": lambda user: {},
    "not a bearer": lambda user: {"HTTP_AUTHORIZATION": "Basic dXNlcjpwdw=="},
    "garbage token": lambda user: {"HTTP_AUTHORIZATION": "Bearer not.a.token"},
    "ended session": _ended,
    "deactivated user": _blocked,
}


@pytest.mark.parametrize("variant", REFUSED_ME_REQUESTS)
def test_a_refused_token_is_answered_by_drf(variant: str) -> None:
    headers = REFUSED_ME_REQUESTS[variant](UserFactory())

    with DrfCalls() as drf_calls:
        response = _client().get("/auth/me", **headers)

    assert drf_calls.count == 1
    assert response.status_code == 401
    assert response.json()["code"] in ("token_not_valid", "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method", ["head", "options", "patch"])
def test_other_methods_of_me_are_drfs(method: str) -> None:
    user = UserFactory()

    with DrfCalls() as drf_calls:
        response = getattr(_client(), method)("/auth/me", HTTP_AUTHORIZATION=_bearer(user))

    assert drf_calls.count == 1
    assert response.status_code == 200


def test_a_database_failure_on_the_hot_profile_is_the_apis_503(user: User) -> None:
    headers = {"HTTP_AUTHORIZATION": _bearer(user)}
    failing = mock.patch("accounts.auth.authentication.bearer_user_read", side_effect=DatabaseError("gone"))

    with failing:
        hot = _client().get("/auth/me", **headers)
    with failing, _by_drf(me.MeApi):
        drf = _client().get("/auth/me", **headers)

    assert hot.status_code == 503 and hot.json()["code"] == "service_unavailable"
    _same_answer(hot, drf)


# --- POST /auth/login/refresh ---------------------------------------------------------------


def _refresh_token(user: User) -> str:
    return tokens_for_login(user, amr=AMR_PASSWORD).refresh_token


def _refresh(body: object, **extra: Any) -> Any:
    return _client().post("/auth/login/refresh", body, format="json", **extra)


def _id_token_claims(response: Any) -> dict[str, Any]:
    claims = dict(IdToken(response.json()["idToken"]).payload)
    return {name: value for name, value in claims.items() if name not in VARYING_CLAIMS}


@pytest.mark.parametrize("rotation", [False, True], ids=["no rotation", "rotation"])
def test_the_hot_refresh_is_drfs(settings, user: User, rotation: bool) -> None:
    settings.JWT_ROTATE_REFRESH_TOKENS = rotation

    with DrfCalls() as drf_calls:
        hot = _refresh({"refreshToken": _refresh_token(user)}, HTTP_ACCEPT_LANGUAGE="es")
    assert drf_calls.count == 0
    with _by_drf(auth_api.RefreshApi):
        drf = _refresh({"refreshToken": _refresh_token(user)}, HTTP_ACCEPT_LANGUAGE="es")

    assert hot.status_code == drf.status_code == 200
    assert _headers(hot) | {"content-length": ""} == _headers(drf) | {"content-length": ""}
    assert (
        hot.json().keys() == drf.json().keys() == ({"idToken", "refreshToken"} if rotation else {"idToken"})
    )
    assert _id_token_claims(hot) | {"sid": ""} == _id_token_claims(drf) | {"sid": ""}


REFUSED_REFRESHES: dict[str, Callable[[User], str]] = {
    "ended session": lambda user: _ended_refresh_token(user),
    "an idToken": lambda user: tokens_for_login(user, amr=AMR_PASSWORD).id_token,
    "garbage": lambda user: "not.a.token",
}


def _ended_refresh_token(user: User) -> str:
    token = _refresh_token(user)
    UserSession.objects.filter(user=user).update(ended_at=timezone.now())
    return token


@pytest.mark.parametrize("variant", REFUSED_REFRESHES)
def test_a_refused_refresh_is_the_apis_error_byte_for_byte(user: User, variant: str) -> None:
    body = {"refreshToken": REFUSED_REFRESHES[variant](user)}

    with DrfCalls() as drf_calls:
        hot = _refresh(body, HTTP_ACCEPT_LANGUAGE="es")
    assert drf_calls.count == 0
    with _by_drf(auth_api.RefreshApi):
        drf = _refresh(body, HTTP_ACCEPT_LANGUAGE="es")

    assert hot.json()["code"] == "token_not_valid"
    _same_answer(hot, drf)


def test_reuse_of_a_rotated_token_revokes_its_family_on_the_hot_path(settings, user: User) -> None:
    settings.JWT_ROTATE_REFRESH_TOKENS = True
    first = _refresh_token(user)
    rotated = _refresh({"refreshToken": first}).json()["refreshToken"]

    with DrfCalls() as drf_calls:
        reused = _refresh({"refreshToken": first})

    assert drf_calls.count == 0
    assert reused.json()["code"] == "token_not_valid"
    assert _refresh({"refreshToken": rotated}).json()["code"] == "token_not_valid"


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"data": {"refreshToken": "  padded  "}, "format": "json"},
        {"data": {"refreshToken": 12345}, "format": "json"},
        {"data": {"refreshToken": ""}, "format": "json"},
        {"data": {"refreshToken": "x" * 4097}, "format": "json"},
        {"data": {"refreshToken": "nul\x00inside"}, "format": "json"},
        {"data": {}, "format": "json"},
        {"data": ["refreshToken"], "format": "json"},
        {"data": "{not json", "content_type": "application/json"},
        {"data": {"refreshToken": "a.b.c"}, "format": "multipart"},
        {"data": '{"refreshToken": "a.b.c"}', "content_type": "application/json; charset=latin-1"},
    ],
    ids=[
        "padded",
        "a number",
        "blank",
        "too long",
        "NUL",
        "missing",
        "a list",
        "not JSON",
        "multipart",
        "latin-1",
    ],
)
def test_a_body_the_serializer_must_judge_is_answered_by_drf(request_kwargs: dict) -> None:
    with DrfCalls() as drf_calls:
        response = _client().post("/auth/login/refresh", **request_kwargs)

    assert drf_calls.count == 1
    assert response.status_code in (400, 403, 415)
    assert response.json()["code"] in (
        "validation_error",
        "token_not_valid",
        "parse_error",
        "unsupported_media_type",
    )


def test_a_database_failure_on_the_hot_refresh_is_the_apis_503(user: User) -> None:
    body = {"refreshToken": _refresh_token(user)}
    failing = mock.patch.object(
        refresh_flows, "refresh_owner_read_and_touch", side_effect=DatabaseError("gone")
    )

    with failing:
        hot = _refresh(body)
    with failing, _by_drf(auth_api.RefreshApi):
        drf = _refresh(body)

    assert hot.status_code == 503 and hot.json()["code"] == "service_unavailable"
    _same_answer(hot, drf)


def test_an_unexpected_error_on_the_hot_path_is_not_swallowed(user: User) -> None:
    body = {"refreshToken": _refresh_token(user)}

    failing = mock.patch.object(
        refresh_flows, "refresh_owner_read_and_touch", side_effect=RuntimeError("bug")
    )
    with failing, pytest.raises(RuntimeError):
        _refresh(body)


# --- content negotiation, throttles and permissions -----------------------------------------

# What the hot path answers itself: the answers of DRF's negotiation it knows to be JSON as rendered.
NEGOTIATED_ACCEPTS = {"absent": None, "any": "*/*", "json": "application/json"}
# Anything else is DRF's to negotiate: 406, an indented body, a format from the query.
OTHER_ACCEPTS = {
    "html": "text/html",
    "xml": "application/xml",
    "json with indent": "application/json; indent=4",
    "browser": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "application any": "application/*",
}


def _accept(value: str | None) -> dict[str, str]:
    return {} if value is None else {"HTTP_ACCEPT": value}


@pytest.mark.parametrize("accept", NEGOTIATED_ACCEPTS)
def test_the_hot_profile_answers_json_accepts_as_drf(accept: str) -> None:
    user = UserFactory()
    headers = {"HTTP_AUTHORIZATION": _bearer(user), **_accept(NEGOTIATED_ACCEPTS[accept])}

    with DrfCalls() as drf_calls:
        hot = _client().get("/auth/me", **headers)
    assert drf_calls.count == 0
    with _by_drf(me.MeApi):
        drf = _client().get("/auth/me", **headers)

    assert hot.status_code == 200
    _same_answer(hot, drf)


@pytest.mark.parametrize("accept", OTHER_ACCEPTS)
def test_another_accept_of_the_profile_is_negotiated_by_drf(accept: str) -> None:
    user = UserFactory()
    headers = {"HTTP_AUTHORIZATION": _bearer(user), **_accept(OTHER_ACCEPTS[accept])}

    with DrfCalls() as drf_calls:
        declined = _client().get("/auth/me", **headers)
    assert drf_calls.count == 1
    with _by_drf(me.MeApi):
        drf = _client().get("/auth/me", **headers)

    _same_answer(declined, drf)
    if accept in ("html", "xml"):
        assert declined.status_code == 406 and declined.json()["code"] == "not_acceptable"


@pytest.mark.parametrize("query", ["?format=json", "?format=html"])
def test_a_format_in_the_query_is_negotiated_by_drf(query: str) -> None:
    user = UserFactory()

    with DrfCalls() as drf_calls:
        response = _client().get(f"/auth/me{query}", HTTP_AUTHORIZATION=_bearer(user))

    assert drf_calls.count == 1
    assert response.status_code == (200 if query.endswith("json") else 404)


@pytest.mark.parametrize("accept", ["text/html", "application/json; indent=2"])
def test_another_accept_of_the_refresh_is_negotiated_by_drf(user: User, accept: str) -> None:
    with DrfCalls() as drf_calls:
        declined = _refresh({"refreshToken": _refresh_token(user)}, HTTP_ACCEPT=accept)
    assert drf_calls.count == 1
    assert declined.status_code == (406 if accept == "text/html" else 200)
    if accept == "text/html":
        with _by_drf(auth_api.RefreshApi):
            _same_answer(declined, _refresh({"refreshToken": _refresh_token(user)}, HTTP_ACCEPT=accept))


def test_the_hot_views_have_only_the_checks_their_hot_answers_apply() -> None:
    for view in (me.MeApi, auth_api.RefreshApi):
        assert list(view.throttle_classes) == []
        assert tuple(view.permission_classes) == view.hot_permission_classes


@pytest.mark.parametrize(
    "attributes",
    [
        {"throttle_classes": [AnonRateThrottle], "permission_classes": [], "hot_permission_classes": ()},
        {"permission_classes": [IsAdminUser]},
        {"permission_classes": [AllowAny], "hot_permission_classes": (IsAuthenticated,)},
    ],
    ids=["a throttle", "a permission", "permissions it does not check"],
)
def test_a_hot_view_with_a_check_its_hot_answer_skips_fails_at_import(attributes: dict[str, Any]) -> None:
    with pytest.raises(ImproperlyConfigured, match="hot path"):
        type("Hot", (HotPathApi,), {"hot_method": "GET", **attributes})


# --- POST /auth/login ------------------------------------------------------------------------


def _login(body: object, **extra: Any) -> Any:
    return _client().post("/auth/login", body, format="json", **extra)


def test_the_hot_login_is_drfs(user: User) -> None:
    body = {"email": user.email, "password": DEFAULT_PASSWORD}

    with DrfCalls() as drf_calls:
        hot = _login(body, HTTP_ACCEPT_LANGUAGE="es")
    assert drf_calls.count == 0
    with _by_drf(auth_api.LoginApi):
        drf = _login(body, HTTP_ACCEPT_LANGUAGE="es")

    assert hot.status_code == drf.status_code == 200
    assert _headers(hot) | {"content-length": ""} == _headers(drf) | {"content-length": ""}
    assert hot["Cache-Control"] == "no-store"
    assert hot.json().keys() == drf.json().keys() == {"idToken", "refreshToken"}
    assert _id_token_claims(hot) | {"sid": ""} == _id_token_claims(drf) | {"sid": ""}
    assert UserSession.objects.filter(user=user).count() == 2


REFUSED_LOGINS: dict[str, Callable[[User], dict[str, str]]] = {
    "wrong password": lambda user: {"email": user.email, "password": "not the password"},
    "unknown email": lambda user: {"email": "nobody@example.com", "password": DEFAULT_PASSWORD},
    "second factor asked": lambda user: _with_totp(user),
    "blocked": lambda user: _blocked(user),
}


def _with_totp(user: User) -> dict[str, str]:
    user.totp_verified_at = timezone.now()
    user.save(update_fields=["totp_verified_at"])
    return {"email": user.email, "password": DEFAULT_PASSWORD}


def _blocked(user: User) -> dict[str, str]:
    User.objects.filter(pk=user.pk).update(status=User.Status.BLOCKED)
    return {"email": user.email, "password": DEFAULT_PASSWORD}


@pytest.mark.parametrize("variant", REFUSED_LOGINS)
def test_a_refused_login_is_the_apis_error_byte_for_byte(user: User, variant: str) -> None:
    body = REFUSED_LOGINS[variant](user)

    with DrfCalls() as drf_calls:
        hot = _login(body, HTTP_ACCEPT_LANGUAGE="es")
    assert drf_calls.count == 0
    with _by_drf(auth_api.LoginApi):
        drf = _login(body, HTTP_ACCEPT_LANGUAGE="es")

    assert hot.status_code == 403
    _same_answer(hot, drf)


@pytest.mark.parametrize(
    "body",
    [
        {"email": " padded@example.com ", "password": DEFAULT_PASSWORD},
        {"email": "not-an-email", "password": DEFAULT_PASSWORD},
        {"email": "ñandú@example.com", "password": DEFAULT_PASSWORD},
        {"email": "a@example.com", "password": ""},
        {"email": "a@example.com", "password": "nul\x00inside"},
        {"email": "a@example.com", "password": 12345},
        {"email": "a@example.com"},
        {"email": "a@example.com", "password": DEFAULT_PASSWORD, "trustDevice": True},
        {"email": "a@example.com", "password": DEFAULT_PASSWORD, "otpMethod": "SMS"},
    ],
    ids=[
        "padded",
        "no email",
        "not ASCII",
        "blank",
        "NUL",
        "a number",
        "missing",
        "trustDevice",
        "otpMethod",
    ],
)
def test_a_login_body_the_serializer_must_judge_is_answered_by_drf(body: dict) -> None:
    with DrfCalls() as drf_calls:
        response = _login(body)

    assert drf_calls.count == 1
    assert response.status_code in (400, 403)
