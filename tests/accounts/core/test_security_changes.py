"""`lastSecurityChangeDate` and the idToken's `security_changed_at`: set by each listed change, by nothing else."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import jwt
import pyotp
import pytest
import time_machine
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from accounts.auth.revocation import tokens_revoke_all
from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.core.client import Client
from accounts.core.security_changes import security_change_record
from accounts.flows import passwords, support
from accounts.flows.anti_phishing import anti_phishing_code_remove, anti_phishing_code_set
from accounts.flows.freezing import FreezeMethod, account_freeze
from accounts.models import User
from otp import services as otp_services
from otp.services.mfa_reset_apply import mfa_reset_apply_if_due
from tests.conftest import authenticate, last_sms_code
from tests.factories import DEFAULT_PASSWORD, UserFactory, user_with_every_factor
from tests.otp.webauthn.authenticator import SoftwareAuthenticator
from tests.otp.webauthn.conftest import passkey_register

pytestmark = pytest.mark.django_db

CLIENT = Client(ip="203.0.113.10", user_agent="pytest-agent/1.0")
NEW_PASSWORD = "a brand new passphrase here"


def changed_at(user: User) -> datetime | None:
    return User.objects.values_list("security_changed_at", flat=True).get(pk=user.pk)


def claims(id_token: str) -> dict[str, Any]:
    return jwt.decode(id_token, options={"verify_signature": False})


# --- each listed change sets it ------------------------------------------------------------------------


def _password_change(user: User) -> None:
    passwords.password_change(
        user=user, current_password=DEFAULT_PASSWORD, new_password=NEW_PASSWORD, otp=None, client=CLIENT
    )


def _password_reset(user: User) -> None:
    passwords.password_reset_confirm(
        uid=urlsafe_base64_encode(force_bytes(user.pk)),
        token=default_token_generator.make_token(user),
        new_password=NEW_PASSWORD,
        client=CLIENT,
    )


def _totp_added(user: User) -> None:
    enrolment = otp_services.totp_device_create(user=user, otp=None, client=CLIENT)
    otp_services.channel_confirm(
        user=user, channel=otp_services.Channel.TOTP, code=pyotp.TOTP(enrolment.secret).now(), client=CLIENT
    )


def _phone_added(user: User) -> None:
    otp_services.sms_device_add(user=user, phone="612345678", country="ES", otp=None, client=CLIENT)
    otp_services.channel_confirm(
        user=user, channel=otp_services.Channel.SMS, code=last_sms_code(), client=CLIENT
    )


def _passkey_added(user: User) -> None:
    passkey_register(user, SoftwareAuthenticator())


def _with_every_factor(user: User) -> tuple[User, list[str]]:
    """`user` replaced by an account with every factor (the test reads the date of `user.pk`)."""
    every, recovery_codes = user_with_every_factor()
    User.objects.filter(pk=user.pk).delete()
    user.pk = every.pk
    return every, recovery_codes


def _factor_removed(user: User) -> None:
    every, recovery_codes = _with_every_factor(user)
    otp_services.totp_device_delete(user=every, otp=recovery_codes[0], client=CLIENT)


def _mfa_reset(user: User) -> None:
    every, _ = _with_every_factor(user)
    support.mfa_reset_schedule(user=every, staff_member=None, reason="lost phone")
    every.refresh_from_db()
    with time_machine.travel(every.mfa_reset_due_at + timedelta(seconds=1)):
        mfa_reset_apply_if_due(every)


def _unfrozen_by_support(user: User) -> None:
    account_freeze(user=user, how=FreezeMethod.API, client=CLIENT)
    support.account_unfreeze(user=user, staff_member=None, reason="identity checked")


def _anti_phishing_set(user: User) -> None:
    anti_phishing_code_set(user=user, code="Zebra42", otp=None, client=CLIENT)


def _anti_phishing_removed(user: User) -> None:
    User.objects.filter(pk=user.pk).update(anti_phishing_code="Zebra42")
    user.refresh_from_db()
    anti_phishing_code_remove(user=user, otp=None, client=CLIENT)


def _email_changed(user: User) -> None:
    client = authenticate(APIClient(), user)
    new_email = f"moved-{user.pk}@example.org"
    client.post("/auth/me/email", {"newEmail": new_email, "password": DEFAULT_PASSWORD}, format="json")
    [message] = [message for message in mail.outbox if message.to == [new_email]]
    code = re.search(r"\b(\d{6})\b", message.body).group(1)
    assert client.post("/auth/me/email/confirm", {"code": code}, format="json").status_code == 200


LISTED: dict[str, Callable[[User], None]] = {
    "password changed": _password_change,
    "password reset": _password_reset,
    "email changed": _email_changed,
    "authenticator app added": _totp_added,
    "phone added": _phone_added,
    "passkey added": _passkey_added,
    "factor removed": _factor_removed,
    "factors reset by support": _mfa_reset,
    "unfrozen": _unfrozen_by_support,
    "anti-phishing code set": _anti_phishing_set,
    "anti-phishing code removed": _anti_phishing_removed,
}


@pytest.mark.parametrize("change", list(LISTED))
def test_each_listed_change_sets_the_date(change: str) -> None:
    user = UserFactory()
    LISTED[change](user)

    stamped = changed_at(user)
    assert stamped is not None and abs(stamped - timezone.now()) < timedelta(days=4)


def test_the_reset_that_unfreezes_sets_it_too() -> None:
    user = UserFactory()
    account_freeze(user=user, how=FreezeMethod.LINK, client=CLIENT)

    _password_reset(user)

    assert changed_at(user) is not None


# --- and nothing else --------------------------------------------------------------------------------------


def test_logins_logouts_refreshes_freezes_and_codes_leave_it_alone(
    totp_user: tuple[User, pyotp.TOTP], api_client: APIClient
) -> None:
    user, authenticator = totp_user
    tokens = api_client.post(
        "/auth/login",
        {"email": user.email, "password": DEFAULT_PASSWORD},
        format="json",
        HTTP_X_OTP=authenticator.now(),
    ).json()
    api_client.post("/auth/login/refresh", {"refreshToken": tokens["refreshToken"]}, format="json")
    client = authenticate(APIClient(), user)
    client.patch("/auth/me", {"language": "es"}, format="json")
    client.get("/auth/otp/code", {"method": "EMAIL"})
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        otp_services.recovery_codes_generate(user=user, otp=authenticator.now(), client=CLIENT)
    tokens_revoke_all(user=user, client=CLIENT)
    account_freeze(user=user, how=FreezeMethod.API, client=CLIENT)
    support.account_block(user=user, staff_member=None, reason="test")

    assert changed_at(user) is None


def test_the_sign_up_is_no_security_change(api_client: APIClient) -> None:
    api_client.post(
        "/auth/register", {"email": "fresh@example.com", "password": DEFAULT_PASSWORD}, format="json"
    )

    assert changed_at(User.objects.get(email="fresh@example.com")) is None


def test_one_function_sets_it() -> None:
    user = UserFactory()
    at = timezone.now() - timedelta(minutes=5)

    assert security_change_record(user=user, at=at) == at
    assert user.security_changed_at == at == changed_at(user)


# --- where it shows --------------------------------------------------------------------------------------


def test_the_profile_shows_it_only_once_there_is_one(user: User) -> None:
    client = authenticate(APIClient(), user)
    assert "lastSecurityChangeDate" not in client.get("/auth/me").json()

    security_change_record(user=user)

    date = client.get("/auth/me").json()["lastSecurityChangeDate"]
    assert datetime.fromisoformat(date.replace("Z", "+00:00")) == changed_at(user)


def test_idtokens_carry_it_as_a_numericdate_from_login_and_refresh(user: User, api_client: APIClient) -> None:
    assert "security_changed_at" not in claims(tokens_for_login(user, amr=AMR_PASSWORD).id_token)
    security_change_record(user=user)
    stamp = int(changed_at(user).timestamp())

    tokens = api_client.post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    ).json()
    refreshed = api_client.post(
        "/auth/login/refresh", {"refreshToken": tokens["refreshToken"]}, format="json"
    ).json()

    assert claims(tokens["idToken"])["security_changed_at"] == stamp
    assert claims(refreshed["idToken"])["security_changed_at"] == stamp


def test_every_factor_user_has_none_until_a_change() -> None:
    user, _ = user_with_every_factor()

    assert changed_at(user) is None
