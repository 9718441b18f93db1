"""Sessions through the API: listed, ended one by one or all but the current, and refused at once once ended."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth import sessions as session_services
from accounts.auth.revocation import tokens_revoke_all
from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.core.client import Client
from accounts.flows import support
from accounts.flows.passwords import password_change
from accounts.models import SecurityEvent, User, UserSession
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

FIREFOX_ON_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
SAFARI_ON_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def api_login(user: User, user_agent: str = FIREFOX_ON_WINDOWS, **headers: str) -> dict[str, str]:
    response = APIClient(HTTP_USER_AGENT=user_agent).post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json", **headers
    )
    assert response.status_code == 200, response.content
    return response.json()


def bearer(tokens: dict[str, str]) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['idToken']}")
    return client


def me_status(tokens: dict[str, str]) -> int:
    return bearer(tokens).get("/auth/me").status_code


def refresh(tokens: dict[str, str]) -> Any:
    return APIClient().post("/auth/login/refresh", {"refreshToken": tokens["refreshToken"]}, format="json")


def session_of(tokens: dict[str, str]) -> UserSession:
    from accounts.auth.tokens import IdToken

    return UserSession.objects.get(pk=IdToken(tokens["idToken"])["sid"])


# --- starting a session --------------------------------------------------------------------------


def test_a_login_starts_a_session_whose_id_both_tokens_carry(user: User) -> None:
    from accounts.auth.tokens import IdToken, RefreshToken

    tokens = api_login(user, SAFARI_ON_IPHONE, REMOTE_ADDR="203.0.113.7")

    session = UserSession.objects.get(user=user)
    assert IdToken(tokens["idToken"])["sid"] == str(session.pk)
    assert RefreshToken(tokens["refreshToken"])["sid"] == str(session.pk)
    assert (session.kind, session.device, session.ip) == ("api", "Safari on iPhone", "203.0.113.7")
    assert session.user_agent == SAFARI_ON_IPHONE
    assert session.amr == ["pwd"]
    assert session.ended_at is None
    assert timedelta(days=29) < session.expires_at - timezone.now() <= timedelta(days=30)


def test_the_session_of_a_second_factor_login_has_its_amr(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, authenticator = totp_user
    tokens = api_login(user, HTTP_X_OTP=authenticator.now())
    assert session_of(tokens).amr == ["pwd", "otp"]


def test_refresh_stamps_the_session_and_keeps_its_sid(user: User) -> None:
    from accounts.auth.tokens import IdToken

    tokens = api_login(user)
    session = session_of(tokens)
    UserSession.objects.filter(pk=session.pk).update(last_used_at=timezone.now() - timedelta(hours=1))

    response = refresh(tokens)

    assert response.status_code == 200
    assert IdToken(response.json()["idToken"])["sid"] == str(session.pk)
    session.refresh_from_db()
    assert timezone.now() - session.last_used_at < timedelta(seconds=10)


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: only its refresh statement (a writable CTE) stamps conditionally; SQLite's always does",
)
def test_refresh_stamps_the_session_at_most_once_a_touch_interval(user: User, settings) -> None:
    """A refresh within SESSION_TOUCH_SECONDS of the last stamp writes nothing (no WAL flush);
    the session stays live and listed either way."""
    tokens = api_login(user)
    session = session_of(tokens)
    recent = timezone.now() - timedelta(seconds=settings.SESSION_TOUCH_SECONDS // 2)
    UserSession.objects.filter(pk=session.pk).update(last_used_at=recent)

    assert refresh(tokens).status_code == 200
    session.refresh_from_db()
    assert session.last_used_at == recent

    stale = timezone.now() - timedelta(seconds=settings.SESSION_TOUCH_SECONDS + 1)
    UserSession.objects.filter(pk=session.pk).update(last_used_at=stale)
    assert refresh(tokens).status_code == 200
    session.refresh_from_db()
    assert session.last_used_at > stale + timedelta(seconds=1)


def test_refresh_with_rotation_keeps_the_session(user: User, settings: Any) -> None:
    from accounts.auth.tokens import RefreshToken

    settings.JWT_ROTATE_REFRESH_TOKENS = True
    tokens = api_login(user)
    rotated = refresh(tokens).json()
    assert RefreshToken(rotated["refreshToken"])["sid"] == str(session_of(tokens).pk)
    assert refresh(rotated).status_code == 200


# --- GET /auth/sessions ------------------------------------------------------------------------


def test_sessions_are_listed_newest_first_with_the_current_marked(user: User) -> None:
    older = api_login(user, FIREFOX_ON_WINDOWS)
    newer = api_login(user, SAFARI_ON_IPHONE)
    UserSession.objects.filter(pk=session_of(older).pk).update(created_at=timezone.now() - timedelta(hours=2))

    response = bearer(older).get("/auth/sessions")

    assert response.status_code == 200
    listed = response.json()["sessions"]
    assert [row["id"] for row in listed] == [str(session_of(newer).pk), str(session_of(older).pk)]
    assert [row["current"] for row in listed] == [False, True]
    assert [row["device"] for row in listed] == ["Safari on iPhone", "Firefox on Windows"]
    assert set(listed[0]) == {
        "id",
        "kind",
        "createdAt",
        "lastUsedAt",
        "ip",
        "device",
        "userAgent",
        "amr",
        "current",
    }
    assert listed[0]["kind"] == "api" and listed[0]["userAgent"] == SAFARI_ON_IPHONE
    assert listed[0]["amr"] == ["pwd"]
    assert listed[0]["createdAt"].endswith("Z") or "+" in listed[0]["createdAt"]


def test_ended_expired_and_other_users_sessions_are_not_listed(user: User) -> None:
    mine = api_login(user)
    ended = api_login(user)
    expired = api_login(user)
    api_login(UserFactory())
    UserSession.objects.filter(pk=session_of(ended).pk).update(ended_at=timezone.now())
    UserSession.objects.filter(pk=session_of(expired).pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    listed = bearer(mine).get("/auth/sessions").json()["sessions"]

    assert [row["id"] for row in listed] == [str(session_of(mine).pk)]


def test_sessions_need_a_bearer_token() -> None:
    assert APIClient().get("/auth/sessions").status_code == 401
    assert APIClient().delete("/auth/sessions").status_code == 401
    assert APIClient().delete(f"/auth/sessions/{uuid.uuid4()}").status_code == 401


# --- DELETE /auth/sessions/{id} -----------------------------------------------------------------


def test_ending_a_session_refuses_its_tokens_at_once_and_leaves_the_others_working(user: User) -> None:
    mine, other = api_login(user), api_login(user)

    response = bearer(mine).delete(f"/auth/sessions/{session_of(other).pk}")

    assert response.status_code == 204
    assert me_status(other) == 401, "its idToken is refused at once"
    refused = refresh(other)
    assert (refused.status_code, refused.json()["code"]) == (403, "token_not_valid")
    assert me_status(mine) == 200
    assert refresh(mine).status_code == 200
    event = SecurityEvent.objects.get(user=user, type=SecurityEvent.Type.SESSION_ENDED)
    assert event.details["session"] == str(session_of(other).pk)


def test_a_session_can_end_itself(user: User) -> None:
    mine = api_login(user)
    assert bearer(mine).delete(f"/auth/sessions/{session_of(mine).pk}").status_code == 204
    assert me_status(mine) == 401


@pytest.mark.parametrize("which", ["another user's", "unknown", "not an id", "already ended"])
def test_ending_a_session_not_of_the_caller_is_not_found(user: User, which: str) -> None:
    mine = api_login(user)
    stranger = api_login(UserFactory())
    ended = api_login(user)
    UserSession.objects.filter(pk=session_of(ended).pk).update(ended_at=timezone.now())
    target = {
        "another user's": str(session_of(stranger).pk),
        "unknown": str(uuid.uuid4()),
        "not an id": "nonsense",
        "already ended": str(session_of(ended).pk),
    }[which]

    response = bearer(mine).delete(f"/auth/sessions/{target}")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert me_status(stranger) == 200, "another user's session is untouched"


# --- DELETE /auth/sessions ------------------------------------------------------------------------


def test_ending_every_other_session_keeps_the_current_one(user: User) -> None:
    mine, first, second = api_login(user), api_login(user), api_login(user)
    stranger = api_login(UserFactory())

    assert bearer(mine).delete("/auth/sessions").status_code == 204

    assert me_status(mine) == 200 and refresh(mine).status_code == 200
    assert [me_status(first), me_status(second)] == [401, 401]
    assert [refresh(first).status_code, refresh(second).status_code] == [403, 403]
    assert me_status(stranger) == 200
    assert [row["id"] for row in bearer(mine).get("/auth/sessions").json()["sessions"]] == [
        str(session_of(mine).pk)
    ]


# --- logout, logout-all and the events that end every session ---------------------------------


def test_logout_ends_the_callers_session_only(user: User) -> None:
    mine, other = api_login(user), api_login(user)

    response = bearer(mine).post("/auth/logout", {"refreshToken": mine["refreshToken"]}, format="json")

    assert response.status_code == 204
    assert session_of(mine).ended_at is not None
    assert me_status(mine) == 401
    assert me_status(other) == 200


def test_logout_all_ends_every_session(user: User) -> None:
    mine, other = api_login(user), api_login(user)
    assert bearer(mine).post("/auth/logout/all").status_code == 204
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert bearer(api_login(user)).get("/auth/sessions").json()["sessions"][0]["current"] is True
    assert me_status(other) == 401


def _block(user: User, authenticator: pyotp.TOTP) -> None:
    support.account_block(user=user, staff_member=None, reason="ticket 1")


def _mfa_reset(user: User, authenticator: pyotp.TOTP) -> None:
    # Scheduled, then taken into effect at once (what its due time would do).
    support.mfa_reset_schedule(user=user, staff_member=None, reason="ticket 2")
    support.mfa_reset_now(user=user, staff_member=None, reason="ticket 2")


def _password_change(user: User, authenticator: pyotp.TOTP) -> None:
    password_change(
        user=user,
        current_password=DEFAULT_PASSWORD,
        new_password="a brand new passphrase here",
        otp=authenticator.now(),
        client=Client(),
    )


def _password_reset(user: User, authenticator: pyotp.TOTP) -> None:
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    from accounts.flows.passwords import password_reset_confirm

    password_reset_confirm(
        uid=urlsafe_base64_encode(force_bytes(user.pk)),
        token=default_token_generator.make_token(user),
        new_password="a brand new passphrase here",
        client=Client(),
    )


def _logout_all(user: User, authenticator: pyotp.TOTP) -> None:
    tokens_revoke_all(user=user, client=Client())


@pytest.mark.parametrize("event", [_block, _mfa_reset, _password_change, _password_reset, _logout_all])
def test_every_session_ends_on(event: Any, totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, authenticator = totp_user
    tokens = tokens_for_login(user, amr=AMR_PASSWORD)
    tokens_for_login(user, amr=AMR_PASSWORD)

    event(user, authenticator)

    assert UserSession.objects.filter(user=user).count() == 2
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert session_services.sessions_live_of(user=user).count() == 0
    assert me_status({"idToken": tokens.id_token}) == 401


def test_a_token_without_a_session_is_refused(user: User) -> None:
    """Tokens issued before sessions existed (no `sid`) are refused: the user logs in once more."""
    from accounts.auth.tokens import IdToken, RefreshToken

    tokens = tokens_for_login(user, amr=AMR_PASSWORD)
    id_token, refresh_token = IdToken(tokens.id_token), RefreshToken(tokens.refresh_token)
    del id_token["sid"]
    del refresh_token["sid"]
    assert me_status({"idToken": str(id_token)}) == 401
    assert refresh({"refreshToken": str(refresh_token)}).status_code == 403


# --- sessions_purge --------------------------------------------------------------------------------


def test_sessions_purge_deletes_expired_and_ended_rows_only(user: User) -> None:
    live = tokens_for_login(user, amr=AMR_PASSWORD)
    ended = tokens_for_login(user, amr=AMR_PASSWORD)
    expired = tokens_for_login(user, amr=AMR_PASSWORD)
    UserSession.objects.filter(pk=session_of({"idToken": ended.id_token}).pk).update(ended_at=timezone.now())
    UserSession.objects.filter(pk=session_of({"idToken": expired.id_token}).pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    call_command("sessions_purge", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("sessions_purge", stdout=open("/dev/null", "w"))  # noqa: SIM115 - idempotent

    assert list(UserSession.objects.values_list("pk", flat=True)) == [
        session_of({"idToken": live.id_token}).pk
    ]
    assert me_status({"idToken": live.id_token}) == 200


def test_sessions_purge_can_keep_recently_ended_rows(user: User) -> None:
    ended = session_services.session_start(
        user=user,
        kind=UserSession.Kind.API,
        amr=["pwd"],
        client=Client(),
        expires_at=timezone.now() + timedelta(days=1),
    )
    UserSession.objects.filter(pk=ended.pk).update(ended_at=timezone.now() - timedelta(days=1))
    assert session_services.sessions_purge(keep_ended_for=timedelta(days=7)) == 0
    assert session_services.sessions_purge() == 1
