"""Code delivery: SMS cool-downs and caps, the SMS body, email codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from pytest_django import Settings

from accounts.core.errors import ErrorCode, ServiceError
from accounts.models import SecurityEvent, User
from otp import services, sms_backends
from otp.models import EmailCodeDevice
from otp.services import Channel
from otp.services.delivery import _counters_spend
from tests.conftest import commit_callbacks_run, last_sms_code
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


@pytest.mark.django_db
def test_no_phone_means_no_sms_code() -> None:
    refused_with(
        ErrorCode.METHOD_NOT_ALLOWED, services.verification_code_send, user=UserFactory(), channel=Channel.SMS
    )
    refused_with(ErrorCode.METHOD_NOT_ALLOWED, services.login_sms_code_send, user=UserFactory())


@pytest.mark.django_db
def test_sms_resend_cooldown_is_per_user() -> None:
    user, other = UserFactory(), UserFactory()
    phone_verified(user)
    phone_verified(other, number="+34622334455")
    with time_machine.travel(START, tick=False) as traveller:
        services.verification_code_send(user=user, channel=Channel.SMS)

        error = refused_with(ErrorCode.OTP_ATTEMPTS_EXHAUSTED, services.login_sms_code_send, user=user)
        assert error.retry_after == 60
        services.verification_code_send(user=other, channel=Channel.SMS)
        traveller.shift(61)
        services.login_sms_code_send(user=user)

    assert len(sms_backends.outbox) == 3


def _send_every_minute(users: list[User], rounds: int, traveller) -> list[str]:
    """Send one SMS per user per round, a minute apart; the error codes met, in order."""
    outcomes = []
    for _ in range(rounds):
        for user in users:
            try:
                services.verification_code_send(user=user, channel=Channel.SMS)
                outcomes.append("sent")
            except ServiceError as error:
                outcomes.append(error.code)
        traveller.shift(61)
    return outcomes


@pytest.mark.django_db
def test_sms_per_user_daily_cap(settings: Settings) -> None:
    settings.SMS_MAX_PER_USER_PER_DAY = 3
    user = UserFactory()
    phone_verified(user)
    with time_machine.travel(START, tick=False) as traveller:
        outcomes = _send_every_minute([user], 5, traveller)
        error = refused_with(
            ErrorCode.OTP_ATTEMPTS_EXHAUSTED, services.verification_code_send, user=user, channel=Channel.SMS
        )

        assert outcomes == ["sent"] * 3 + [ErrorCode.OTP_ATTEMPTS_EXHAUSTED] * 2
        midnight = datetime(2030, 1, 2, tzinfo=UTC)
        assert error.retry_after == (midnight - timezone.now()).total_seconds()
        traveller.move_to(midnight + timedelta(seconds=1))
        services.verification_code_send(user=user, channel=Channel.SMS)

    assert len(sms_backends.outbox) == 4


@pytest.mark.django_db
def test_sms_per_number_daily_cap_spans_users(settings: Settings) -> None:
    settings.SMS_MAX_PER_NUMBER_PER_DAY = 2
    first, second = UserFactory(), UserFactory()
    phone_verified(first)
    phone_verified(second)
    with time_machine.travel(START, tick=False) as traveller:
        outcomes = _send_every_minute([first, second], 2, traveller)

    assert outcomes == ["sent", "sent", ErrorCode.OTP_ATTEMPTS_EXHAUSTED, ErrorCode.OTP_ATTEMPTS_EXHAUSTED]
    assert len(sms_backends.outbox) == 2


@pytest.mark.django_db
def test_sms_daily_cap_overall(settings: Settings) -> None:
    settings.SMS_MAX_PER_DAY = 2
    users = [UserFactory() for _ in range(3)]
    for index, user in enumerate(users):
        phone_verified(user, number=f"+3461234567{index}")
    with time_machine.travel(START, tick=False) as traveller:
        outcomes = _send_every_minute(users, 1, traveller)

    assert outcomes == ["sent", "sent", ErrorCode.OTP_ATTEMPTS_EXHAUSTED]
    assert len(sms_backends.outbox) == 2


@pytest.mark.django_db
def test_sms_body_carries_the_code_and_its_lifetime() -> None:
    user = UserFactory()
    phone_verified(user)

    sent = services.login_sms_code_send(user=user)

    message = sms_backends.outbox[-1]
    assert message.to == NUMBER
    assert last_sms_code() in message.body
    assert "10 minutes" in message.body
    assert sent.channel == Channel.SMS
    assert timedelta(minutes=9, seconds=59) < sent.valid_until - timezone.now() <= timedelta(minutes=10)


@pytest.mark.django_db
def test_codes_never_reach_the_audit_trail(totp_user) -> None:
    user, authenticator = totp_user
    phone_verified(user)
    codes = recovery_codes_give(user)
    services.login_sms_code_send(user=user)
    sms_code = last_sms_code()
    services.login_second_factor_verify(user=user, code=sms_code, client=CLIENT)
    services.login_second_factor_verify(user=user, code=codes[0], client=CLIENT)
    refused_with(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp="000000", client=CLIENT)

    recorded = str(list(SecurityEvent.objects.filter(user=user).values("details")))
    for secret in [sms_code, codes[0], "000000", authenticator.secret]:
        assert secret not in recorded


@pytest.mark.django_db
def test_confirm_checks_state_before_the_code(totp_user) -> None:
    user, authenticator = totp_user

    refused_with(
        ErrorCode.CHANNEL_ALREADY_VERIFIED,
        services.channel_confirm,
        user=user,
        channel=Channel.TOTP,
        code=authenticator.now(),
        client=CLIENT,
    )
    refused_with(
        ErrorCode.CHANNEL_NOT_CONFIGURED,
        services.channel_confirm,
        user=user,
        channel=Channel.SMS,
        code="123456",
        client=CLIENT,
    )
    refused_with(
        ErrorCode.CHANNEL_ALREADY_VERIFIED,
        services.channel_confirm,
        user=user,
        channel=Channel.EMAIL,
        code="123456",
        client=CLIENT,
    )

    assert failures_of(user) == 0
    services.login_second_factor_verify(user=user, code=authenticator.now(), client=CLIENT)


# --- email codes -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_email_code_creates_the_device_then_holds_the_cooldown() -> None:
    user = UserFactory(email_verified_at=None)
    with time_machine.travel(START, tick=False) as traveller:
        with commit_callbacks_run():
            sent = services.verification_code_send(user=user, channel=Channel.EMAIL)

        assert (sent.channel, sent.validated, sent.valid_until) == (
            Channel.EMAIL,
            False,
            START + timedelta(minutes=10),
        )
        error = refused_with(
            ErrorCode.OTP_ATTEMPTS_EXHAUSTED,
            services.verification_code_send,
            user=user,
            channel=Channel.EMAIL,
        )
        assert error.retry_after == 60
        traveller.shift(61)
        with commit_callbacks_run():
            services.verification_code_send(user=user, channel=Channel.EMAIL)

    assert len(mail.outbox) == 2
    assert EmailCodeDevice.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_email_code_for_a_verified_email_is_refused() -> None:
    refused_with(
        ErrorCode.CHANNEL_ALREADY_VERIFIED,
        services.verification_code_send,
        user=UserFactory(),
        channel=Channel.EMAIL,
    )

    assert mail.outbox == []


def test_a_message_over_one_cap_counts_against_none(settings: Settings) -> None:
    """The three caps are spent in one atomic step (one Redis round trip): over the number's cap,
    the user's and the day's counters are left as they were."""

    caps = [("cap-test:user", 5), ("cap-test:number", 1), ("cap-test:all", 5)]
    assert _counters_spend(caps) is None
    assert _counters_spend(caps) == "cap-test:number"

    assert [cache.get(key) for key, _ in caps] == [1, 1, 1]
