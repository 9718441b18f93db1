"""Trusted devices through the API: `trustDevice` at a second factor, `x-device-token` later, and every way one stops counting."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from accounts.auth.revocation import tokens_revoke_all
from accounts.auth.tokens import IdToken
from accounts.auth.trusted_devices import trusted_device_create
from accounts.core.client import Client
from accounts.flows import support
from accounts.flows.passwords import password_change, password_reset_confirm
from accounts.models import SecurityEvent, TrustedDevice, User
from otp import services as otp_services
from otp.models import SmsDevice
from tests.conftest import authenticate
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

FIREFOX_ON_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
NEW_PASSWORD = "a brand new passphrase here"


def login(user: User, password: str = DEFAULT_PASSWORD, body: dict | None = None, **headers: str) -> Any:
    return APIClient(HTTP_USER_AGENT=FIREFOX_ON_WINDOWS).post(
        "/auth/login", {"email": user.email, "password": password, **(body or {})}, format="json", **headers
    )


def trusted_token(user: User, authenticator: pyotp.TOTP) -> str:
    response = login(user, body={"trustDevice": True}, HTTP_X_OTP=authenticator.now())
    assert response.status_code == 200, response.content
    return response.json()["deviceToken"]


def asks_for_the_second_factor(response: Any) -> bool:
    return response.status_code == 403 and response.json()["code"] == "otp_required"


# --- trusting a device -----------------------------------------------------------------------------


def test_trust_device_with_a_second_factor_returns_a_device_token_stored_hashed(
    totp_user: tuple[User, pyotp.TOTP],
) -> None:
    user, authenticator = totp_user
    response = login(user, body={"trustDevice": True}, HTTP_X_OTP=authenticator.now())

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"idToken", "refreshToken", "deviceToken"}
    device = TrustedDevice.objects.get(user=user)
    assert body["deviceToken"] not in device.token_hash
    assert len(device.token_hash) == 64
    assert device.device == "Firefox on Windows"
    assert timedelta(days=29) < device.expires_at - timezone.now() <= timedelta(days=30)
    assert SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.TRUSTED_DEVICE_ADDED).exists()


def test_the_lifetime_is_a_setting(totp_user: tuple[User, pyotp.TOTP], settings: Any) -> None:
    settings.TRUSTED_DEVICE_DAYS = 7
    user, authenticator = totp_user
    trusted_token(user, authenticator)
    device = TrustedDevice.objects.get(user=user)
    assert timedelta(days=6) < device.expires_at - timezone.now() <= timedelta(days=7)


def test_no_device_token_without_trust_device_or_without_a_second_factor(
    totp_user: tuple[User, pyotp.TOTP],
) -> None:
    user, authenticator = totp_user
    assert "deviceToken" not in login(user, HTTP_X_OTP=authenticator.now()).json()
    plain = UserFactory()
    response = login(plain, body={"trustDevice": True})
    assert response.status_code == 200 and "deviceToken" not in response.json()
    assert not TrustedDevice.objects.exists()


# --- using it --------------------------------------------------------------------------------------------


def test_a_device_token_skips_the_second_factor_and_is_recorded(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, authenticator = totp_user
    token = trusted_token(user, authenticator)

    response = login(user, HTTP_X_DEVICE_TOKEN=token)

    assert response.status_code == 200
    assert IdToken(response.json()["idToken"])["amr"] == ["pwd", "trusted_device"]
    assert "deviceToken" not in response.json()
    used = SecurityEvent.objects.get(user=user, type=SecurityEvent.Type.TRUSTED_DEVICE_USED)
    assert used.details == {"device": "Firefox on Windows"}
    assert TrustedDevice.objects.get(user=user).last_used_at is not None


def test_a_device_token_does_not_replace_the_password(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, authenticator = totp_user
    token = trusted_token(user, authenticator)
    response = login(user, password="wrong password", HTTP_X_DEVICE_TOKEN=token)
    assert (response.status_code, response.json()["code"]) == (403, "authentication_failed")


def test_a_device_token_does_not_let_a_blocked_account_in(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, authenticator = totp_user
    token = trusted_token(user, authenticator)
    user.status = User.Status.BLOCKED
    user.save(update_fields=["status"])
    assert login(user, HTTP_X_DEVICE_TOKEN=token).json()["code"] == "account_blocked"


def _password_change(user: User, authenticator: pyotp.TOTP) -> None:
    password_change(
        user=user,
        current_password=DEFAULT_PASSWORD,
        new_password=NEW_PASSWORD,
        otp=_next_code(authenticator),
        client=Client(),
    )
    user.set_password(DEFAULT_PASSWORD)  # log in with the old password again, to test the device alone
    user.save(update_fields=["password"])


def _password_reset(user: User, authenticator: pyotp.TOTP) -> None:
    user.refresh_from_db()  # the reset token is made from the last login
    password_reset_confirm(
        uid=urlsafe_base64_encode(force_bytes(user.pk)),
        token=default_token_generator.make_token(user),
        new_password=NEW_PASSWORD,
        client=Client(),
    )
    user.refresh_from_db()
    user.set_password(DEFAULT_PASSWORD)
    user.save(update_fields=["password"])


def _factor_removal(user: User, authenticator: pyotp.TOTP) -> None:
    """The phone goes; TOTP stays, so the login still needs a second factor."""
    SmsDevice.objects.create(user=user, name="Phone", number="+34612345678", confirmed=True)
    User.objects.filter(pk=user.pk).update(phone_verified_at=timezone.now())
    user.refresh_from_db()
    otp_services.sms_device_delete(user=user, otp=_next_code(authenticator), client=Client())


def _next_code(authenticator: pyotp.TOTP) -> str:
    """A TOTP code of the next step: the current one was spent by the step-up before."""
    return authenticator.at(timezone.now() + timedelta(seconds=30))


def _mfa_reset(user: User, authenticator: pyotp.TOTP) -> None:
    # Scheduled, then taken into effect at once (what its due time would do).
    support.mfa_reset_schedule(user=user, staff_member=None, reason="lost phone, ticket 7")
    support.mfa_reset_now(user=user, staff_member=None, reason="lost phone, ticket 7")
    # a new factor, so that a login would ask for a second factor again
    user.refresh_from_db()
    enrolment = otp_services.totp_device_create(user=user, otp=None, client=Client())
    otp_services.channel_confirm(
        user=user, channel=otp_services.Channel.TOTP, code=pyotp.TOTP(enrolment.secret).now(), client=Client()
    )


def _logout_all(user: User, authenticator: pyotp.TOTP) -> None:
    tokens_revoke_all(user=user, client=Client())


def _expiry(user: User, authenticator: pyotp.TOTP) -> None:
    TrustedDevice.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))


def _removal(user: User, authenticator: pyotp.TOTP) -> None:
    (device,) = TrustedDevice.objects.filter(user=user)
    response = authenticate(APIClient(), user).delete(f"/auth/trusted-devices/{device.pk}")
    assert response.status_code == 204


@pytest.mark.parametrize(
    "invalidate",
    [_password_change, _password_reset, _factor_removal, _mfa_reset, _logout_all, _expiry, _removal],
)
def test_a_device_token_stops_counting_after(invalidate: Any, totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, authenticator = totp_user
    token = trusted_token(user, authenticator)
    assert login(user, HTTP_X_DEVICE_TOKEN=token).status_code == 200, "the control: it works before"

    invalidate(user, authenticator)
    user.refresh_from_db()

    assert user.has_second_factor
    assert asks_for_the_second_factor(login(user, HTTP_X_DEVICE_TOKEN=token))


@pytest.mark.parametrize("token", ["", "x", "not-a-token" * 3, "a" * 43, "é" * 10, "a" * 5000])
def test_a_malformed_device_token_is_ignored(totp_user: tuple[User, pyotp.TOTP], token: str) -> None:
    user, authenticator = totp_user
    trusted_token(user, authenticator)
    assert asks_for_the_second_factor(login(user, HTTP_X_DEVICE_TOKEN=token))


def test_another_users_device_token_is_ignored(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, _ = totp_user
    someone = UserFactory()
    foreign = trusted_device_create(user=someone, client=Client()).token
    assert asks_for_the_second_factor(login(user, HTTP_X_DEVICE_TOKEN=foreign))


# --- GET and DELETE /auth/trusted-devices -----------------------------------------------------------


def test_trusted_devices_are_listed_with_the_current_one_marked(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, _ = totp_user
    first = trusted_device_create(user=user, client=Client(user_agent=FIREFOX_ON_WINDOWS))
    second = trusted_device_create(user=user, client=Client())
    TrustedDevice.objects.filter(pk=first.device.pk).update(created_at=timezone.now() - timedelta(days=1))
    trusted_device_create(user=UserFactory(), client=Client())
    client = authenticate(APIClient(), user)

    listed = client.get("/auth/trusted-devices", HTTP_X_DEVICE_TOKEN=first.token).json()["devices"]

    assert [row["id"] for row in listed] == [str(second.device.pk), str(first.device.pk)]
    assert [row["current"] for row in listed] == [False, True]
    assert set(listed[1]) == {"id", "device", "createdAt", "expiresAt", "current"}, (
        "lastUsedAt absent, not null"
    )
    assert listed[1]["device"] == "Firefox on Windows"


def test_revoked_and_expired_devices_are_not_listed(user: User) -> None:
    revoked = trusted_device_create(user=user, client=Client()).device
    expired = trusted_device_create(user=user, client=Client()).device
    TrustedDevice.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    TrustedDevice.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    assert authenticate(APIClient(), user).get("/auth/trusted-devices").json() == {"devices": []}


@pytest.mark.parametrize("which", ["another user's", "unknown", "not an id", "already removed"])
def test_removing_a_device_not_of_the_caller_is_not_found(user: User, which: str) -> None:
    strangers = trusted_device_create(user=UserFactory(), client=Client()).device
    removed = trusted_device_create(user=user, client=Client()).device
    TrustedDevice.objects.filter(pk=removed.pk).update(revoked_at=timezone.now())
    target = {
        "another user's": str(strangers.pk),
        "unknown": str(uuid.uuid4()),
        "not an id": "nonsense",
        "already removed": str(removed.pk),
    }[which]

    response = authenticate(APIClient(), user).delete(f"/auth/trusted-devices/{target}")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    strangers.refresh_from_db()
    assert strangers.revoked_at is None


def test_removing_a_device_is_recorded(user: User) -> None:
    device = trusted_device_create(user=user, client=Client(user_agent=FIREFOX_ON_WINDOWS)).device
    assert authenticate(APIClient(), user).delete(f"/auth/trusted-devices/{device.pk}").status_code == 204
    event = SecurityEvent.objects.get(user=user, type=SecurityEvent.Type.TRUSTED_DEVICE_REMOVED)
    assert event.details == {"device": "Firefox on Windows"}


def test_trusted_devices_need_a_bearer_token() -> None:
    assert APIClient().get("/auth/trusted-devices").status_code == 401
    assert APIClient().delete(f"/auth/trusted-devices/{uuid.uuid4()}").status_code == 401
