"""Enrolling and removing factors: recovery codes, phones."""

from __future__ import annotations

import pytest
import time_machine
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django import Settings

from accounts.core.errors import ErrorCode
from accounts.models import SecurityEvent, User
from otp import services, sms_backends
from otp.models import CodePurpose, SmsDevice
from otp.services import Channel, Method
from otp.sms_backends import SmsDeliveryError
from tests.conftest import last_sms_code
from tests.factories import UserFactory
from tests.otp.factors import (
    CLIENT,
    START,
    phone_verified,
    recovery_codes_give,
    refused_with,
)

# --- recovery codes ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_recovery_codes_need_a_verified_factor() -> None:
    user = UserFactory()
    TOTPDevice.objects.create(user=user, name="pending", confirmed=False)

    refused_with(
        ErrorCode.MFA_NOT_ENABLED, services.recovery_codes_generate, user=user, otp=None, client=CLIENT
    )

    assert not StaticToken.objects.filter(device__user=user).exists()


@pytest.mark.django_db
def test_ten_recovery_codes_are_stored_hashed(totp_user) -> None:
    user, authenticator = totp_user

    codes = services.recovery_codes_generate(user=user, otp=authenticator.now(), client=CLIENT)

    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert all(len(code) == 11 and code[5] == "-" for code in codes)
    stored = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert stored == {services.recovery_code_digest(code.replace("-", "")) for code in codes}
    assert not stored & ({code for code in codes} | {code.replace("-", "") for code in codes})
    event = SecurityEvent.objects.get(user=user, type=SecurityEvent.Type.RECOVERY_CODES_GENERATED)
    assert event.details == {"count": 10}


@pytest.mark.django_db
def test_regenerating_replaces_the_old_recovery_codes(totp_user) -> None:
    user, authenticator = totp_user
    with time_machine.travel(START, tick=False) as traveller:
        old = services.recovery_codes_generate(user=user, otp=authenticator.now(), client=CLIENT)
        traveller.shift(30)
        new = services.recovery_codes_generate(user=user, otp=authenticator.now(), client=CLIENT)

        assert services.recovery_codes_remaining(user) == 10
        refused_with(
            ErrorCode.OTP_INVALID, services.login_second_factor_verify, user=user, code=old[0], client=CLIENT
        )
        assert (
            services.login_second_factor_verify(user=user, code=new[0], client=CLIENT) == Method.RECOVERY_CODE
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "spelling",
    [
        lambda code: code,
        lambda code: code.upper(),
        lambda code: code.replace("-", ""),
        lambda code: code.replace("-", " "),
        lambda code: f"  {code[:3]} {code[3:]}  ".upper(),
    ],
    ids=["as-shown", "upper-case", "no-dash", "space", "spaces-and-upper"],
)
def test_recovery_code_spelling_is_tolerated_and_the_code_consumed(totp_user, spelling) -> None:
    user, _ = totp_user
    codes = recovery_codes_give(user)
    shown = f"{codes[3][:5]}-{codes[3][5:]}"

    method = services.login_second_factor_verify(user=user, code=spelling(shown), client=CLIENT)

    assert method == Method.RECOVERY_CODE
    assert services.recovery_codes_remaining(user) == 9
    refused_with(
        ErrorCode.OTP_INVALID, services.login_second_factor_verify, user=user, code=shown, client=CLIENT
    )
    event = SecurityEvent.objects.get(user=user, type=SecurityEvent.Type.RECOVERY_CODE_USED)
    assert event.details == {"remaining": 9}


@pytest.mark.django_db
def test_removing_one_of_two_factors_keeps_the_recovery_codes(totp_user) -> None:
    user, _ = totp_user
    phone_verified(user)
    codes = recovery_codes_give(user)

    services.totp_device_delete(user=user, otp=codes[0], client=CLIENT)

    assert services.recovery_codes_remaining(user) == 9


@pytest.mark.django_db
@pytest.mark.parametrize("factor", ["totp", "sms"])
def test_removing_the_last_factor_removes_the_recovery_codes(totp_user, factor: str) -> None:
    user, _ = totp_user
    if factor == "sms":
        TOTPDevice.objects.filter(user=user).delete()
        User.objects.filter(pk=user.pk).update(totp_verified_at=None)
        phone_verified(user)
    codes = recovery_codes_give(user)
    delete = services.totp_device_delete if factor == "totp" else services.sms_device_delete

    user = delete(user=user, otp=codes[0], client=CLIENT)

    assert user.has_second_factor is False
    assert services.recovery_codes_remaining(user) == 0
    assert not StaticDevice.objects.filter(user=user).exists()


