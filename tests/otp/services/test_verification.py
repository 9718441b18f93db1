"""Code checks: per-account throttling and lock, step-up with each factor, pending factors dropped, locks lifted."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django import Settings

from accounts.core.client import Client
from accounts.core.errors import ErrorCode
from accounts.models import SecurityEvent, User
from otp import services
from otp.models import CodePurpose, SmsDevice
from otp.services import Channel
from tests.conftest import last_sms_code
from tests.factories import UserFactory
from tests.otp.factors import (
    CLIENT,
    NUMBER,
    START,
    failures_of,
    phone_verified,
    recovery_codes_give,
    refused_with,
)

# --- per-account throttling and lock ------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 0), (1, 0), (2, 0), (3, 1), (4, 2), (5, 4), (6, 8), (12, 512), (13, 900), (99, 900)],
)
def test_delay_starts_at_the_third_failure_doubles_and_is_capped(failures: int, delay: float) -> None:
    user = User(otp_failure_count=failures, otp_last_failure_at=START)

    assert services.otp_delay_remaining(user, START) == delay
    assert services.otp_delay_remaining(user, START + timedelta(seconds=delay)) == 0


def test_delay_defaults_are_two_free_failures_and_fifteen_minutes() -> None:
    assert django_settings.OTP_FAILURES_BEFORE_DELAY == 2
    assert django_settings.OTP_DELAY_MAX_SECONDS == 15 * 60
    assert django_settings.OTP_FAILURES_BEFORE_LOCK == 100
    assert django_settings.ACCOUNT_LOCK_SECONDS == 60 * 60


@pytest.mark.django_db
def test_step_up_is_not_needed_without_a_verified_factor() -> None:
    user = UserFactory()
    TOTPDevice.objects.create(user=user, name="pending", confirmed=False)

    services.step_up_verify(user=user, otp=None, client=CLIENT)
    services.step_up_verify(user=user, otp="garbage", client=CLIENT)

    assert failures_of(user) == 0


@pytest.mark.django_db
def test_missing_step_up_code_is_refused_and_counted(totp_user) -> None:
    user, _ = totp_user

    refused_with(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=None, client=CLIENT)

    assert failures_of(user) == 1
    event = SecurityEvent.objects.get(user=user, type=SecurityEvent.Type.SECOND_FACTOR_FAILED)
    assert event.details == {"context": "step-up", "consecutiveFailures": 1}
    assert event.ip_address == CLIENT.ip


@pytest.mark.django_db
def test_failures_are_counted_across_all_factors(totp_user) -> None:
    user, authenticator = totp_user
    phone_verified(user)
    recovery_codes_give(user)
    with time_machine.travel(START, tick=False):
        wrong = f"{(int(authenticator.now()) + 1) % 1_000_000:06d}"
        refused_with(
            ErrorCode.OTP_INVALID, services.login_second_factor_verify, user=user, code=wrong, client=CLIENT
        )
        refused_with(
            ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp="zzzzz-zzzzz", client=CLIENT
        )

        assert failures_of(user) == 2
        services.step_up_verify(user=user, otp=authenticator.now(), client=CLIENT)

    assert failures_of(user) == 0


@pytest.mark.django_db
def test_a_correct_code_during_a_delay_is_refused_and_not_counted(totp_user) -> None:
    user, authenticator = totp_user
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(3):
            refused_with(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=None, client=CLIENT)

        error = refused_with(
            ErrorCode.OTP_THROTTLED,
            services.step_up_verify,
            user=user,
            otp=authenticator.now(),
            client=CLIENT,
        )
        assert error.retry_after == 1
        assert failures_of(user) == 3

        traveller.shift(1)
        services.step_up_verify(user=user, otp=authenticator.now(), client=CLIENT)

    assert failures_of(user) == 0


@pytest.mark.django_db
def test_one_hundred_consecutive_failures_lock_the_account(totp_user) -> None:
    user, authenticator = totp_user
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(99):
            refused_with(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=None, client=CLIENT)
            traveller.shift(15 * 60)
        user.refresh_from_db()
        assert (user.status, user.otp_failure_count) == (User.Status.ACTIVE, 99)

        refused_with(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=None, client=CLIENT)

        user.refresh_from_db()
        assert user.status == User.Status.LOCKED
        assert user.locked_until == timezone.now() + timedelta(hours=1)
        assert SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.ACCOUNT_LOCKED).count() == 1
        traveller.shift(15 * 60)
        error = refused_with(
            ErrorCode.ACCOUNT_LOCKED,
            services.step_up_verify,
            user=user,
            otp=authenticator.now(),
            client=CLIENT,
        )
        assert error.retry_after == 45 * 60


@pytest.mark.django_db
def test_lock_threshold_is_a_setting(settings: Settings, totp_user) -> None:
    settings.OTP_FAILURES_BEFORE_LOCK = 2
    user, _ = totp_user

    for _ in range(2):
        refused_with(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=None, client=CLIENT)

    user.refresh_from_db()
    assert user.status == User.Status.LOCKED


@pytest.mark.django_db
def test_lock_lifts_by_itself_after_the_lock_time(settings: Settings, totp_user) -> None:
    settings.OTP_FAILURES_BEFORE_LOCK = 1
    settings.ACCOUNT_LOCK_SECONDS = 600
    user, authenticator = totp_user
    with time_machine.travel(START, tick=False) as traveller:
        refused_with(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=None, client=CLIENT)
        traveller.shift(599)
        refused_with(
            ErrorCode.ACCOUNT_LOCKED,
            services.step_up_verify,
            user=user,
            otp=authenticator.now(),
            client=CLIENT,
        )
        traveller.shift(1)

        user.refresh_from_db()
        assert user.effective_status() == User.Status.ACTIVE
        services.step_up_verify(user=user, otp=authenticator.now(), client=CLIENT)

    assert failures_of(user) == 0


# --- step-up with each factor ----------------------------------------------------------------


@pytest.mark.django_db
def test_step_up_accepts_the_step_up_sms_code_once() -> None:
    user = UserFactory()
    phone_verified(user)
    sent = services.verification_code_send(user=user, channel=Channel.SMS)
    assert sent.validated is True
    code = last_sms_code()

    services.step_up_verify(user=user, otp=code, client=CLIENT)

    refused_with(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=code, client=CLIENT)


@pytest.mark.django_db
def test_login_sms_code_is_not_a_step_up_code_and_back() -> None:
    user = UserFactory()
    phone_verified(user)
    with time_machine.travel(START, tick=False) as traveller:
        services.login_sms_code_send(user=user)
        login_code = last_sms_code()
        refused_with(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=login_code, client=CLIENT)
        traveller.shift(61)
        services.verification_code_send(user=user, channel=Channel.SMS)
        step_up_code = last_sms_code()

        refused_with(
            ErrorCode.OTP_INVALID,
            services.login_second_factor_verify,
            user=user,
            code=step_up_code,
            client=CLIENT,
        )
        services.step_up_verify(user=user, otp=step_up_code, client=CLIENT)


@pytest.mark.django_db
def test_phone_verification_code_is_not_a_login_code(totp_user) -> None:
    user, _ = totp_user
    device = SmsDevice.objects.create(user=user, name="Phone", number=NUMBER, confirmed=False)
    verify_code = device.code_generate(purpose=CodePurpose.VERIFY)
    # Even once the phone is verified, a code sent to verify it does not log in.
    SmsDevice.objects.filter(pk=device.pk).update(confirmed=True)
    User.objects.filter(pk=user.pk).update(phone_verified_at=timezone.now())
    user.refresh_from_db()

    refused_with(
        ErrorCode.OTP_INVALID, services.login_second_factor_verify, user=user, code=verify_code, client=CLIENT
    )


# --- a factor planted before MFA was on -------------------------------------------------------


def test_verifying_a_factor_drops_a_factor_left_pending_before_mfa_was_on(committed, db: None) -> None:
    """A stolen idToken plants a TOTP secret while the account has no factor; the owner then
    verifies a phone. The planted secret must not be confirmable later without step-up."""
    user = UserFactory()
    planted = services.totp_device_create(user=user, otp=None, client=Client())
    services.sms_device_add(user=user, phone=NUMBER, country="ES", otp=None, client=Client())
    with committed():
        services.channel_confirm(user=user, channel=Channel.SMS, code=last_sms_code(), client=Client())

    assert not TOTPDevice.objects.filter(user=user).exists()
    dropped = SecurityEvent.objects.get(user=user, type=SecurityEvent.Type.FACTOR_REMOVED)
    assert dropped.details == {"factor": "TOTP", "pending": True, "because": "SMS was verified"}
    assert dropped.actor == SecurityEvent.Actor.SYSTEM

    refused_with(
        ErrorCode.CHANNEL_NOT_CONFIGURED,
        services.channel_confirm,
        user=user,
        channel=Channel.TOTP,
        code=pyotp.TOTP(planted.secret).now(),
        client=Client(),
    )


def test_verifying_totp_drops_a_pending_phone(db: None) -> None:
    user = UserFactory()
    services.sms_device_add(user=user, phone=NUMBER, country="ES", otp=None, client=Client())
    enrolment = services.totp_device_create(user=user, otp=None, client=Client())

    services.channel_confirm(
        user=user, channel=Channel.TOTP, code=pyotp.TOTP(enrolment.secret).now(), client=Client()
    )

    assert not SmsDevice.objects.filter(user=user).exists()
    assert TOTPDevice.objects.get(user=user).confirmed


def test_a_verified_factor_is_never_dropped_by_another(totp_user) -> None:
    user, totp = totp_user
    services.sms_device_add(user=user, phone=NUMBER, country="ES", otp=totp.now(), client=Client())
    services.channel_confirm(user=user, channel=Channel.SMS, code=last_sms_code(), client=Client())
    assert TOTPDevice.objects.get(user=user).confirmed
    assert not SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.FACTOR_REMOVED).exists()


# --- lifting a lock -----------------------------------------------------------------------------


def test_lock_lift_starts_a_fresh_budget() -> None:
    user = User(
        status=User.Status.LOCKED,
        locked_until=timezone.now(),
        otp_failure_count=100,
        otp_last_failure_at=timezone.now(),
        otp_failures_notified=True,
    )
    fields = user.lock_lift()
    assert (user.status, user.locked_until) == (User.Status.ACTIVE, None)
    assert (user.otp_failure_count, user.otp_last_failure_at, user.otp_failures_notified) == (0, None, False)
    assert set(fields) == {
        "status",
        "locked_until",
        "otp_failure_count",
        "otp_last_failure_at",
        "otp_failures_notified",
    }


def test_a_lock_that_has_not_expired_is_not_lifted() -> None:
    user = User(
        status=User.Status.LOCKED, locked_until=timezone.now() + timedelta(minutes=1), otp_failure_count=100
    )
    assert user.lock_lift_if_expired(timezone.now()) == []
    assert (user.status, user.otp_failure_count) == (User.Status.LOCKED, 100)
