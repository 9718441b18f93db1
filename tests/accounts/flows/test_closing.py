"""Closing an account: everything ends at once, the email becomes an unknown one, support reopens, the purge erases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.hashers import get_hasher
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client as PageClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.core.client import Client
from accounts.core.errors import ServiceError
from accounts.flows import closing, support
from accounts.flows.login import _timing_dummy_hash
from accounts.models import SecurityEvent, TrustedDevice, User, UserSession
from otp.models import SmsDevice
from tests.conftest import authenticate
from tests.factories import DEFAULT_PASSWORD, UserFactory, user_with_every_factor

pytestmark = pytest.mark.django_db


def _close(client: APIClient, password: str = DEFAULT_PASSWORD, **headers: str):
    return client.post("/auth/me/close", {"password": password}, format="json", **headers)


def _closed_user(days_ago: float = 0) -> User:
    user = UserFactory()
    closing.account_close(user=user, password=DEFAULT_PASSWORD, otp=None, client=Client())
    User.objects.filter(pk=user.pk).update(closed_at=timezone.now() - timedelta(days=days_ago))
    return User.objects.get(pk=user.pk)


def test_closing_ends_every_session_and_token_at_once_and_tells_the_user(
    api_client: APIClient, user: User, committed
) -> None:
    tokens = tokens_for_login(user, amr=AMR_PASSWORD)
    client = authenticate(APIClient(), user)

    with committed():
        response = _close(client)

    assert response.status_code == 204
    assert client.get("/auth/me").status_code == 401
    refresh = api_client.post("/auth/login/refresh", {"refreshToken": tokens.refresh_token}, format="json")
    assert refresh.status_code == 403
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert [message.to for message in mail.outbox] == [[user.email]]
    assert "closed" in mail.outbox[0].subject
    assert SecurityEvent.objects.filter(user=user, type="ACCOUNT_CLOSED").exists()


def test_closing_needs_the_password_and_step_up(api_client: APIClient, totp_user) -> None:
    user, totp = totp_user
    client = authenticate(api_client, user)

    wrong = _close(client, password="not it", HTTP_X_OTP=totp.now())
    no_code = _close(client)

    assert wrong.status_code == 403 and wrong.json()["code"] == "authentication_failed"
    assert no_code.status_code == 403 and no_code.json()["code"] == "otp_invalid"
    user.refresh_from_db()
    assert user.closed_at is None


def test_closing_cancels_a_pending_email_change(auth_client: APIClient, user: User) -> None:
    auth_client.post(
        "/auth/me/email", {"newEmail": "next@example.org", "password": DEFAULT_PASSWORD}, format="json"
    )

    _close(auth_client)

    user.refresh_from_db()
    assert user.pending_email == ""


def test_a_closed_account_logs_in_as_an_unknown_email_does(login, monkeypatch) -> None:
    user = _closed_user()
    hasher = get_hasher()
    verified: list[str] = []
    original_verify = type(hasher).verify
    monkeypatch.setattr(
        type(hasher),
        "verify",
        lambda self, password, encoded: verified.append(encoded) or original_verify(self, password, encoded),
    )
    login("warm-up@example.com")

    answers, hashes, queries = [], [], []
    for email in (user.email, "nobody@example.com"):
        verified.clear()
        with CaptureQueriesContext(connection) as captured:
            answers.append(login(email))
        hashes.append(list(verified))
        queries.append(len(captured.captured_queries))

    closed, unknown = answers
    assert closed.status_code == unknown.status_code == 403
    assert closed.json() == unknown.json()
    assert closed.json()["code"] == "authentication_failed"
    # The same work, so the same time: one check against the same dummy hash, as many queries.
    assert hashes[0] == hashes[1] == [_timing_dummy_hash()]
    assert queries[0] == queries[1]


def test_a_closed_account_gets_no_password_reset_link(api_client: APIClient) -> None:
    user = _closed_user()
    mail.outbox.clear()

    response = api_client.post("/auth/password/reset", {"email": user.email}, format="json")

    assert response.status_code == 202
    assert mail.outbox == []


def test_sign_up_with_a_closed_accounts_email_answers_as_for_a_taken_one(api_client: APIClient) -> None:
    user = _closed_user()

    closed = api_client.post(
        "/auth/register", {"email": user.email, "password": "a brand new passphrase"}, format="json"
    )
    taken = api_client.post(
        "/auth/register", {"email": UserFactory().email, "password": "a brand new passphrase"}, format="json"
    )

    assert closed.status_code == taken.status_code == 202
    assert closed.json() == taken.json()
    assert User.objects.filter(email=user.email).count() == 1


def test_support_reopens_within_the_retention_period(login, committed) -> None:
    user = _closed_user(days_ago=29)
    staff = UserFactory(is_staff=True, is_superuser=True)

    with committed():
        support.account_reopen(user=user, staff_member=staff, reason="asked by phone, identity checked")

    assert login(user.email).status_code == 200
    event = SecurityEvent.objects.get(user=user, type="ACCOUNT_REOPENED")
    assert event.staff_member == staff and event.details["reason"] == "asked by phone, identity checked"
    assert any("open again" in message.subject for message in mail.outbox)


def test_support_cannot_reopen_after_the_retention_period_or_an_open_account() -> None:
    staff = UserFactory(is_staff=True, is_superuser=True)

    with pytest.raises(ServiceError, match="too long ago"):
        support.account_reopen(user=_closed_user(days_ago=31), staff_member=staff, reason="late")
    with pytest.raises(ServiceError, match="not closed"):
        support.account_reopen(user=UserFactory(), staff_member=staff, reason="open")


def test_the_purge_deletes_accounts_past_retention_and_keeps_their_events_anonymous(login) -> None:
    old, recovery_codes = user_with_every_factor()
    TrustedDevice.objects.create(user=old, token_hash="x" * 64, expires_at=timezone.now() + timedelta(days=1))
    closing.account_close(
        user=old,
        password=DEFAULT_PASSWORD,
        otp=recovery_codes[0],
        client=Client(ip="203.0.113.9", user_agent="UA"),
    )
    User.objects.filter(pk=old.pk).update(closed_at=timezone.now() - timedelta(days=31))
    recent = _closed_user(days_ago=1)
    event_ids = list(SecurityEvent.objects.filter(user=old).values_list("pk", flat=True))

    call_command("accounts_purge_closed", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert not User.objects.filter(pk=old.pk).exists()
    assert User.objects.filter(pk=recent.pk).exists()
    assert not SmsDevice.objects.filter(user_id=old.pk).exists()
    assert not TrustedDevice.objects.filter(user_id=old.pk).exists()
    assert not UserSession.objects.filter(user_id=old.pk).exists()
    events = SecurityEvent.objects.filter(pk__in=event_ids)
    assert events.count() == len(event_ids) > 0
    assert set(events.values_list("user_id", "ip_address", "user_agent")) == {(None, None, "")}
    assert closing.accounts_purge_closed() == 0  # idempotent
    # The email is free again.
    response = APIClient().post(
        "/auth/register", {"email": old.email, "password": "a brand new passphrase"}, format="json"
    )
    assert response.status_code == 202
    assert User.objects.get(email=old.email).pk != old.pk


def test_the_pages_close_the_account_after_a_confirmation(user: User) -> None:
    page = PageClient()
    page.force_login(user)
    security = page.get("/account/").content.decode()
    shown = page.get("/account/close/")

    unconfirmed = page.post("/account/close/", {"password": DEFAULT_PASSWORD})
    closed = page.post("/account/close/", {"password": DEFAULT_PASSWORD, "confirm": "on"})

    assert 'href="/account/close/"' in security
    assert shown.status_code == 200
    assert unconfirmed.status_code == 200  # the confirmation box is required
    assert closed.status_code == 302 and closed["Location"] == "/account/login/"
    user.refresh_from_db()
    assert user.closed_at is not None
    assert page.get("/account/").status_code == 302  # logged out
