"""SMS and email code devices: codes stored hashed, single use, expiring, bound to a purpose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from pytest_django import Settings

from accounts.models import User
from otp.models import CODE_DIGITS, CodePurpose, EmailCodeDevice, SmsDevice, code_digest
from tests.factories import UserFactory

NUMBER = "+34612345678"
START = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


def _sms_device(user: User | None = None, *, confirmed: bool = False) -> SmsDevice:
    return SmsDevice.objects.create(
        user=user or UserFactory(), name="Phone", number=NUMBER, confirmed=confirmed
    )


def _stored_columns(device: SmsDevice) -> list[str]:
    """Every column of the device's row as the database holds it, as text."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {SmsDevice._meta.db_table} WHERE id = %s", [device.pk])  # noqa: S608
        return [str(value) for value in cursor.fetchone()]


@pytest.mark.django_db
def test_code_is_six_random_digits() -> None:
    device = _sms_device()

    codes = {device.code_generate(purpose=CodePurpose.VERIFY) for _ in range(20)}

    assert CODE_DIGITS == 6
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 1


@pytest.mark.django_db
def test_database_never_holds_the_clear_code() -> None:
    device = _sms_device()

    code = device.code_generate(purpose=CodePurpose.LOGIN)

    stored = _stored_columns(device)
    assert not any(code in value for value in stored)
    device.refresh_from_db()
    assert device.token == code_digest(code)
    assert len(device.token) == 64


def test_code_digest_is_keyed_by_the_secret_key(settings: Settings) -> None:
    digest = code_digest("123456")

    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789abcdefghij"

    assert code_digest("123456") != digest


@pytest.mark.django_db
def test_code_is_accepted_once() -> None:
    device = _sms_device()
    code = device.code_generate(purpose=CodePurpose.VERIFY)

    assert device.verify_token(code, CodePurpose.VERIFY) is True
    assert device.verify_token(code, CodePurpose.VERIFY) is False
    device.refresh_from_db()
    assert device.token is None
    assert device.purpose == ""


@pytest.mark.django_db
def test_wrong_code_leaves_the_pending_code_usable() -> None:
    device = _sms_device()
    code = device.code_generate(purpose=CodePurpose.VERIFY)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    assert device.verify_token(wrong, CodePurpose.VERIFY) is False
    assert device.verify_token(code, CodePurpose.VERIFY) is True


@pytest.mark.django_db
def test_a_new_code_replaces_the_pending_one() -> None:
    device = _sms_device()
    first = device.code_generate(purpose=CodePurpose.VERIFY)
    second = device.code_generate(purpose=CodePurpose.VERIFY)

    if first != second:
        assert device.verify_token(first, CodePurpose.VERIFY) is False
    assert device.verify_token(second, CodePurpose.VERIFY) is True


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sent_for", "checked_for"),
    [
        (CodePurpose.LOGIN, CodePurpose.STEP_UP),
        (CodePurpose.STEP_UP, CodePurpose.LOGIN),
        (CodePurpose.VERIFY, CodePurpose.LOGIN),
        (CodePurpose.VERIFY, CodePurpose.STEP_UP),
        (CodePurpose.LOGIN, CodePurpose.VERIFY),
        (CodePurpose.LOGIN, None),
    ],
)
def test_code_is_bound_to_its_purpose(sent_for: CodePurpose, checked_for: CodePurpose | None) -> None:
    device = _sms_device(confirmed=True)
    code = device.code_generate(purpose=sent_for)

    assert device.verify_token(code, checked_for) is False
    # The refused attempt did not consume the code: it still works for what it was sent for.
    assert device.verify_token(code, sent_for) is True


@pytest.mark.django_db
@pytest.mark.parametrize(("elapsed", "accepted"), [(599, True), (600, False), (601, False), (3600, False)])
def test_code_expires_after_ten_minutes(elapsed: int, accepted: bool) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        device = _sms_device()
        code = device.code_generate(purpose=CodePurpose.VERIFY)
        assert device.valid_until == START + timedelta(minutes=10)
        traveller.shift(elapsed)

        assert device.verify_token(code, CodePurpose.VERIFY) is accepted


@pytest.mark.django_db
def test_email_device_stores_its_code_hashed_and_single_use() -> None:
    user = UserFactory(email_verified_at=None)
    device = EmailCodeDevice.objects.create(user=user, name="Email", confirmed=False)

    code = device.code_generate(purpose=CodePurpose.VERIFY)

    assert EmailCodeDevice.objects.get(pk=device.pk).token == code_digest(code)
    assert device.verify_token(code, CodePurpose.VERIFY) is True
    assert device.verify_token(code, CodePurpose.VERIFY) is False


@pytest.mark.django_db
@pytest.mark.parametrize("model", [SmsDevice, EmailCodeDevice])
def test_resend_cooldown_follows_its_setting(settings: Settings, model: type) -> None:
    settings.SMS_RESEND_COOLDOWN_SECONDS = 60
    settings.EMAIL_RESEND_COOLDOWN_SECONDS = 30
    cooldown = 60 if model is SmsDevice else 30
    extra = {"number": NUMBER} if model is SmsDevice else {}
    with time_machine.travel(START, tick=False) as traveller:
        device = model.objects.create(user=UserFactory(), name="device", **extra)
        assert device.generate_is_allowed() == (True, None)
        device.code_generate(purpose=CodePurpose.VERIFY)

        allowed, info = device.generate_is_allowed()
        assert allowed is False
        assert info["next_generation_at"] == START + timedelta(seconds=cooldown)

        traveller.shift(cooldown + 1)
        assert device.generate_is_allowed()[0] is True
