"""Login with a second factor: otp_required, the login SMS, x-otp, amr, throttling and locks."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import jwt
import pyotp
import pytest
import time_machine
from django.core import mail
from django.core.cache import caches
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django import Settings
from rest_framework.test import APIClient

from accounts.core import login_throttles
from accounts.core.client import Client
from accounts.models import SecurityEvent, User
from config.cache import RedisCache
from otp import services, sms_backends
from otp.models import CodePurpose, SmsDevice
from otp.services import RECOVERY_ALPHABET, RECOVERY_DEVICE_NAME
from otp.sms_backends import SmsDeliveryError
from tests.conftest import authenticate, last_sms_code
from tests.factories import DEFAULT_PASSWORD, UserFactory

NUMBER = "+34612345678"
START = datetime(2030, 1, 1, 10, 0, 15, tzinfo=UTC)


def _login(
    client: APIClient, user: User, *, password: str = DEFAULT_PASSWORD, otp: str | None = None, **body: str
):
    headers = {"HTTP_X_OTP": otp} if otp is not None else {}
    return client.post(
        "/auth/login", {"email": user.email, "password": password, **body}, format="json", **headers
    )


def _error(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def _amr(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return jwt.decode(response.json()["idToken"], options={"verify_signature": False})["amr"]


def _failures(user: User) -> int:
    user.refresh_from_db()
    return user.otp_failure_count


def _phone_verified(user: User, number: str = NUMBER) -> SmsDevice:
    device = SmsDevice.objects.create(user=user, name="Phone", number=number, confirmed=True)
    User.objects.filter(pk=user.pk).update(phone_verified_at=timezone.now())
    user.refresh_from_db()
    return device


def _totp_verified(user: User) -> pyotp.TOTP:
    enrolment = services.totp_device_create(user=user, otp=None, client=Client())
    TOTPDevice.objects.filter(user=user).update(confirmed=True)
    User.objects.filter(pk=user.pk).update(totp_verified_at=timezone.now())
    user.refresh_from_db()
    return pyotp.TOTP(enrolment.secret)


def _recovery_codes_give(user: User) -> list[str]:
    codes = ["".join(random.choice(RECOVERY_ALPHABET) for _ in range(10)) for _ in range(10)]
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=services.recovery_code_digest(code)) for code in codes
    )
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def _wrong_totp(authenticator: pyotp.TOTP) -> str:
    now = timezone.now().timestamp()
    window = {authenticator.at(now + 30 * offset) for offset in (-1, 0, 1)}
    return next(code for code in (f"{n:06d}" for n in range(1_000_000)) if code not in window)


# --- accounts without a second factor ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("otp", [None, "123456", "garbage"])
def test_without_a_factor_x_otp_is_ignored(api_client, user, otp: str | None) -> None:
    response = _login(api_client, user, otp=otp)

    assert _amr(response) == ["pwd"]
    assert _failures(user) == 0


@pytest.mark.django_db
def test_pending_factors_do_not_ask_for_a_code(api_client, user) -> None:
    TOTPDevice.objects.create(user=user, name="pending", confirmed=False)
    SmsDevice.objects.create(user=user, name="Phone", number=NUMBER, confirmed=False)

    assert _amr(_login(api_client, user)) == ["pwd"]


# --- otp_required and otpMethod ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("totp", "phone", "recovery", "methods"),
    [
        (True, False, False, ["TOTP"]),
        (False, True, False, ["SMS"]),
        (True, True, False, ["TOTP", "SMS"]),
        (False, True, True, ["SMS", "RECOVERY_CODE"]),
        (True, True, True, ["TOTP", "SMS", "RECOVERY_CODE"]),
    ],
)
def test_otp_required_names_the_verified_methods_in_order(
    api_client, user, totp: bool, phone: bool, recovery: bool, methods: list[str]
) -> None:
    if totp:
        _totp_verified(user)
    if phone:
        _phone_verified(user)
    if recovery:
        _recovery_codes_give(user)

    response = _login(api_client, user)

    assert _error(response) == (403, "otp_required")
    assert response.json()["methods"] == methods
    assert "idToken" not in response.json()
    assert sms_backends.outbox == []
    assert _failures(user) == 0


@pytest.mark.django_db
def test_otp_method_sms_sends_a_login_code(api_client, user) -> None:
    _totp_verified(user)
    _phone_verified(user)
    with time_machine.travel(START, tick=False):
        response = _login(api_client, user, otpMethod="SMS")

        assert _error(response) == (403, "otp_required")
        assert response.json()["methods"] == ["TOTP", "SMS"]
        assert response.json()["channel"] == "SMS"
        assert parse_datetime(response.json()["validUntil"]) == START + timedelta(minutes=10)
        assert [message.to for message in sms_backends.outbox] == [NUMBER]
        assert SmsDevice.objects.get(user=user).purpose == CodePurpose.LOGIN

        logged_in = _login(api_client, user, otp=last_sms_code())

    assert _amr(logged_in) == ["pwd", "otp"]


@pytest.mark.django_db
def test_otp_method_sms_with_a_wrong_password_sends_nothing(api_client, user) -> None:
    _phone_verified(user)

    response = _login(api_client, user, password="not the password", otpMethod="SMS")

    assert _error(response) == (403, "authentication_failed")
    assert sms_backends.outbox == []


@pytest.mark.django_db
def test_otp_method_totp_only_names_the_methods(api_client, user) -> None:
    _totp_verified(user)

    response = _login(api_client, user, otpMethod="TOTP")

    assert _error(response) == (403, "otp_required")
    assert "channel" not in response.json()
    assert sms_backends.outbox == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("totp", "phone", "otp_method"),
    [(True, False, "SMS"), (False, True, "TOTP"), (False, False, "SMS"), (True, False, "RECOVERY_CODE")],
    ids=["sms-for-totp-user", "totp-for-phone-user", "sms-without-factor", "recovery-without-codes"],
)
def test_otp_method_not_verified_is_method_not_allowed(
    api_client, user, totp: bool, phone: bool, otp_method: str
) -> None:
    if totp:
        _totp_verified(user)
    if phone:
        _phone_verified(user)

    response = _login(api_client, user, otpMethod=otp_method)

    assert _error(response) == (400, "method_not_allowed")
    assert sms_backends.outbox == []


@pytest.mark.django_db
@pytest.mark.parametrize("otp_method", ["FOO", "sms", ""])
def test_otp_method_must_be_a_known_method(api_client, user, otp_method: str) -> None:
    response = _login(api_client, user, otpMethod=otp_method)

    assert _error(response) == (400, "validation_error")
    assert "otpMethod" in response.json()["errors"]


@pytest.mark.django_db
def test_login_sms_inside_the_cooldown_is_429(api_client, user) -> None:
    _phone_verified(user)
    with time_machine.travel(START, tick=False) as traveller:
        _login(api_client, user, otpMethod="SMS")
        traveller.shift(20)

        response = _login(api_client, user, otpMethod="SMS")
        traveller.shift(41)
        later = _login(api_client, user, otpMethod="SMS")

    assert _error(response) == (429, "otp_attempts_exhausted")
    assert response["Retry-After"] == "40"
    assert _error(later) == (403, "otp_required")
    assert len(sms_backends.outbox) == 2


@pytest.mark.django_db
def test_login_sms_with_the_gateway_down_is_503(monkeypatch: pytest.MonkeyPatch, api_client, user) -> None:
    _phone_verified(user)

    def gateway_down(**kwargs: str) -> None:
        raise SmsDeliveryError("gateway down")

    monkeypatch.setattr("otp.services.delivery.sms_send", gateway_down)

    assert _error(_login(api_client, user, otpMethod="SMS")) == (503, "sms_unavailable")
    assert SmsDevice.objects.get(user=user).token is None


# --- x-otp --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_totp_code_logs_in_with_amr_pwd_otp_kept_across_refresh(api_client, totp_user) -> None:
    user, authenticator = totp_user

    response = _login(api_client, user, otp=authenticator.now())

    assert _amr(response) == ["pwd", "otp"]
    refreshed = api_client.post(
        "/auth/login/refresh", {"refreshToken": response.json()["refreshToken"]}, format="json"
    )
    assert _amr(refreshed) == ["pwd", "otp"]
    event = SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.LOGIN_SUCCEEDED).get()
    assert event.details == {"factor": "totp"}


@pytest.mark.django_db
def test_recovery_code_logs_in_once(api_client, totp_user) -> None:
    user, _ = totp_user
    codes = _recovery_codes_give(user)

    first = _login(api_client, user, otp=codes[0].upper())
    second = _login(api_client, user, otp=codes[0])

    assert _amr(first) == ["pwd", "otp"]
    assert _error(second) == (403, "otp_invalid")
    assert services.recovery_codes_remaining(user) == 9


@pytest.mark.django_db
def test_wrong_code_is_otp_invalid_and_counted(api_client, totp_user) -> None:
    user, authenticator = totp_user
    _phone_verified(user)
    _recovery_codes_give(user)

    answers = [
        _error(_login(api_client, user, otp=_wrong_totp(authenticator))),
        _error(_login(api_client, user, otp="abcde-fghjk")),
    ]

    assert answers == [(403, "otp_invalid")] * 2
    assert _failures(user) == 2
    assert SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.SECOND_FACTOR_FAILED).count() == 2


@pytest.mark.django_db
def test_reused_totp_code_is_otp_invalid(api_client, totp_user) -> None:
    user, authenticator = totp_user
    with time_machine.travel(START, tick=False):
        code = authenticator.now()

        answers = [_login(api_client, user, otp=code).status_code, _error(_login(api_client, user, otp=code))]

    assert answers == [200, (403, "otp_invalid")]


@pytest.mark.django_db
def test_reused_sms_login_code_is_otp_invalid(api_client, user) -> None:
    _phone_verified(user)
    _login(api_client, user, otpMethod="SMS")
    code = last_sms_code()

    first, second = _login(api_client, user, otp=code), _login(api_client, user, otp=code)

    assert _amr(first) == ["pwd", "otp"]
    assert _error(second) == (403, "otp_invalid")


@pytest.mark.django_db
def test_step_up_sms_code_is_not_a_login_code(api_client, user) -> None:
    _phone_verified(user)
    client = authenticate(APIClient(), user)
    assert client.get("/auth/otp/code", {"method": "SMS"}).json()["validated"] is True

    response = _login(api_client, user, otp=last_sms_code())

    assert _error(response) == (403, "otp_invalid")


@pytest.mark.django_db
def test_phone_verification_code_is_not_a_login_code(api_client, totp_user) -> None:
    user, authenticator = totp_user
    client = authenticate(APIClient(), user)
    added = client.post(
        "/auth/otp/methods/sms",
        {"phone": "612345678", "country": "ES"},
        format="json",
        HTTP_X_OTP=authenticator.now(),
    )
    assert added.status_code == 200, added.json()

    response = _login(api_client, user, otp=last_sms_code())

    assert _error(response) == (403, "otp_invalid")


@pytest.mark.django_db
@pytest.mark.parametrize(("elapsed", "status"), [(599, 200), (600, 403), (900, 403)])
def test_login_code_is_valid_ten_minutes(api_client, user, elapsed: int, status: int) -> None:
    _phone_verified(user)
    with time_machine.travel(START, tick=False) as traveller:
        _login(api_client, user, otpMethod="SMS")
        traveller.shift(elapsed)

        response = _login(api_client, user, otp=last_sms_code())

    assert response.status_code == status, response.json()


# --- throttling and locks ---------------------------------------------------------------------


@pytest.mark.django_db
def test_right_code_during_a_delay_is_refused_and_not_counted(api_client, totp_user) -> None:
    user, authenticator = totp_user
    with time_machine.travel(START, tick=False) as traveller:
        wrong = _wrong_totp(authenticator)
        for _ in range(3):
            assert _error(_login(api_client, user, otp=wrong)) == (403, "otp_invalid")

        throttled = _login(api_client, user, otp=authenticator.now())

        assert _error(throttled) == (429, "otp_throttled")
        assert throttled["Retry-After"] == "1"
        assert _failures(user) == 3
        traveller.shift(1)
        assert _amr(_login(api_client, user, otp=authenticator.now())) == ["pwd", "otp"]

    assert _failures(user) == 0


@pytest.mark.django_db
def test_changing_client_address_does_not_reset_the_count(totp_user) -> None:
    user, authenticator = totp_user
    wrong = _wrong_totp(authenticator)
    for index in range(3):
        client = APIClient(REMOTE_ADDR=f"198.51.100.{index + 1}")
        assert _error(_login(client, user, otp=wrong)) == (403, "otp_invalid")

    response = _login(APIClient(REMOTE_ADDR="203.0.113.99"), user, otp=authenticator.now())

    assert _error(response) == (429, "otp_throttled")
    assert _failures(user) == 3


@pytest.mark.django_db
def test_wrong_passwords_never_spend_the_second_factor_budget(api_client, totp_user) -> None:
    user, authenticator = totp_user
    with time_machine.travel(START, tick=False) as traveller:
        answers = set()
        for _ in range(30):
            answers.add(_error(_login(api_client, user, password="wrong password", otp=authenticator.now())))
            traveller.shift(5)

        user.refresh_from_db()
        assert answers == {(403, "authentication_failed"), (429, "login_throttled")}
        assert (user.otp_failure_count, user.status) == (0, User.Status.ACTIVE)
        assert not SecurityEvent.objects.filter(
            user=user, type=SecurityEvent.Type.SECOND_FACTOR_FAILED
        ).exists()
        traveller.shift(15 * 60)
        assert _amr(_login(api_client, user, otp=authenticator.now())) == ["pwd", "otp"]


def _lock(user: User) -> None:
    User.objects.filter(pk=user.pk).update(
        status=User.Status.LOCKED, locked_until=timezone.now() + timedelta(hours=1), otp_failure_count=100
    )


@pytest.mark.django_db
def test_locked_status_is_revealed_only_after_the_right_password(api_client, totp_user) -> None:
    user, authenticator = totp_user
    _lock(user)

    wrong_password = _login(api_client, user, password="wrong password")
    unknown_email = api_client.post(
        "/auth/login", {"email": "nobody@example.com", "password": "wrong password"}, format="json"
    )
    right_password = _login(api_client, user, otp=authenticator.now())

    assert wrong_password.json() == unknown_email.json()
    assert _error(wrong_password) == (403, "authentication_failed")
    assert _error(right_password) == (403, "account_locked")
    assert 3590 <= int(right_password["Retry-After"]) <= 3600


@pytest.mark.django_db
def test_blocked_status_is_revealed_only_after_the_right_password(api_client) -> None:
    user = UserFactory(status=User.Status.BLOCKED)
    _totp_verified(user)

    assert _error(_login(api_client, user, password="wrong password")) == (403, "authentication_failed")
    assert _error(_login(api_client, user)) == (403, "account_blocked")


@pytest.mark.django_db
def test_failed_codes_lock_the_account_until_the_lock_time_passes(
    settings: Settings, api_client, totp_user
) -> None:
    settings.OTP_FAILURES_BEFORE_LOCK = 4
    settings.OTP_FAILURES_BEFORE_DELAY = 10
    user, authenticator = totp_user
    with time_machine.travel(START, tick=False) as traveller:
        wrong = _wrong_totp(authenticator)
        answers = [_error(_login(api_client, user, otp=wrong)) for _ in range(4)]
        locked = _login(api_client, user, otp=authenticator.now())

        assert answers == [(403, "otp_invalid")] * 4
        assert _error(locked) == (403, "account_locked")
        assert locked["Retry-After"] == "3600"
        user.refresh_from_db()
        assert (user.status, user.locked_until) == (User.Status.LOCKED, START + timedelta(hours=1))
        traveller.shift(3599)
        assert _error(_login(api_client, user, otp=authenticator.now())) == (403, "account_locked")
        traveller.shift(1)

        response = _login(api_client, user, otp=authenticator.now())

        assert _amr(response) == ["pwd", "otp"]
        user.refresh_from_db()
        assert (user.status, user.locked_until, user.otp_failure_count) == (User.Status.ACTIVE, None, 0)
        profile = authenticate(APIClient(), user).get("/auth/me")
        assert profile.json()["status"] == "ACTIVE"


@pytest.mark.django_db
def test_password_reset_lifts_the_lock(api_client, totp_user) -> None:
    user, authenticator = totp_user
    _lock(user)
    assert api_client.post("/auth/password/reset", {"email": user.email}, format="json").status_code == 202
    uid, token = re.search(r"uid=([\w-]+) and token=([\w-]+)", mail.outbox[-1].body).groups()

    reset = api_client.post(
        "/auth/password/reset/confirm",
        {"uid": uid, "token": token, "newPassword": "a brand new passphrase"},
        format="json",
    )

    assert reset.status_code == 200, reset.json()
    user.refresh_from_db()
    assert (user.status, user.locked_until, user.otp_failure_count) == (User.Status.ACTIVE, None, 0)
    response = _login(api_client, user, password="a brand new passphrase", otp=authenticator.now())
    assert _amr(response) == ["pwd", "otp"]


# --- otpMethod with x-otp; a lifted lock on a password-only login ------------------------------


def test_otp_method_naming_an_unverified_method_is_refused_before_the_code(
    api_client: APIClient, db: None
) -> None:
    """An SMS-only user sending otpMethod TOTP with a code used to be answered as if it were fine."""
    user = UserFactory()
    _phone_verified(user)
    services.login_sms_code_send(user=user)

    response = _login(api_client, user, otp=last_sms_code(), otpMethod="TOTP")

    assert _error(response) == (400, "method_not_allowed")
    assert _failures(user) == 0  # state before code: nothing was checked


def test_otp_method_restricts_the_code_to_that_factor(api_client: APIClient, db: None) -> None:
    user = UserFactory()
    totp = _totp_verified(user)
    _phone_verified(user)

    assert _error(_login(api_client, user, otp=totp.now(), otpMethod="SMS")) == (403, "otp_invalid")
    assert _amr(_login(api_client, user, otp=totp.now(), otpMethod="TOTP")) == ["pwd", "otp"]


def test_a_password_only_login_after_a_lock_lifts_starts_a_fresh_budget(
    api_client: APIClient, db: None
) -> None:
    """A lifted lock used to keep its 100 failures on this path: one wrong code locked again."""
    user = UserFactory(
        status=User.Status.LOCKED,
        locked_until=timezone.now() - timedelta(seconds=1),
        otp_failure_count=100,
        otp_last_failure_at=timezone.now() - timedelta(hours=1),
        otp_failures_notified=True,
    )

    assert _amr(_login(api_client, user)) == ["pwd"]

    user.refresh_from_db()
    assert (user.status, user.locked_until, user.otp_failure_count, user.otp_failures_notified) == (
        User.Status.ACTIVE,
        None,
        0,
        False,
    )


# --- a right password and the wrong ones before it ---------------------------------------------


def _wrong_passwords_then_refused(client: APIClient, user: User, free: int) -> list[tuple[int, str]]:
    return [_error(_login(client, user, password="wrong password")) for _ in range(free + 2)]


@pytest.mark.django_db
def test_a_login_forgets_the_wrong_passwords_before_it(api_client, user, settings) -> None:
    """Recorded with its `last_login`, which the next attempt's reservation reads: no DEL sent."""
    free = settings.LOGIN_FAILURES_BEFORE_DELAY
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(free):
            assert _error(_login(api_client, user, password="wrong password")) == (
                403,
                "authentication_failed",
            )
        traveller.shift(0.01)
        assert _login(api_client, user).status_code == 200
        traveller.shift(0.01)
        assert _wrong_passwords_then_refused(api_client, user, free) == [(403, "authentication_failed")] * (
            free + 1
        ) + [(429, "login_throttled")]


