"""Security notifications: each trigger sends exactly its email, in text and HTML, with no secret."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable

import pyotp
import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings
from rest_framework.test import APIClient

from accounts.auth.new_devices import new_device_remember
from accounts.core import notifications
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.flows import login as login_flows
from accounts.flows import passwords as passwords_flows
from accounts.models import User
from otp import services as otp_services
from tests.conftest import Committed, last_sms_code
from tests.factories import DEFAULT_PASSWORD, UserFactory, user_with_every_factor

CLIENT = Client(ip="192.0.2.10", user_agent="pytest-agent/1.0")
NEW_PASSWORD = "a brand new passphrase 42"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_delays(settings: Settings) -> None:
    settings.OTP_FAILURES_BEFORE_DELAY = 1000


def the_only_email(to: User, subject: str) -> EmailMultiAlternatives:
    """The one email sent, to `to`, with `subject` in its subject and both a text and an HTML part."""
    assert [message.to for message in mail.outbox] == [[to.email]], [m.subject for m in mail.outbox]
    message = mail.outbox[0]
    assert subject in message.subject
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html" and "<p>" in html
    return message


def text_of(message: EmailMultiAlternatives) -> str:
    return message.subject + message.body + message.alternatives[0][0]


def test_a_verified_authenticator_app_is_told(user: User, committed: Committed) -> None:
    enrolment = otp_services.totp_device_create(user=user, otp=None, client=CLIENT)
    assert mail.outbox == []  # not a factor until confirmed

    with committed():
        otp_services.channel_confirm(
            user=user,
            channel=otp_services.Channel.TOTP,
            code=pyotp.TOTP(enrolment.secret).now(),
            client=CLIENT,
        )

    message = the_only_email(user, "a second factor was added")
    assert "authenticator app" in message.body
    assert enrolment.secret not in text_of(message)


def test_a_verified_phone_is_told_with_the_number_obfuscated(user: User, committed: Committed) -> None:
    otp_services.sms_device_add(user=user, phone="612345678", country="ES", otp=None, client=CLIENT)
    code = last_sms_code()

    with committed():
        otp_services.channel_confirm(user=user, channel=otp_services.Channel.SMS, code=code, client=CLIENT)

    message = the_only_email(user, "a second factor was added")
    assert "+34*******78" in message.body and "+34*******78" in message.alternatives[0][0]
    assert "612345678" not in text_of(message)
    assert code not in text_of(message)


def test_removing_the_authenticator_app_is_told(
    totp_user: tuple[User, pyotp.TOTP], committed: Committed
) -> None:
    user, totp = totp_user

    with committed():
        otp_services.totp_device_delete(user=user, otp=totp.now(), client=CLIENT)

    message = the_only_email(user, "a second factor was removed")
    assert "authenticator app" in message.body


def test_removing_the_phone_is_told(committed: Committed) -> None:
    user, codes = user_with_every_factor()

    with committed():
        otp_services.sms_device_delete(user=user, otp=codes[0], client=CLIENT)

    # The recovery code used for the step-up is told too.
    subjects = [message.subject for message in mail.outbox]
    assert any("recovery code was used" in subject for subject in subjects)
    (removed,) = [message for message in mail.outbox if "removed" in message.subject]
    assert "The phone was removed" in removed.body


def test_new_recovery_codes_are_told_without_the_codes(
    totp_user: tuple[User, pyotp.TOTP], committed: Committed
) -> None:
    user, totp = totp_user

    with committed():
        codes = otp_services.recovery_codes_generate(user=user, otp=totp.now(), client=CLIENT)

    message = the_only_email(user, "new recovery codes")
    assert not any(code in text_of(message) or code.replace("-", "") in text_of(message) for code in codes)


def test_a_used_recovery_code_is_told_with_the_codes_left(committed: Committed) -> None:
    user, codes = user_with_every_factor()
    new_device_remember(user=user, client=CLIENT)  # signed up here: no new-device alert

    with committed():
        login_flows.login(
            email=user.email, password=DEFAULT_PASSWORD, otp=codes[3], otp_method=None, client=CLIENT
        )

    message = the_only_email(user, "a recovery code was used")
    assert "9 left" in message.body
    assert codes[3] not in text_of(message)


def test_a_password_change_is_told(user: User, committed: Committed) -> None:
    with committed():
        passwords_flows.password_change(
            user=user, current_password=DEFAULT_PASSWORD, new_password=NEW_PASSWORD, otp=None, client=CLIENT
        )

    message = the_only_email(user, "your password was changed")
    assert NEW_PASSWORD not in text_of(message)


def test_a_password_reset_is_told(user: User, committed: Committed) -> None:
    uid, token = urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)

    with committed():
        passwords_flows.password_reset_confirm(uid=uid, token=token, new_password=NEW_PASSWORD, client=CLIENT)

    message = the_only_email(user, "your password was reset")
    assert token not in text_of(message) and NEW_PASSWORD not in text_of(message)


def failed_login(user: User) -> None:
    with pytest.raises(ServiceError) as refused:
        login_flows.login(
            email=user.email, password=DEFAULT_PASSWORD, otp="wrong", otp_method=None, client=CLIENT
        )
    assert refused.value.code == ErrorCode.OTP_INVALID


def test_a_lock_is_told(totp_user: tuple[User, pyotp.TOTP], settings: Settings, committed: Committed) -> None:
    settings.OTP_FAILURES_BEFORE_LOCK = 3
    settings.OTP_FAILURES_BEFORE_NOTIFY = 100
    user, _ = totp_user

    with committed():
        for _ in range(3):
            failed_login(user)

    message = the_only_email(user, "your account is locked")
    assert "/account/password/reset/" in message.body


def test_second_factor_failures_after_the_right_password_are_told_once_per_streak(
    totp_user: tuple[User, pyotp.TOTP], settings: Settings, committed
) -> None:
    settings.OTP_FAILURES_BEFORE_NOTIFY = 3
    settings.PUBLIC_BASE_URL = "https://auth.example.com"
    user, totp = totp_user

    with committed():
        failed_login(user)
        failed_login(user)
    assert mail.outbox == []

    with committed():
        failed_login(user)
    message = the_only_email(user, "someone may know your password")
    assert "3 times" in message.body
    assert "https://auth.example.com/account/password/" in message.body
    assert 'href="https://auth.example.com/account/password/"' in message.alternatives[0][0]

    with committed():
        failed_login(user)
        failed_login(user)
    assert len(mail.outbox) == 1

    # A success ends the streak; a new streak is told again.
    login_flows.login(
        email=user.email, password=DEFAULT_PASSWORD, otp=totp.now(), otp_method=None, client=CLIENT
    )
    with committed():
        for _ in range(3):
            failed_login(user)
    assert [message.subject for message in mail.outbox].count(message.subject) == 2


def test_step_up_failures_are_not_told_as_a_known_password(
    totp_user: tuple[User, pyotp.TOTP], settings: Settings, committed
) -> None:
    settings.OTP_FAILURES_BEFORE_NOTIFY = 2
    user, _ = totp_user

    with committed():
        for _ in range(3):
            with pytest.raises(ServiceError):
                otp_services.totp_device_delete(user=user, otp="wrong", client=CLIENT)

    assert mail.outbox == []


def test_a_rolled_back_change_tells_nobody(user: User, committed: Committed) -> None:
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        notifications.password_changed_notify(user=user)
        raise RuntimeError

    assert mail.outbox == []


def test_nothing_leaves_before_the_change_commits(
    user: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        passwords_flows.password_change(
            user=user, current_password=DEFAULT_PASSWORD, new_password=NEW_PASSWORD, otp=None, client=CLIENT
        )

    assert mail.outbox == [] and len(callbacks) == 1


class BrokenEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: list[EmailMultiAlternatives]) -> int:
        raise smtplib.SMTPServerDisconnected("connection lost")


def test_a_failed_send_is_logged_and_the_committed_change_still_succeeds(
    user: User, settings: Settings, committed: Committed, caplog: pytest.LogCaptureFixture
) -> None:
    settings.EMAIL_BACKEND = "tests.accounts.core.test_notifications.BrokenEmailBackend"
    new_device_remember(user=user, client=Client(ip="127.0.0.1"))  # signed up here: no new-device alert
    client = APIClient()
    tokens = client.post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    ).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['idToken']}")

    with caplog.at_level(logging.INFO), committed():
        response = client.post(
            "/auth/password/change",
            {"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD},
            format="json",
        )

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    failures = [record for record in caplog.records if record.name == "accounts.core.tasks"]
    assert len(failures) == 1 and failures[0].levelno == logging.ERROR
    assert "password_changed" in failures[0].getMessage()
    assert NEW_PASSWORD not in caplog.text and DEFAULT_PASSWORD not in caplog.text


@pytest.mark.parametrize(
    ("notify", "subject"),
    [
        (notifications.mfa_reset_notify, "your second factors were reset by support"),
        (notifications.account_blocked_notify, "your account is blocked"),
        (notifications.account_unblocked_notify, "your account was unblocked"),
        (notifications.account_unlocked_notify, "your account was unlocked"),
        (notifications.tokens_revoked_notify, "you were signed out everywhere"),
    ],
)
def test_the_support_notifications_render_in_text_and_html(
    notify: Callable[..., None], subject: str, committed: Committed
) -> None:
    user = UserFactory()

    with committed():
        notify(user=user)

    message = the_only_email(user, subject)
    assert "support" in message.body.lower()


def test_a_notification_leaves_once_the_transaction_commits(user: User, committed: Committed) -> None:
    with committed():
        notifications.factor_removed_notify(user=user, factor="TOTP")
        assert mail.outbox == [], "nothing leaves before the commit"

    assert [message.to for message in mail.outbox] == [[user.email]]
