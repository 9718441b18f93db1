"""Helpers of the otp service tests: a verified phone, recovery codes, a refusal, the failure count."""

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
from otp.services import RECOVERY_ALPHABET, RECOVERY_DEVICE_NAME

CLIENT = Client(ip="203.0.113.7", user_agent="pytest")
NUMBER = "+34612345678"
START = datetime(2030, 1, 1, 10, 0, 15, tzinfo=UTC)


def phone_verified(user: User, number: str = NUMBER) -> SmsDevice:
    device = SmsDevice.objects.create(user=user, name="Phone", number=number, confirmed=True)
    User.objects.filter(pk=user.pk).update(phone_verified_at=timezone.now())
    user.refresh_from_db()
    return device


def recovery_codes_give(user: User, count: int = 10) -> list[str]:
    """Recovery codes stored the way the service stores them, without a step-up."""
    codes = ["".join(random.choice(RECOVERY_ALPHABET) for _ in range(10)) for _ in range(count)]
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=services.recovery_code_digest(code)) for code in codes
    )
    return codes


def refused_with(expected: ErrorCode, call, /, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(**kwargs)
    assert caught.value.code == expected
    return caught.value


def failures_of(user: User) -> int:
    user.refresh_from_db()
    return user.otp_failure_count