@pytest.mark.django_db
def test_a_right_password_stopped_at_the_second_factor_forgets_them_at_once(
    api_client, totp_user, settings
) -> None:
    user, _ = totp_user
    free = settings.LOGIN_FAILURES_BEFORE_DELAY
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(free):
            _login(api_client, user, password="wrong password")
        traveller.shift(0.01)
        assert _error(_login(api_client, user)) == (403, "otp_required")
        traveller.shift(0.01)
        assert _wrong_passwords_then_refused(api_client, user, free) == [(403, "authentication_failed")] * (
            free + 1
        ) + [(429, "login_throttled")]


@pytest.mark.django_db
def test_a_login_sends_one_command_to_redis(api_client, user, monkeypatch: pytest.MonkeyPatch) -> None:
    """The attempt's reservation: the success is forgotten by the next one, not by a DEL."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        pytest.skip("the local-memory cache has no round trips (CACHE_URL is not Redis)")
    client = backend._cache.get_client(write=True)
    commands: list[str] = []
    original = client.execute_command
    backend.script(login_throttles.ATTEMPT_RESERVE_LUA)
    monkeypatch.setattr(
        client, "execute_command", lambda *a, **k: commands.append(str(a[0])) or original(*a, **k)
    )

    assert _login(api_client, user).status_code == 200
    assert commands == ["EVALSHA"]
