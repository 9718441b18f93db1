"""Second-factor reads: the methods a user can prove themselves with."""

from __future__ import annotations

import pytest

from otp import services
from otp.services import Method
from tests.factories import UserFactory
from tests.otp.factors import (
    phone_verified,
    recovery_codes_give,
)

# --- methods ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_methods_are_listed_totp_then_sms_then_recovery_codes(totp_user) -> None:
    user, _ = totp_user
    assert services.second_factor_methods(user) == [Method.TOTP]

    phone_verified(user)
    assert services.second_factor_methods(user) == [Method.TOTP, Method.SMS]

    recovery_codes_give(user)
    assert services.second_factor_methods(user) == [Method.TOTP, Method.SMS, Method.RECOVERY_CODE]


@pytest.mark.django_db
def test_recovery_codes_are_no_method_without_a_verified_factor() -> None:
    user = UserFactory()
    recovery_codes_give(user)

    assert services.second_factor_methods(user) == []


@pytest.mark.django_db
def test_phone_only_lists_sms_and_recovery_codes() -> None:
    user = UserFactory()
    phone_verified(user)
    recovery_codes_give(user)

    assert services.second_factor_methods(user) == [Method.SMS, Method.RECOVERY_CODE]
    assert services.recovery_codes_remaining(user) == 10
