"""Second-factor rules: methods, per-account throttling and lock, step-up, recovery codes, SMS spend."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django import Settings

from accounts.client import Client
from accounts.errors import ErrorCode, ServiceError
from accounts.models import SecurityEvent, User
from otp import services, sms_backends
from otp.models import CodePurpose, EmailCodeDevice, SmsDevice
from otp.services import RECOVERY_ALPHABET, RECOVERY_DEVICE_NAME, Channel, Method
from otp.services.delivery import _counters_spend
from otp.sms_backends import SmsDeliveryError
from tests.conftest import commit_callbacks_run, last_sms_code
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

    assert _failures(user) == 0


@pytest.mark.django_db
def test_missing_step_up_code_is_refused_and_counted(totp_user) -> None:
    user, _ = totp_user

    _raises(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=None, client=CLIENT)

    assert _failures(user) == 1
    event = SecurityEvent.objects.get(user=user, type=SecurityEvent.Type.SECOND_FACTOR_FAILED)
    assert event.details == {"context": "step-up", "consecutiveFailures": 1}
    assert event.ip_address == CLIENT.ip


@pytest.mark.django_db
def test_failures_are_counted_across_all_factors(totp_user) -> None:
    user, authenticator = totp_user
    _phone_verified(user)
    _recovery_codes_give(user)
    with time_machine.travel(START, tick=False):
        wrong = f"{(int(authenticator.now()) + 1) % 1_000_000:06d}"
        _raises(
            ErrorCode.OTP_INVALID, services.login_second_factor_verify, user=user, code=wrong, client=CLIENT
        )
        _raises(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp="zzzzz-zzzzz", client=CLIENT)

        assert _failures(user) == 2
        services.step_up_verify(user=user, otp=authenticator.now(), client=CLIENT)

    assert _failures(user) == 0


@pytest.mark.django_db
def test_a_correct_code_during_a_delay_is_refused_and_not_counted(totp_user) -> None:
    user, authenticator = totp_user
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(3):
            _raises(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=None, client=CLIENT)

        error = _raises(
            ErrorCode.OTP_THROTTLED,
            services.step_up_verify,
            user=user,
            otp=authenticator.now(),
            client=CLIENT,
        )
        assert error.retry_after == 1
        assert _failures(user) == 3

        traveller.shift(1)
        services.step_up_verify(user=user, otp=authenticator.now(), client=CLIENT)

    assert _failures(user) == 0


@pytest.mark.django_db
def test_one_hundred_consecutive_failures_lock_the_account(totp_user) -> None:
    user, authenticator = totp_user
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(99):
            _raises(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=None, client=CLIENT)
            traveller.shift(15 * 60)
        user.refresh_from_db()
        assert (user.status, user.otp_failure_count) == (User.Status.ACTIVE, 99)

        _raises(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=None, client=CLIENT)

        user.refresh_from_db()
        assert user.status == User.Status.LOCKED
        assert user.locked_until == timezone.now() + timedelta(hours=1)
        assert SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.ACCOUNT_LOCKED).count() == 1
        traveller.shift(15 * 60)
        error = _raises(
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
        _raises(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=None, client=CLIENT)

    user.refresh_from_db()
    assert user.status == User.Status.LOCKED


@pytest.mark.django_db
def test_lock_lifts_by_itself_after_the_lock_time(settings: Settings, totp_user) -> None:
    settings.OTP_FAILURES_BEFORE_LOCK = 1
    settings.ACCOUNT_LOCK_SECONDS = 600
    user, authenticator = totp_user
    with time_machine.travel(START, tick=False) as traveller:
        _raises(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=None, client=CLIENT)
        traveller.shift(599)
        _raises(
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

    assert _failures(user) == 0


# --- step-up with each factor ----------------------------------------------------------------


@pytest.mark.django_db
def test_step_up_accepts_the_step_up_sms_code_once() -> None:
    user = UserFactory()
    _phone_verified(user)
    sent = services.verification_code_send(user=user, channel=Channel.SMS)
    assert sent.validated is True
    code = last_sms_code()

    services.step_up_verify(user=user, otp=code, client=CLIENT)

    _raises(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=code, client=CLIENT)


@pytest.mark.django_db
def test_login_sms_code_is_not_a_step_up_code_and_back() -> None:
    user = UserFactory()
    _phone_verified(user)
    with time_machine.travel(START, tick=False) as traveller:
        services.login_sms_code_send(user=user)
        login_code = last_sms_code()
        _raises(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp=login_code, client=CLIENT)
        traveller.shift(61)
        services.verification_code_send(user=user, channel=Channel.SMS)
        step_up_code = last_sms_code()

        _raises(
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

    _raises(
        ErrorCode.OTP_INVALID, services.login_second_factor_verify, user=user, code=verify_code, client=CLIENT
    )


# --- recovery codes ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_recovery_codes_need_a_verified_factor() -> None:
    user = UserFactory()
    TOTPDevice.objects.create(user=user, name="pending", confirmed=False)

    _raises(ErrorCode.MFA_NOT_ENABLED, services.recovery_codes_generate, user=user, otp=None, client=CLIENT)

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
        _raises(
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
    codes = _recovery_codes_give(user)
    shown = f"{codes[3][:5]}-{codes[3][5:]}"

    method = services.login_second_factor_verify(user=user, code=spelling(shown), client=CLIENT)

    assert method == Method.RECOVERY_CODE
    assert services.recovery_codes_remaining(user) == 9
    _raises(ErrorCode.OTP_INVALID, services.login_second_factor_verify, user=user, code=shown, client=CLIENT)
    event = SecurityEvent.objects.get(user=user, type=SecurityEvent.Type.RECOVERY_CODE_USED)
    assert event.details == {"remaining": 9}


@pytest.mark.django_db
def test_removing_one_of_two_factors_keeps_the_recovery_codes(totp_user) -> None:
    user, _ = totp_user
    _phone_verified(user)
    codes = _recovery_codes_give(user)

    services.totp_device_delete(user=user, otp=codes[0], client=CLIENT)

    assert services.recovery_codes_remaining(user) == 9


@pytest.mark.django_db
@pytest.mark.parametrize("factor", ["totp", "sms"])
def test_removing_the_last_factor_removes_the_recovery_codes(totp_user, factor: str) -> None:
    user, _ = totp_user
    if factor == "sms":
        TOTPDevice.objects.filter(user=user).delete()
        User.objects.filter(pk=user.pk).update(totp_verified_at=None)
        _phone_verified(user)
    codes = _recovery_codes_give(user)
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

    _raises(
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

    _raises(
        ErrorCode.COUNTRY_NOT_ALLOWED,
        services.sms_device_add,
        user=user,
        phone="06 12 34 56 78",
        country="FR",
        otp=None,
        client=CLIENT,
    )
    # The number's own region counts, not the `country` it was typed with.
    _raises(
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

    _raises(
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

        _raises(
            ErrorCode.SMS_UNAVAILABLE,
            services.sms_device_add,
            user=user,
            phone="622334455",
            country="ES",
            otp=None,
            client=CLIENT,
        )
        _raises(ErrorCode.SMS_UNAVAILABLE, services.verification_code_send, user=user, channel=Channel.SMS)

        assert SmsDevice.objects.filter(user=user).values().get() == before
        services.channel_confirm(user=user, channel=Channel.SMS, code=code, client=CLIENT)


@pytest.mark.django_db
def test_no_phone_means_no_sms_code() -> None:
    _raises(
        ErrorCode.METHOD_NOT_ALLOWED, services.verification_code_send, user=UserFactory(), channel=Channel.SMS
    )
    _raises(ErrorCode.METHOD_NOT_ALLOWED, services.login_sms_code_send, user=UserFactory())


@pytest.mark.django_db
def test_sms_resend_cooldown_is_per_user() -> None:
    user, other = UserFactory(), UserFactory()
    _phone_verified(user)
    _phone_verified(other, number="+34622334455")
    with time_machine.travel(START, tick=False) as traveller:
        services.verification_code_send(user=user, channel=Channel.SMS)

        error = _raises(ErrorCode.OTP_ATTEMPTS_EXHAUSTED, services.login_sms_code_send, user=user)
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
    _phone_verified(user)
    with time_machine.travel(START, tick=False) as traveller:
        outcomes = _send_every_minute([user], 5, traveller)
        error = _raises(
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
    _phone_verified(first)
    _phone_verified(second)
    with time_machine.travel(START, tick=False) as traveller:
        outcomes = _send_every_minute([first, second], 2, traveller)

    assert outcomes == ["sent", "sent", ErrorCode.OTP_ATTEMPTS_EXHAUSTED, ErrorCode.OTP_ATTEMPTS_EXHAUSTED]
    assert len(sms_backends.outbox) == 2


@pytest.mark.django_db
def test_sms_daily_cap_overall(settings: Settings) -> None:
    settings.SMS_MAX_PER_DAY = 2
    users = [UserFactory() for _ in range(3)]
    for index, user in enumerate(users):
        _phone_verified(user, number=f"+3461234567{index}")
    with time_machine.travel(START, tick=False) as traveller:
        outcomes = _send_every_minute(users, 1, traveller)

    assert outcomes == ["sent", "sent", ErrorCode.OTP_ATTEMPTS_EXHAUSTED]
    assert len(sms_backends.outbox) == 2


@pytest.mark.django_db
def test_sms_body_carries_the_code_and_its_lifetime() -> None:
    user = UserFactory()
    _phone_verified(user)

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
    _phone_verified(user)
    codes = _recovery_codes_give(user)
    services.login_sms_code_send(user=user)
    sms_code = last_sms_code()
    services.login_second_factor_verify(user=user, code=sms_code, client=CLIENT)
    services.login_second_factor_verify(user=user, code=codes[0], client=CLIENT)
    _raises(ErrorCode.OTP_INVALID, services.step_up_verify, user=user, otp="000000", client=CLIENT)

    recorded = str(list(SecurityEvent.objects.filter(user=user).values("details")))
    for secret in [sms_code, codes[0], "000000", authenticator.secret]:
        assert secret not in recorded


@pytest.mark.django_db
def test_confirm_checks_state_before_the_code(totp_user) -> None:
    user, authenticator = totp_user

    _raises(
        ErrorCode.CHANNEL_ALREADY_VERIFIED,
        services.channel_confirm,
        user=user,
        channel=Channel.TOTP,
        code=authenticator.now(),
        client=CLIENT,
    )
    _raises(
        ErrorCode.CHANNEL_NOT_CONFIGURED,
        services.channel_confirm,
        user=user,
        channel=Channel.SMS,
        code="123456",
        client=CLIENT,
    )
    _raises(
        ErrorCode.CHANNEL_ALREADY_VERIFIED,
        services.channel_confirm,
        user=user,
        channel=Channel.EMAIL,
        code="123456",
        client=CLIENT,
    )

    assert _failures(user) == 0
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
        error = _raises(
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
    _raises(
        ErrorCode.CHANNEL_ALREADY_VERIFIED,
        services.verification_code_send,
        user=UserFactory(),
        channel=Channel.EMAIL,
    )

    assert mail.outbox == []


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

    _raises(
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


def test_a_message_over_one_cap_counts_against_none(settings: Settings) -> None:
    """The three caps are spent in one atomic step (one Redis round trip): over the number's cap,
    the user's and the day's counters are left as they were."""

    caps = [("cap-test:user", 5), ("cap-test:number", 1), ("cap-test:all", 5)]
    assert _counters_spend(caps) is None
    assert _counters_spend(caps) == "cap-test:number"

    assert [cache.get(key) for key, _ in caps] == [1, 1, 1]
