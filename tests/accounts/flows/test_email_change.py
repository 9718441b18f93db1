"""Changing the email: every refusal of the contract, no enumeration, the confirmation and what it revokes."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
import time_machine
from django.core import mail
from django.test import Client as PageClient
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.models import SecurityEvent, User
from otp.models import CodePurpose, EmailCodeDevice
from tests.conftest import authenticate
from tests.factories import DEFAULT_PASSWORD, UserFactory

NEW_EMAIL = "new.address@example.org"

pytestmark = pytest.mark.django_db


def _request(client: APIClient, new_email: str = NEW_EMAIL, password: str = DEFAULT_PASSWORD, **headers: str):
    return client.post(
        "/auth/me/email", {"newEmail": new_email, "password": password}, format="json", **headers
    )


def _confirm(client: APIClient, code: str):
    return client.post("/auth/me/email/confirm", {"code": code}, format="json")


def _code_sent_to(address: str) -> str:
    [message] = [message for message in mail.outbox if message.to == [address]]
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def test_a_request_sends_a_code_to_the_new_address_and_shows_the_change_pending(
    auth_client: APIClient, user: User
) -> None:
    response = _request(auth_client)

    assert response.status_code == 202
    assert set(response.json()) == {"validUntil"}
    assert _code_sent_to(NEW_EMAIL)
    profile = auth_client.get("/auth/me").json()
    assert profile["pendingEmail"] == "n***@e***.org"
    device = EmailCodeDevice.objects.get(user=user)
    assert device.purpose == CodePurpose.EMAIL_CHANGE
    assert not re.fullmatch(r"\d{6}", device.token)  # an HMAC, not the code
    assert SecurityEvent.objects.filter(user=user, type="EMAIL_CHANGE_REQUESTED").exists()


def test_the_profile_has_no_pending_email_when_none_is_pending(auth_client: APIClient) -> None:
    assert "pendingEmail" not in auth_client.get("/auth/me").json()


def test_a_wrong_password_is_refused(auth_client: APIClient) -> None:
    response = _request(auth_client, password="not the password")

    assert response.status_code == 403
    assert response.json()["code"] == "authentication_failed"
    assert mail.outbox == []


def test_the_same_address_is_refused(auth_client: APIClient, user: User) -> None:
    response = _request(auth_client, new_email=user.email.upper())

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "newEmail" in response.json()["errors"]


def test_step_up_is_needed_when_a_factor_is_verified(api_client: APIClient, totp_user) -> None:
    user, totp = totp_user
    client = authenticate(api_client, user)

    missing = _request(client)
    done = _request(client, HTTP_X_OTP=totp.now())

    assert missing.status_code == 403 and missing.json()["code"] == "otp_invalid"
    assert done.status_code == 202


def test_a_taken_address_gets_the_same_answer_and_its_owner_a_notice_not_a_code(
    auth_client: APIClient, user: User
) -> None:
    owner = UserFactory(email=NEW_EMAIL)
    fresh = authenticate(APIClient(), UserFactory())

    taken = _request(auth_client)
    free = _request(fresh, new_email="free@example.org")

    assert taken.status_code == free.status_code == 202
    assert set(taken.json()) == set(free.json())
    [notice] = [message for message in mail.outbox if message.to == [owner.email]]
    assert "already has an account" in notice.body
    assert not re.search(r"\b\d{6}\b", notice.body)
    assert auth_client.get("/auth/me").json()["pendingEmail"] == "n***@e***.org"
    # Never confirmable: no code was sent.
    assert _confirm(auth_client, "123456").json()["code"] == "otp_invalid"


def test_a_second_request_inside_the_cool_down_is_throttled_either_way(auth_client: APIClient) -> None:
    UserFactory(email=NEW_EMAIL)
    _request(auth_client)

    again = _request(auth_client, new_email="other@example.org")

    assert again.status_code == 429
    assert again.json()["code"] == "otp_attempts_exhausted"


def test_confirming_changes_the_email_revokes_every_token_and_tells_the_old_address(
    api_client: APIClient, user: User, login, committed
) -> None:
    old_email = user.email
    tokens = tokens_for_login(user, amr=AMR_PASSWORD)
    client = authenticate(APIClient(), user)
    _request(client)
    code = _code_sent_to(NEW_EMAIL)
    mail.outbox.clear()

    with committed():
        response = _confirm(client, code)

    assert response.status_code == 200
    profile = response.json()
    assert profile["email"] == "n***@e***.org"
    assert profile["hasValidatedEmail"] is True
    assert "pendingEmail" not in profile
    user.refresh_from_db()
    assert user.email == NEW_EMAIL
    assert client.get("/auth/me").status_code == 401
    refresh = api_client.post("/auth/login/refresh", {"refreshToken": tokens.refresh_token}, format="json")
    assert refresh.status_code == 403
    [notice] = [message for message in mail.outbox if message.to == [old_email]]
    assert "n***@e***.org" in notice.body
    event = SecurityEvent.objects.get(user=user, type="EMAIL_CHANGED")
    assert event.details == {"from": "u***@e***.com", "to": "n***@e***.org"}
    assert login(old_email).status_code == 403
    assert login(NEW_EMAIL).status_code == 200


def test_a_wrong_code_is_refused_and_counted(auth_client: APIClient, user: User) -> None:
    _request(auth_client)

    response = _confirm(auth_client, "000000" if _code_sent_to(NEW_EMAIL) != "000000" else "111111")

    assert response.status_code == 403
    assert response.json()["code"] == "otp_invalid"
    user.refresh_from_db()
    assert user.otp_failure_count == 1
    assert user.email != NEW_EMAIL


def test_confirming_with_nothing_pending_or_expired_is_token_not_valid(auth_client: APIClient) -> None:
    nothing = _confirm(auth_client, "123456")
    _request(auth_client)
    code = _code_sent_to(NEW_EMAIL)
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        expired = _confirm(auth_client, code)
        profile = auth_client.get("/auth/me").json()

    assert nothing.status_code == expired.status_code == 400
    assert nothing.json()["code"] == expired.json()["code"] == "token_not_valid"
    assert "pendingEmail" not in profile


def test_an_address_taken_meanwhile_is_email_taken_and_drops_the_change(
    auth_client: APIClient, user: User
) -> None:
    _request(auth_client)
    code = _code_sent_to(NEW_EMAIL)
    UserFactory(email=NEW_EMAIL)

    response = _confirm(auth_client, code)

    assert response.status_code == 400
    assert response.json()["code"] == "email_taken"
    user.refresh_from_db()
    assert user.email != NEW_EMAIL and user.pending_email == ""
    assert _confirm(auth_client, code).json()["code"] == "token_not_valid"


def test_a_code_works_once(auth_client: APIClient, user: User) -> None:
    _request(auth_client)
    code = _code_sent_to(NEW_EMAIL)
    assert _confirm(auth_client, code).status_code == 200

    again = _confirm(authenticate(APIClient(), User.objects.get(pk=user.pk)), code)

    assert again.status_code == 400


def test_cancelling_drops_the_change_and_its_code(auth_client: APIClient, user: User) -> None:
    _request(auth_client)
    code = _code_sent_to(NEW_EMAIL)

    cancelled = auth_client.delete("/auth/me/email")
    again = auth_client.delete("/auth/me/email")

    assert cancelled.status_code == 204
    assert again.status_code == 404 and again.json()["code"] == "not_found"
    assert "pendingEmail" not in auth_client.get("/auth/me").json()
    assert _confirm(auth_client, code).json()["code"] == "token_not_valid"
    assert SecurityEvent.objects.filter(user=user, type="EMAIL_CHANGE_CANCELLED").count() == 1


def test_the_pages_change_the_email_and_keep_the_session(user: User) -> None:
    page = PageClient()
    page.force_login(user)

    asked = page.post("/account/email/", {"new_email": NEW_EMAIL, "password": DEFAULT_PASSWORD})
    shown = page.get("/account/email/confirm/")
    confirmed = page.post("/account/email/confirm/", {"code": _code_sent_to(NEW_EMAIL)}, follow=True)

    assert asked.status_code == 302 and asked["Location"] == "/account/email/confirm/"
    assert "n***@e***.org" in shown.content.decode()
    assert confirmed.status_code == 200
    assert NEW_EMAIL in confirmed.content.decode()  # still logged in, on the security page
    user.refresh_from_db()
    assert user.email == NEW_EMAIL


def test_the_security_page_offers_the_change(user: User) -> None:
    page = PageClient()
    page.force_login(user)

    assert 'href="/account/email/"' in page.get("/account/").content.decode()


def test_the_pages_show_a_wrong_password(user: User) -> None:
    page = PageClient()
    page.force_login(user)

    response = page.post("/account/email/", {"new_email": NEW_EMAIL, "password": "wrong password"})

    assert response.status_code == 403
    assert "The password is not correct." in response.content.decode()


def test_step_up_on_the_pages_for_a_totp_user(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, totp = totp_user
    page = PageClient()
    page.force_login(user)
    session = page.session
    # A session that passed the second factor, as after a login with a code.
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user).persistent_id
    session.save()

    without = page.post("/account/email/", {"new_email": NEW_EMAIL, "password": DEFAULT_PASSWORD})
    with_code = page.post(
        "/account/email/", {"new_email": NEW_EMAIL, "password": DEFAULT_PASSWORD, "otp": totp.now()}
    )

    assert without.status_code == 200  # the form asks for the code
    assert with_code.status_code == 302
