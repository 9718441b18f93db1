"""`manage.py seed_users`: many users, one shared password, a share with a verified phone."""

from __future__ import annotations

from io import StringIO

import phonenumbers
import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from otp.models import SmsDevice

PASSWORD = "one password for every seeded user"


def _seed(*arguments: str) -> str:
    output = StringIO()
    call_command("seed_users", *arguments, stdout=output)
    return output.getvalue()


@pytest.mark.django_db
def test_seed_users_creates_active_verified_users_sharing_one_password() -> None:
    output = _seed("--count", "7", "--batch-size", "3", "--password", PASSWORD, "--phone-share", "0")
    users = list(User.objects.order_by("date_joined"))
    assert len(users) == 7
    assert "Created 7 users (0 with a verified phone)" in output
    assert len({user.email for user in users}) == 7
    assert all(user.email.endswith("@seed.example") for user in users)
    assert {user.status for user in users} == {User.Status.ACTIVE}
    assert all(user.email_verified and not user.has_second_factor for user in users)
    assert len({user.password for user in users}) == 1
    assert users[0].check_password(PASSWORD)
    assert not users[0].check_password("another password")


@pytest.mark.django_db
def test_seed_users_gives_a_share_of_them_a_verified_phone() -> None:
    output = _seed("--count", "20", "--batch-size", "6", "--phone-share", "0.25")
    with_phone = User.objects.filter(phone_verified_at__isnull=False)
    devices = list(SmsDevice.objects.select_related("user"))
    assert with_phone.count() == 5
    assert "(5 with a verified phone)" in output
    assert {device.user for device in devices} == set(with_phone)
    assert all(device.confirmed for device in devices)
    assert len({device.number for device in devices}) == 5
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(device.number)) for device in devices)


@pytest.mark.django_db
def test_seed_users_without_a_password_makes_accounts_nobody_can_log_in_to() -> None:
    _seed("--count", "2")
    assert not any(user.has_usable_password() for user in User.objects.all())


@pytest.mark.django_db
def test_seed_users_twice_adds_new_users_beside_the_first_ones() -> None:
    _seed("--count", "3", "--phone-share", "1")
    _seed("--count", "3", "--phone-share", "1")
    assert User.objects.count() == 6
    assert SmsDevice.objects.count() == 6


@pytest.mark.django_db
@pytest.mark.parametrize(
    "arguments",
    [("--count", "0"), ("--count", "5", "--batch-size", "0"), ("--count", "5", "--phone-share", "1.5")],
)
def test_seed_users_refuses_nonsense_arguments(arguments: tuple[str, ...]) -> None:
    with pytest.raises(CommandError):
        _seed(*arguments)
    assert not User.objects.exists()
