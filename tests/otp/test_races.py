"""The same code sent by many clients at once is accepted once (real row locks: PostgreSQL only)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pyotp
import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.core.client import Client
from accounts.models import User
from otp import services, sms_backends
from otp.models import SmsDevice
from tests.conftest import authenticate, last_sms_code
from tests.factories import DEFAULT_PASSWORD, UserFactory

THREADS = 8

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite has no row locks (SELECT ... FOR UPDATE), so it cannot race",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _password_delay_out_of_the_way(settings) -> None:
    """Each of a burst of right passwords is an attempt on one email, which the password delay
    refuses after the free ones (tests/accounts/core/test_login_throttles.py); here the codes race."""
    settings.LOGIN_FAILURES_BEFORE_DELAY = THREADS * 10


def _at_once(count: int, request: Callable[[], object]) -> list[tuple[int, str]]:
    """Fire `request` from `count` threads released together; each answer's status and code."""
    barrier = threading.Barrier(count)
    answers: list[tuple[int, str] | BaseException | None] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            response = request()
            body = response.json()
            answers[index] = (response.status_code, body.get("code", "ok"))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            answers[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(isinstance(answer, tuple) for answer in answers), answers
    return answers  # type: ignore[return-value]


def _login(user: User, code: str) -> Callable[[], object]:
    return lambda: APIClient().post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json", HTTP_X_OTP=code
    )


def _one_success(answers: list[tuple[int, str]]) -> None:
    assert [status for status, _ in answers].count(200) == 1, answers
    refusals = {answer for answer in answers if answer[0] != 200}
    assert refusals <= {(403, "otp_invalid"), (429, "otp_throttled")}, answers


def _phone_verified(user: User) -> None:
    SmsDevice.objects.create(user=user, name="Phone", number="+34612345678", confirmed=True)
    User.objects.filter(pk=user.pk).update(phone_verified_at=timezone.now())
    user.refresh_from_db()


def test_same_totp_code_logs_in_once(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, authenticator = totp_user

    _one_success(_at_once(THREADS, _login(user, authenticator.now())))


def test_same_totp_code_steps_up_once(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, authenticator = totp_user
    code = authenticator.now()

    answers = _at_once(
        THREADS,
        lambda: authenticate(APIClient(), user).post("/auth/otp/methods/recovery-codes", HTTP_X_OTP=code),
    )

    _one_success(answers)


def test_same_sms_login_code_logs_in_once() -> None:
    user = UserFactory()
    _phone_verified(user)
    services.login_sms_code_send(user=user)

    _one_success(_at_once(THREADS, _login(user, last_sms_code())))


def test_same_sms_verification_code_confirms_once() -> None:
    user = UserFactory()
    services.sms_device_add(user=user, phone="612345678", country="ES", otp=None, client=Client())
    code = last_sms_code()

    answers = _at_once(
        THREADS,
        lambda: authenticate(APIClient(), user).post(
            "/auth/otp/code", {"channel": "SMS"}, format="json", HTTP_X_OTP=code
        ),
    )

    assert [status for status, _ in answers].count(200) == 1, answers
    assert {answer for answer in answers if answer[0] != 200} <= {
        (403, "otp_invalid"),
        (429, "otp_throttled"),
        (400, "channel_already_verified"),
    }


def test_same_recovery_code_logs_in_once(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, authenticator = totp_user
    codes = services.recovery_codes_generate(user=user, otp=authenticator.now(), client=Client())

    _one_success(_at_once(THREADS, _login(user, codes[0])))

    assert services.recovery_codes_remaining(user) == 9


def test_a_burst_of_sms_requests_sends_one_message() -> None:
    user = UserFactory()
    _phone_verified(user)

    answers = _at_once(20, lambda: authenticate(APIClient(), user).get("/auth/otp/code", {"method": "SMS"}))

    assert sorted(answers) == [(200, "ok")] + [(429, "otp_attempts_exhausted")] * 19
    assert len(sms_backends.outbox) == 1


def test_a_burst_of_email_code_requests_sends_one_email() -> None:
    user = UserFactory(email_verified_at=None)

    answers = _at_once(
        THREADS, lambda: authenticate(APIClient(), user).get("/auth/otp/code", {"method": "EMAIL"})
    )

    assert sorted(answers) == [(200, "ok")] + [(429, "otp_attempts_exhausted")] * (THREADS - 1)
    assert len(mail.outbox) == 1


def test_a_burst_of_login_sms_requests_sends_one_message() -> None:
    user = UserFactory()
    _phone_verified(user)

    answers = _at_once(
        THREADS,
        lambda: APIClient().post(
            "/auth/login",
            {"email": user.email, "password": DEFAULT_PASSWORD, "otpMethod": "SMS"},
            format="json",
        ),
    )

    assert sorted(answers) == [(403, "otp_required")] + [(429, "otp_attempts_exhausted")] * (THREADS - 1)
    assert len(sms_backends.outbox) == 1