# --- phones and SMS -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("phone", "country", "e164"),
    [
        ("612 34 56 78", "ES", "+34612345678"),
        ("+34 612-345-678", "US", "+34612345678"),
        ("07400 123456", "GB", "+447400123456"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("(201) 555-0123", "US", "+12015550123"),
    ],
)
def test_phone_is_stored_in_e164(phone: str, country: str, e164: str) -> None:
    user = UserFactory()

    services.sms_device_add(user=user, phone=phone, country=country, otp=None, client=CLIENT)

    assert SmsDevice.objects.get(user=user).number == e164
    assert sms_backends.outbox[-1].to == e164


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("phone", "country"),
    [
        ("not a phone", "ES"),
        ("912345678", "ES"),
        ("612345678", "US"),
        ("07400 123456", "ES"),
        ("+999 1234567", "ES"),
        ("6123456789012345", "ES"),
    ],
    ids=["garbage", "spanish-landline", "wrong-country", "uk-mobile-as-spanish", "no-such-code", "too-long"],
)
def test_invalid_or_fixed_line_numbers_are_refused(phone: str, country: str) -> None:
    user = UserFactory()

    refused_with(
        ErrorCode.PHONE_INVALID,
        services.sms_device_add,
        user=user,
        phone=phone,
        country=country,
        otp=None,
        client=CLIENT,
    )

    assert not SmsDevice.objects.filter(user=user).exists()
    assert sms_backends.outbox == []


@pytest.mark.django_db
def test_countries_outside_the_allowed_list_are_refused(settings: Settings) -> None:
    settings.SMS_ALLOWED_COUNTRIES = ["ES", "PT"]
    user = UserFactory()

    refused_with(
        ErrorCode.COUNTRY_NOT_ALLOWED,
        services.sms_device_add,
        user=user,
        phone="06 12 34 56 78",
        country="FR",
        otp=None,
        client=CLIENT,
    )
    # The number's own region counts, not the `country` it was typed with.
    refused_with(
        ErrorCode.COUNTRY_NOT_ALLOWED,
        services.sms_device_add,
        user=user,
        phone="+33 6 12 34 56 78",
        country="ES",
        otp=None,
        client=CLIENT,
    )
    services.sms_device_add(user=user, phone="+34612345678", country="FR", otp=None, client=CLIENT)

    assert SmsDevice.objects.get(user=user).number == "+34612345678"


@pytest.mark.django_db
def test_a_pending_number_is_replaced_on_the_same_row() -> None:
    user = UserFactory()
    with time_machine.travel(START, tick=False) as traveller:
        services.sms_device_add(user=user, phone="612345678", country="ES", otp=None, client=CLIENT)
        first_device, first_code = SmsDevice.objects.get(user=user), last_sms_code()
        traveller.shift(61)

        services.sms_device_add(user=user, phone="622334455", country="ES", otp=None, client=CLIENT)

        device = SmsDevice.objects.get(user=user)
        assert (device.pk, device.number, device.confirmed) == (first_device.pk, "+34622334455", False)
        if first_code != last_sms_code():
            assert device.verify_token(first_code, CodePurpose.VERIFY) is False
        assert device.verify_token(last_sms_code(), CodePurpose.VERIFY) is True


def _gateway_down(**kwargs: str) -> None:
    raise SmsDeliveryError("gateway down")


@pytest.mark.django_db
def test_gateway_failure_adds_no_phone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("otp.services.delivery.sms_send", _gateway_down)
    user = UserFactory()

    refused_with(
        ErrorCode.SMS_UNAVAILABLE,
        services.sms_device_add,
        user=user,
        phone="612345678",
        country="ES",
        otp=None,
        client=CLIENT,
    )

    assert not SmsDevice.objects.filter(user=user).exists()
    assert not SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.FACTOR_ADDED).exists()


@pytest.mark.django_db
def test_gateway_failure_leaves_a_pending_phone_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    user = UserFactory()
    with time_machine.travel(START, tick=False) as traveller:
        services.sms_device_add(user=user, phone="612345678", country="ES", otp=None, client=CLIENT)
        code = last_sms_code()
        before = SmsDevice.objects.filter(user=user).values().get()
        traveller.shift(61)
        monkeypatch.setattr("otp.services.delivery.sms_send", _gateway_down)

        refused_with(
            ErrorCode.SMS_UNAVAILABLE,
            services.sms_device_add,
            user=user,
            phone="622334455",
            country="ES",
            otp=None,
            client=CLIENT,
        )
        refused_with(
            ErrorCode.SMS_UNAVAILABLE, services.verification_code_send, user=user, channel=Channel.SMS
        )

        assert SmsDevice.objects.filter(user=user).values().get() == before
        services.channel_confirm(user=user, channel=Channel.SMS, code=code, client=CLIENT)
