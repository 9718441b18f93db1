"""Second-factor reads: the methods a user can prove themselves with."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.models import User
from otp import services
from otp.models import SmsDevice
from otp.services import RECOVERY_ALPHABET, RECOVERY_DEVICE_NAME, Method
from tests.factories import UserFactory

CLIENT = Client(ip="203.0.113.7", user_agent="pytest")
NUMBER = "+34612345678"
START = datetime(2030, 1, 1, 10, 0, 15, tzinfo=UTC)


def _phone_verified(user: User, number: str = NUMBER) -> SmsDevice:
    device = SmsDevice.objects.create(user=user, name="Phone", number=number, confirmed=True)
    User.objects.filter(pk=user.pk).update(phone_verified_at=timezone.now())
    user.refresh_from_db()
    return device


def _recovery_codes_give(user: User, count: int = 10) -> list[str]:
    """Recovery codes stored the way the service stores them, without a step-up."""
    codes = ["".join(random.choice(RECOVERY_ALPHABET) for _ in range(10)) for _ in range(count)]
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=services.recovery_code_digest(code)) for code in codes
    )
    return codes


def _raises(expected: ErrorCode, call, /, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(**kwargs)
    assert caught.value.code == expected
    return caught.value


def _failures(user: User) -> int:
    user.refresh_from_db()
    return user.otp_failure_count


# --- methods ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_methods_are_listed_totp_then_sms_then_recovery_codes(totp_user) -> None:
    user, _ = totp_user
    assert services.second_factor_methods(user) == [Method.TOTP]

    _phone_verified(user)
    assert services.second_factor_methods(user) == [Method.TOTP, Method.SMS]

    _recovery_codes_give(user)
    assert services.second_factor_methods(user) == [Method.TOTP, Method.SMS, Method.RECOVERY_CODE]


@pytest.mark.django_db
def test_recovery_codes_are_no_method_without_a_verified_factor() -> None:
    user = UserFactory()
    _recovery_codes_give(user)

    assert services.second_factor_methods(user) == []


@pytest.mark.django_db
def test_phone_only_lists_sms_and_recovery_codes() -> None:
    user = UserFactory()
    _phone_verified(user)
    _recovery_codes_give(user)

    assert services.second_factor_methods(user) == [Method.SMS, Method.RECOVERY_CODE]
    assert services.recovery_codes_remaining(user) == 10
