"""The otp endpoints through the API: every answer and every error code API.md lists for them."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django import Settings
from rest_framework.test import APIClient

from accounts.core.client import Client
from accounts.models import SecurityEvent, User
from otp import services, sms_backends
from otp.models import CodePurpose, EmailCodeDevice, SmsDevice
from otp.services import RECOVERY_ALPHABET, RECOVERY_DEVICE_NAME
from otp.sms_backends import SmsDeliveryError
from tests.conftest import authenticate, last_email_code, last_sms_code
from tests.factories import DEFAULT_PASSWORD, UserFactory

NUMBER = "+34612345678"
START = datetime(2030, 1, 1, 10, 0, 15, tzinfo=UTC)
NEW_PASSWORD = "another perfectly fine passphrase"


def _client(user: User, **defaults: str) -> APIClient:
    return authenticate(APIClient(HTTP_USER_AGENT="pytest-agent/1.0", **defaults), user)


def _error(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def _failures(user: User) -> int:
    user.refresh_from_db()
    return user.otp_failure_count


def _phone_verified(user: User, number: str = NUMBER) -> SmsDevice:
    device = SmsDevice.objects.create(user=user, name="Phone", number=number, confirmed=True)
    User.objects.filter(pk=user.pk).update(phone_verified_at=timezone.now())
    user.refresh_from_db()
    return device


def _recovery_codes_give(user: User) -> list[str]:
    """Ten recovery codes stored as the service stores them, in the form it shows them."""
    codes = ["".join(random.choice(RECOVERY_ALPHABET) for _ in range(10)) for _ in range(10)]
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=services.recovery_code_digest(code)) for code in codes
    )
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def _gateway_down(**kwargs: str) -> None:
    raise SmsDeliveryError("gateway down")


def _wrong_totp(authenticator: pyotp.TOTP) -> str:
    """Six digits matching none of the steps in the window."""
    now = timezone.now().timestamp()
    window = {authenticator.at(now + 30 * offset) for offset in (-1, 0, 1)}
    return next(code for code in (f"{n:06d}" for n in range(1_000_000)) if code not in window)


# --- POST /auth/otp/methods/sms --------------------------------------------------------------


def _add_phone(client: APIClient, phone: str = "612 34 56 78", country: str = "ES", **headers: str):
    return client.post(
        "/auth/otp/methods/sms", {"phone": phone, "country": country}, format="json", **headers
    )


@pytest.mark.django_db
def test_add_phone_sends_a_code_and_answers_the_profile(auth_client, user) -> None:
    response = _add_phone(auth_client)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["phoneNumber"] == "+34*******78"
    assert body["hasValidatedPhone"] is False
    assert "phoneVerificationDate" not in body
    assert [message.to for message in sms_backends.outbox] == [NUMBER]
    device = SmsDevice.objects.get(user=user)
    assert device.confirmed is False
    assert device.purpose == CodePurpose.VERIFY


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("phone", "country"),
    [("garbage", "ES"), ("912345678", "ES"), ("612345678", "US"), ("+999 1234567", "ES")],
    ids=["garbage", "spanish-fixed-line", "wrong-country", "unknown-calling-code"],
)
def test_add_phone_refuses_invalid_and_fixed_line_numbers(
    auth_client, user, phone: str, country: str
) -> None:
    assert _error(_add_phone(auth_client, phone, country)) == (400, "phone_invalid")
    assert not SmsDevice.objects.filter(user=user).exists()
    assert sms_backends.outbox == []


@pytest.mark.django_db
def test_add_phone_refuses_a_country_not_allowed(settings: Settings, auth_client, user) -> None:
    settings.SMS_ALLOWED_COUNTRIES = ["ES"]

    assert _error(_add_phone(auth_client, "06 12 34 56 78", "FR")) == (400, "country_not_allowed")
    assert _add_phone(auth_client).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "612345678", "country": "XX"}, "country"),
        ({"phone": "612345678", "country": "es"}, "country"),
        ({"phone": "612345678"}, "country"),
        ({"phone": "", "country": "ES"}, "phone"),
        ({"country": "ES"}, "phone"),
        ({"phone": "6" * 65, "country": "ES"}, "phone"),
    ],
)
def test_add_phone_validates_its_input(auth_client, body: dict, field: str) -> None:
    response = auth_client.post("/auth/otp/methods/sms", body, format="json")

    assert _error(response) == (400, "validation_error")
    assert field in response.json()["errors"]


@pytest.mark.django_db
def test_add_phone_when_one_is_verified_is_refused_whatever_the_code(totp_user) -> None:
    user, authenticator = totp_user
    _phone_verified(user)
    code = authenticator.now()

    response = _add_phone(_client(user), "622334455", HTTP_X_OTP=code)

    assert _error(response) == (400, "sms_already_configured")
    assert SmsDevice.objects.get(user=user).number == NUMBER
    assert sms_backends.outbox == []
    assert _failures(user) == 0
    # State is checked before the code: the code was not spent.
    services.step_up_verify(user=user, otp=code, client=Client())


@pytest.mark.django_db
def test_add_phone_replaces_a_pending_one(user) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        client = _client(user)
        _add_phone(client)
        first_code = last_sms_code()
        traveller.shift(61)

        response = _add_phone(client, "622 33 44 55")
        confirm_old = client.post("/auth/otp/code", {"channel": "SMS"}, format="json", HTTP_X_OTP=first_code)
        confirm_new = client.post(
            "/auth/otp/code", {"channel": "SMS"}, format="json", HTTP_X_OTP=last_sms_code()
        )

    assert response.json()["phoneNumber"] == "+34*******55"
    assert SmsDevice.objects.filter(user=user).count() == 1
    assert sms_backends.outbox[-1].to == "+34622334455"
    if first_code != last_sms_code():
        assert _error(confirm_old) == (403, "otp_invalid")
    assert confirm_new.status_code == 200, confirm_new.json()
    assert confirm_new.json()["hasValidatedPhone"] is True


@pytest.mark.django_db
def test_add_phone_inside_the_cooldown_is_429_and_changes_nothing(auth_client, user) -> None:
    _add_phone(auth_client)

    response = _add_phone(auth_client, "622 33 44 55")

    assert _error(response) == (429, "otp_attempts_exhausted")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert SmsDevice.objects.get(user=user).number == NUMBER
    assert len(sms_backends.outbox) == 1


@pytest.mark.django_db
def test_removing_and_adding_the_phone_again_keeps_the_cooldown(user) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        client = _client(user)
        assert _add_phone(client).status_code == 200
        assert client.delete("/auth/otp/methods/sms").status_code == 200
        traveller.shift(20)

        again = _add_phone(client)
        traveller.shift(41)
        later = _add_phone(client)

    assert _error(again) == (429, "otp_attempts_exhausted")
    assert again["Retry-After"] == "40"
    assert later.status_code == 200, later.json()
    assert len(sms_backends.outbox) == 2


@pytest.mark.django_db
def test_add_phone_with_the_gateway_down_is_503_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, auth_client, user
) -> None:
    monkeypatch.setattr("otp.services.delivery.sms_send", _gateway_down)

    response = _add_phone(auth_client)

    assert _error(response) == (503, "sms_unavailable")
    assert not SmsDevice.objects.filter(user=user).exists()
    assert not SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.FACTOR_ADDED).exists()


@pytest.mark.django_db
def test_changing_a_pending_phone_with_the_gateway_down_leaves_it_as_it_was(
    monkeypatch: pytest.MonkeyPatch, user
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        client = _client(user)
        _add_phone(client)
        before = SmsDevice.objects.filter(user=user).values().get()
        traveller.shift(61)
        monkeypatch.setattr("otp.services.delivery.sms_send", _gateway_down)

        response = _add_phone(client, "622 33 44 55")

    assert _error(response) == (503, "sms_unavailable")
    assert SmsDevice.objects.filter(user=user).values().get() == before


@pytest.mark.django_db
def test_otp_endpoints_need_a_bearer_token(api_client) -> None:
    calls = [
        api_client.post("/auth/otp/methods/sms", {"phone": "612345678", "country": "ES"}, format="json"),
        api_client.delete("/auth/otp/methods/sms"),
        api_client.post("/auth/otp/methods/totp"),
        api_client.delete("/auth/otp/methods/totp"),
        api_client.post("/auth/otp/methods/recovery-codes"),
        api_client.get("/auth/otp/code", {"method": "EMAIL"}),
        api_client.post("/auth/otp/code", {"channel": "EMAIL"}, format="json"),
    ]

    assert [response.status_code for response in calls] == [401] * len(calls)


# --- DELETE /auth/otp/methods/sms -------------------------------------------------------------


@pytest.mark.django_db
def test_delete_phone_without_one_is_400(auth_client) -> None:
    assert _error(auth_client.delete("/auth/otp/methods/sms")) == (400, "sms_not_configured")


@pytest.mark.django_db
def test_delete_pending_phone_needs_no_code_without_a_verified_factor(auth_client, user) -> None:
    _add_phone(auth_client)

    response = auth_client.delete("/auth/otp/methods/sms")

    assert response.status_code == 200, response.json()
    assert "phoneNumber" not in response.json()
    assert not SmsDevice.objects.filter(user=user).exists()


# --- POST and DELETE /auth/otp/methods/totp ---------------------------------------------------


@pytest.mark.django_db
def test_enrol_totp_answers_the_profile_and_the_secret_uncached(auth_client, user) -> None:
    response = auth_client.post("/auth/otp/methods/totp")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["hasValidatedSecret"] is False
    assert body["email"] == "u***@e***.com"
    assert body["otpauthUri"].startswith("otpauth://totp/")
    assert len(body["secret"]) == 32
    assert response["Cache-Control"] == "no-store"
    assert TOTPDevice.objects.get(user=user).confirmed is False


@pytest.mark.django_db
def test_enrol_totp_when_verified_is_400_whatever_the_code(totp_user) -> None:
    user, authenticator = totp_user
    client = _client(user)
    code = authenticator.now()

    responses = [
        client.post("/auth/otp/methods/totp"),
        client.post("/auth/otp/methods/totp", HTTP_X_OTP="000000"),
        client.post("/auth/otp/methods/totp", HTTP_X_OTP=code),
    ]

    assert [_error(response) for response in responses] == [(400, "totp_already_configured")] * 3
    assert _failures(user) == 0
    assert TOTPDevice.objects.get(user=user).confirmed is True
    # The valid code was not looked at, so it is still unused.
    services.step_up_verify(user=user, otp=code, client=Client())


@pytest.mark.django_db
def test_delete_totp_without_one_is_400(auth_client) -> None:
    assert _error(auth_client.delete("/auth/otp/methods/totp")) == (400, "totp_not_configured")


@pytest.mark.django_db
@pytest.mark.parametrize("otp", [None, "000000", "abc"])
def test_delete_totp_without_a_right_code_is_403(totp_user, otp: str | None) -> None:
    user, authenticator = totp_user
    headers = {"HTTP_X_OTP": otp if otp != "000000" else _wrong_totp(authenticator)} if otp else {}

    response = _client(user).delete("/auth/otp/methods/totp", **headers)

    assert _error(response) == (403, "otp_invalid")
    assert _failures(user) == 1
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@pytest.mark.django_db
def test_delete_totp_with_its_code(totp_user) -> None:
    user, authenticator = totp_user

    response = _client(user).delete("/auth/otp/methods/totp", HTTP_X_OTP=authenticator.now())

    assert response.status_code == 200, response.json()
    assert response.json()["hasValidatedSecret"] is False
    assert "secretVerificationDate" not in response.json()
    assert not TOTPDevice.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_delete_pending_totp_needs_no_code_without_a_verified_factor(auth_client, user) -> None:
    auth_client.post("/auth/otp/methods/totp")

    response = auth_client.delete("/auth/otp/methods/totp")

    assert response.status_code == 200, response.json()
    assert not TOTPDevice.objects.filter(user=user).exists()


# --- GET /auth/otp/code ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{}, {"method": "FOO"}, {"method": "TOTP"}, {"method": "email"}])
def test_send_code_validates_the_method(auth_client, query: dict) -> None:
    response = auth_client.get("/auth/otp/code", query)

    assert _error(response) == (400, "validation_error")
    assert "method" in response.json()["errors"]


@pytest.mark.django_db
def test_email_code_verifies_the_email_then_no_more_codes() -> None:
    user = UserFactory(email_verified_at=None)
    with time_machine.travel(START, tick=False):
        client = _client(user)

        sent = client.get("/auth/otp/code", {"method": "EMAIL"})

        assert sent.status_code == 200, sent.json()
        assert sent.json()["channel"] == "EMAIL"
        assert sent.json()["validated"] is False
        assert parse_datetime(sent.json()["validUntil"]) == START + timedelta(minutes=10)
        assert mail.outbox[-1].to == [user.email]
        code = last_email_code()
        assert len(code) == 6
        assert code.isdigit()

        confirmed = client.post("/auth/otp/code", {"channel": "EMAIL"}, format="json", HTTP_X_OTP=code)

        assert confirmed.status_code == 200, confirmed.json()
        assert confirmed.json()["hasValidatedEmail"] is True
        assert parse_datetime(confirmed.json()["emailVerificationDate"]) == START
        assert _error(client.get("/auth/otp/code", {"method": "EMAIL"})) == (400, "channel_already_verified")
        assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_sign_up_email_counts_for_the_email_cooldown(api_client) -> None:
    credentials = {"email": "new@example.com", "password": "a perfectly fine passphrase"}
    with time_machine.travel(START, tick=False) as traveller:
        assert api_client.post("/auth/register", credentials, format="json").status_code == 202
        tokens = api_client.post("/auth/login", credentials, format="json").json()
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['idToken']}")
        traveller.shift(30)

        too_soon = api_client.get("/auth/otp/code", {"method": "EMAIL"})
        traveller.shift(31)
        later = api_client.get("/auth/otp/code", {"method": "EMAIL"})

    assert _error(too_soon) == (429, "otp_attempts_exhausted")
    assert too_soon["Retry-After"] == "30"
    assert later.status_code == 200, later.json()
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_email_code_for_a_verified_email_is_400(auth_client, user) -> None:
    assert _error(auth_client.get("/auth/otp/code", {"method": "EMAIL"})) == (400, "channel_already_verified")
    assert mail.outbox == []
    assert not EmailCodeDevice.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_send_sms_code_without_a_phone_is_method_not_allowed(auth_client) -> None:
    assert _error(auth_client.get("/auth/otp/code", {"method": "SMS"})) == (400, "method_not_allowed")


@pytest.mark.django_db
def test_sms_code_to_a_pending_phone_verifies_it(user) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        client = _client(user)
        _add_phone(client)
        traveller.shift(61)

        sent = client.get("/auth/otp/code", {"method": "SMS"})
        confirmed = client.post(
            "/auth/otp/code", {"channel": "SMS"}, format="json", HTTP_X_OTP=last_sms_code()
        )

    assert sent.json().keys() == {"validUntil", "channel", "validated"}
    assert (sent.json()["channel"], sent.json()["validated"]) == ("SMS", False)
    assert parse_datetime(sent.json()["validUntil"]) == START + timedelta(seconds=61, minutes=10)
    assert confirmed.status_code == 200, confirmed.json()
    assert confirmed.json()["hasValidatedPhone"] is True
    assert parse_datetime(confirmed.json()["phoneVerificationDate"]) == START + timedelta(seconds=61)


@pytest.mark.django_db
def test_sms_code_to_a_verified_phone_is_a_step_up_code(user) -> None:
    _phone_verified(user)
    client = _client(user)

    sent = client.get("/auth/otp/code", {"method": "SMS"})

    assert sent.json()["validated"] is True
    assert SmsDevice.objects.get(user=user).purpose == CodePurpose.STEP_UP
    confirm = client.post("/auth/otp/code", {"channel": "SMS"}, format="json", HTTP_X_OTP=last_sms_code())
    assert _error(confirm) == (400, "channel_already_verified")
    response = client.post("/auth/otp/methods/recovery-codes", HTTP_X_OTP=last_sms_code())
    assert response.status_code == 200, response.json()


@pytest.mark.django_db
def test_sms_code_inside_the_cooldown_is_429(user) -> None:
    _phone_verified(user)
    with time_machine.travel(START, tick=False) as traveller:
        client = _client(user)
        client.get("/auth/otp/code", {"method": "SMS"})
        traveller.shift(45)

        response = client.get("/auth/otp/code", {"method": "SMS"})

    assert _error(response) == (429, "otp_attempts_exhausted")
    assert response["Retry-After"] == "15"
    assert response.json()["retryAfter"] == 15


@pytest.mark.django_db
def test_a_burst_of_sms_requests_reaches_the_gateway_once(user) -> None:
    _phone_verified(user)
    client = _client(user)

    statuses = [client.get("/auth/otp/code", {"method": "SMS"}).status_code for _ in range(20)]

    assert statuses == [200] + [429] * 19
    assert len(sms_backends.outbox) == 1


@pytest.mark.django_db
def test_sms_requests_all_day_long_stop_at_the_daily_cap(settings: Settings, user) -> None:
    settings.SMS_MAX_PER_USER_PER_DAY = 10
    _phone_verified(user)
    with time_machine.travel(START, tick=False) as traveller:
        statuses = []
        for _ in range(20):
            statuses.append(_client(user).get("/auth/otp/code", {"method": "SMS"}).status_code)
            traveller.shift(61)
        refused = _client(user).get("/auth/otp/code", {"method": "SMS"})

    assert statuses == [200] * 10 + [429] * 10
    assert len(sms_backends.outbox) == 10
    assert _error(refused) == (429, "otp_attempts_exhausted")
    midnight = datetime(2030, 1, 2, tzinfo=UTC)
    assert int(refused["Retry-After"]) == (midnight - (START + timedelta(seconds=61 * 20))).total_seconds()


@pytest.mark.django_db
def test_sms_code_with_the_gateway_down_is_503_and_keeps_the_pending_code(
    monkeypatch: pytest.MonkeyPatch, user
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        client = _client(user)
        _add_phone(client)
        code = last_sms_code()
        before = SmsDevice.objects.filter(user=user).values().get()
        traveller.shift(61)
        monkeypatch.setattr("otp.services.delivery.sms_send", _gateway_down)

        response = client.get("/auth/otp/code", {"method": "SMS"})

        assert _error(response) == (503, "sms_unavailable")
        assert SmsDevice.objects.filter(user=user).values().get() == before
        confirmed = client.post("/auth/otp/code", {"channel": "SMS"}, format="json", HTTP_X_OTP=code)
        assert confirmed.status_code == 200, confirmed.json()


# --- POST /auth/otp/code ------------------------------------------------------------------


def _confirm(client: APIClient, channel: str, code: str | None):
    headers = {"HTTP_X_OTP": code} if code is not None else {}
    return client.post("/auth/otp/code", {"channel": channel}, format="json", **headers)


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{}, {"channel": "FOO"}, {"channel": "RECOVERY_CODE"}, {"channel": "sms"}])
def test_confirm_validates_the_channel(auth_client, body: dict) -> None:
    response = auth_client.post("/auth/otp/code", body, format="json", HTTP_X_OTP="123456")

    assert _error(response) == (400, "validation_error")
    assert "channel" in response.json()["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize("channel", ["SMS", "TOTP"])
def test_confirm_a_channel_not_configured_is_400(auth_client, user, channel: str) -> None:
    assert _error(_confirm(auth_client, channel, "123456")) == (400, "channel_not_configured")
    assert _failures(user) == 0


@pytest.mark.django_db
def test_confirm_a_channel_already_verified_is_400(totp_user) -> None:
    user, authenticator = totp_user
    _phone_verified(user)
    client = _client(user)

    answers = [_error(_confirm(client, channel, authenticator.now())) for channel in ["EMAIL", "SMS", "TOTP"]]

    assert answers == [(400, "channel_already_verified")] * 3
    assert _failures(user) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("code", [None, "", "000000", "12345", "abcdef"])
def test_confirm_with_a_wrong_or_missing_code_is_403_and_counted(auth_client, user, code: str | None) -> None:
    _add_phone(auth_client)
    pending = last_sms_code()
    code = f"{(int(pending) + 1) % 1_000_000:06d}" if code == "000000" else code

    response = _confirm(auth_client, "SMS", code)

    assert _error(response) == (403, "otp_invalid")
    assert _failures(user) == 1
    assert SmsDevice.objects.get(user=user).confirmed is False


@pytest.mark.django_db
def test_confirm_totp_with_a_wrong_code_is_403(auth_client, user) -> None:
    authenticator = pyotp.TOTP(auth_client.post("/auth/otp/methods/totp").json()["secret"])

    response = _confirm(auth_client, "TOTP", _wrong_totp(authenticator))

    assert _error(response) == (403, "otp_invalid")
    assert TOTPDevice.objects.get(user=user).confirmed is False


@pytest.mark.django_db
@pytest.mark.parametrize(("elapsed", "status"), [(599, 200), (600, 403), (601, 403)])
def test_confirm_with_a_code_ten_minutes_old_is_refused(user, elapsed: int, status: int) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        _add_phone(_client(user))
        traveller.shift(elapsed)

        response = _confirm(_client(user), "SMS", last_sms_code())

    assert response.status_code == status, response.json()


@pytest.mark.django_db
def test_confirm_during_a_delay_is_throttled_even_with_the_right_code(user) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        client = _client(user)
        _add_phone(client)
        code = last_sms_code()
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        answers = [_error(_confirm(client, "SMS", wrong)) for _ in range(3)]

        throttled = _confirm(client, "SMS", code)
        traveller.shift(1)
        confirmed = _confirm(client, "SMS", code)

    assert answers == [(403, "otp_invalid")] * 3
    assert _error(throttled) == (429, "otp_throttled")
    assert throttled["Retry-After"] == "1"
    assert confirmed.status_code == 200, confirmed.json()
    assert _failures(user) == 0


@pytest.mark.django_db
def test_confirm_code_is_single_use(user) -> None:
    client = _client(user)
    _add_phone(client)
    code = last_sms_code()
    assert _confirm(client, "SMS", code).status_code == 200
    SmsDevice.objects.filter(user=user).update(confirmed=False)
    User.objects.filter(pk=user.pk).update(phone_verified_at=None)

    assert _error(_confirm(client, "SMS", code)) == (403, "otp_invalid")


@pytest.mark.django_db
def test_email_code_does_not_confirm_the_phone() -> None:
    user = UserFactory(email_verified_at=None)
    with time_machine.travel(START, tick=False):
        client = _client(user)
        client.get("/auth/otp/code", {"method": "EMAIL"})
        _add_phone(client)
        email_code, sms_code = last_email_code(), last_sms_code()

        answers = [_confirm(client, "SMS", email_code), _confirm(client, "EMAIL", sms_code)]

    if email_code != sms_code:
        assert [_error(response) for response in answers] == [(403, "otp_invalid")] * 2


# --- POST /auth/otp/methods/recovery-codes -------------------------------------------------------


@pytest.mark.django_db
def test_recovery_codes_without_a_verified_factor_are_400(auth_client) -> None:
    auth_client.post("/auth/otp/methods/totp")

    assert _error(auth_client.post("/auth/otp/methods/recovery-codes")) == (400, "mfa_not_enabled")


@pytest.mark.django_db
def test_recovery_codes_are_shown_once_and_stored_hashed(totp_user) -> None:
    user, authenticator = totp_user

    response = _client(user).post("/auth/otp/methods/recovery-codes", HTTP_X_OTP=authenticator.now())

    assert response.status_code == 200, response.json()
    assert response["Cache-Control"] == "no-store"
    codes = response.json()["codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    stored = list(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(stored) == 10
    assert not {code.replace("-", "") for code in codes} & set(stored)
    assert not any(code.replace("-", "") in _client(user).get("/auth/me").content.decode() for code in codes)


@pytest.mark.django_db
def test_regenerated_recovery_codes_replace_the_old_ones(user) -> None:
    _phone_verified(user)
    old = _recovery_codes_give(user)
    client = _client(user)

    response = client.post("/auth/otp/methods/recovery-codes", HTTP_X_OTP=old[0])

    new = response.json()["codes"]
    assert services.recovery_codes_remaining(user) == 10
    assert _error(client.post("/auth/otp/methods/recovery-codes", HTTP_X_OTP=old[1])) == (403, "otp_invalid")
    assert client.post("/auth/otp/methods/recovery-codes", HTTP_X_OTP=new[0]).status_code == 200


@pytest.mark.django_db
def test_deleting_the_last_factor_removes_the_recovery_codes(totp_user) -> None:
    user, _ = totp_user
    codes = _recovery_codes_give(user)
    client = _client(user)

    response = client.delete("/auth/otp/methods/totp", HTTP_X_OTP=codes[0].upper().replace("-", " "))

    assert response.status_code == 200, response.json()
    assert not StaticToken.objects.filter(device__user=user).exists()
    assert _error(client.post("/auth/otp/methods/recovery-codes")) == (400, "mfa_not_enabled")


# --- step-up on every sensitive endpoint -------------------------------------------------------


@dataclass(frozen=True)
class Sensitive:
    """A sensitive endpoint, the factors its user has, and how to tell it did its work."""

    name: str
    has_totp: bool
    has_phone: bool
    call: Callable[[APIClient, dict[str, str]], object]
    done: Callable[[User], bool]


def _password_changed(user: User) -> bool:
    user.refresh_from_db()
    return user.check_password(NEW_PASSWORD)


SENSITIVE = [
    Sensitive(
        "enrol-totp-beside-a-phone",
        has_totp=False,
        has_phone=True,
        call=lambda client, headers: client.post("/auth/otp/methods/totp", **headers),
        done=lambda user: TOTPDevice.objects.filter(user=user).exists(),
    ),
    Sensitive(
        "delete-totp",
        has_totp=True,
        has_phone=True,
        call=lambda client, headers: client.delete("/auth/otp/methods/totp", **headers),
        done=lambda user: not TOTPDevice.objects.filter(user=user).exists(),
    ),
    Sensitive(
        "add-phone-beside-totp",
        has_totp=True,
        has_phone=False,
        call=lambda client, headers: _add_phone(client, "622 33 44 55", **headers),
        done=lambda user: SmsDevice.objects.filter(user=user).exists(),
    ),
    Sensitive(
        "delete-phone",
        has_totp=True,
        has_phone=True,
        call=lambda client, headers: client.delete("/auth/otp/methods/sms", **headers),
        done=lambda user: not SmsDevice.objects.filter(user=user).exists(),
    ),
    Sensitive(
        "recovery-codes",
        has_totp=True,
        has_phone=True,
        call=lambda client, headers: client.post("/auth/otp/methods/recovery-codes", **headers),
        done=lambda user: SecurityEvent.objects.filter(
            user=user, type=SecurityEvent.Type.RECOVERY_CODES_GENERATED
        ).exists(),
    ),
    Sensitive(
        "password-change",
        has_totp=True,
        has_phone=True,
        call=lambda client, headers: client.post(
            "/auth/password/change",
            {"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD},
            format="json",
            **headers,
        ),
        done=_password_changed,
    ),
]


@dataclass
class StepUpUser:
    user: User
    client: APIClient
    authenticator: pyotp.TOTP | None
    recovery_codes: list[str]


def _step_up_user(endpoint: Sensitive) -> StepUpUser:
    user = UserFactory()
    authenticator = None
    if endpoint.has_totp:
        enrolment = services.totp_device_create(user=user, otp=None, client=Client())
        TOTPDevice.objects.filter(user=user).update(confirmed=True)
        User.objects.filter(pk=user.pk).update(totp_verified_at=timezone.now())
        authenticator = pyotp.TOTP(enrolment.secret)
    if endpoint.has_phone:
        _phone_verified(user)
    user.refresh_from_db()
    return StepUpUser(user, _client(user), authenticator, _recovery_codes_give(user))


def _step_up_code(subject: StepUpUser, factor: str) -> str:
    if factor == "TOTP":
        return subject.authenticator.now()
    if factor == "SMS":
        sent = subject.client.get("/auth/otp/code", {"method": "SMS"})
        assert sent.status_code == 200, sent.json()
        assert sent.json()["validated"] is True
        return last_sms_code()
    return subject.recovery_codes[0]


def _factors_of(endpoint: Sensitive) -> list[str]:
    return [
        *(["TOTP"] if endpoint.has_totp else []),
        *(["SMS"] if endpoint.has_phone else []),
        "RECOVERY_CODE",
    ]


STEP_UP_CASES = [
    pytest.param(endpoint, factor, id=f"{endpoint.name}-{factor}")
    for endpoint in SENSITIVE
    for factor in _factors_of(endpoint)
]


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", SENSITIVE, ids=[endpoint.name for endpoint in SENSITIVE])
def test_step_up_missing_code_is_refused_and_counted(endpoint: Sensitive) -> None:
    subject = _step_up_user(endpoint)

    response = endpoint.call(subject.client, {})

    assert _error(response) == (403, "otp_invalid")
    assert _failures(subject.user) == 1
    assert endpoint.done(subject.user) is False


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", SENSITIVE, ids=[endpoint.name for endpoint in SENSITIVE])
def test_step_up_wrong_code_is_refused_and_counted(endpoint: Sensitive) -> None:
    subject = _step_up_user(endpoint)
    wrong = _wrong_totp(subject.authenticator) if subject.authenticator else "000000"

    answers = [
        _error(endpoint.call(subject.client, {"HTTP_X_OTP": wrong})),
        _error(endpoint.call(subject.client, {"HTTP_X_OTP": "zzzzz-zzzzz"})),
    ]

    assert answers == [(403, "otp_invalid")] * 2
    assert _failures(subject.user) == 2
    assert endpoint.done(subject.user) is False


@pytest.mark.django_db
@pytest.mark.parametrize(("endpoint", "factor"), STEP_UP_CASES)
def test_step_up_right_code_is_accepted_once(endpoint: Sensitive, factor: str) -> None:
    subject = _step_up_user(endpoint)
    with time_machine.travel(START, tick=False):
        subject.client = _client(subject.user)
        subject.user.otp_failure_count = 2
        subject.user.save(update_fields=["otp_failure_count"])
        code = _step_up_code(subject, factor)

        response = endpoint.call(subject.client, {"HTTP_X_OTP": code})

        assert response.status_code == 200, response.json()
        assert endpoint.done(subject.user) is True
        assert _failures(subject.user) == 0
        if factor == "RECOVERY_CODE" and endpoint.name != "recovery-codes":
            assert services.recovery_codes_remaining(subject.user) == 9
        # Replayed: on a sensitive endpoint every user with a factor left can reach.
        replay = _client(User.objects.get(pk=subject.user.pk)).post(
            "/auth/otp/methods/recovery-codes", HTTP_X_OTP=code
        )
        assert _error(replay) == (403, "otp_invalid")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "call",
    [
        lambda client: client.post("/auth/otp/methods/totp"),
        lambda client: _add_phone(client),
        lambda client: client.post(
            "/auth/password/change",
            {"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD},
            format="json",
        ),
    ],
    ids=["enrol-totp", "add-phone", "password-change"],
)
def test_users_without_a_verified_factor_need_no_step_up(auth_client, user, call) -> None:
    response = call(auth_client)

    assert response.status_code == 200, response.json()
    assert _failures(user) == 0


@pytest.mark.django_db
def test_password_change_replayed_code_is_refused(totp_user) -> None:
    user, authenticator = totp_user
    body = {"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD}
    code = authenticator.now()

    first = _client(user).post("/auth/password/change", body, format="json", HTTP_X_OTP=code)
    user.refresh_from_db()
    body = {"currentPassword": NEW_PASSWORD, "newPassword": DEFAULT_PASSWORD + " again"}
    second = _client(user).post("/auth/password/change", body, format="json", HTTP_X_OTP=code)

    assert first.status_code == 200, first.json()
    assert _error(second) == (403, "otp_invalid")
    assert _password_changed(user)


@pytest.mark.django_db
def test_login_sms_code_is_refused_as_step_up_code(api_client, user) -> None:
    _phone_verified(user)
    challenge = api_client.post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD, "otpMethod": "SMS"}, format="json"
    )
    assert challenge.json()["channel"] == "SMS"

    response = _client(user).delete("/auth/otp/methods/sms", HTTP_X_OTP=last_sms_code())

    assert _error(response) == (403, "otp_invalid")
    assert SmsDevice.objects.filter(user=user).exists()


# --- per-account throttling and lock through the API ---------------------------------------------


@pytest.mark.django_db
def test_third_failure_starts_a_delay_that_refuses_even_the_right_code(totp_user) -> None:
    user, authenticator = totp_user
    with time_machine.travel(START, tick=False) as traveller:
        client = _client(user)
        wrong = _wrong_totp(authenticator)
        first_three = [_error(client.delete("/auth/otp/methods/totp", HTTP_X_OTP=wrong)) for _ in range(3)]

        throttled = client.delete("/auth/otp/methods/totp", HTTP_X_OTP=authenticator.now())

        assert first_three == [(403, "otp_invalid")] * 3
        assert _error(throttled) == (429, "otp_throttled")
        assert throttled["Retry-After"] == "1"
        assert _failures(user) == 3
        traveller.shift(1)
        assert _error(client.delete("/auth/otp/methods/totp", HTTP_X_OTP=wrong)) == (403, "otp_invalid")
        traveller.shift(1.5)
        doubled = client.delete("/auth/otp/methods/totp", HTTP_X_OTP=authenticator.now())
        assert _error(doubled) == (429, "otp_throttled")
        assert doubled["Retry-After"] == "1"
        traveller.shift(0.5)

        response = client.delete("/auth/otp/methods/totp", HTTP_X_OTP=authenticator.now())

    assert response.status_code == 200, response.json()
    assert _failures(user) == 0


@pytest.mark.django_db
def test_delays_double_up_to_fifteen_minutes(totp_user) -> None:
    user, authenticator = totp_user
    delays = []
    with time_machine.travel(START, tick=False) as traveller:
        for failures in range(1, 16):
            client = _client(user)
            # Failures 1 and 2 leave no delay: the next failure is checked at once.
            assert _error(client.post("/auth/otp/methods/recovery-codes")) == (403, "otp_invalid")
            assert _failures(user) == failures
            if failures >= 3:
                throttled = client.post("/auth/otp/methods/recovery-codes", HTTP_X_OTP=authenticator.now())
                assert _error(throttled) == (429, "otp_throttled")
                delays.append(int(throttled["Retry-After"]))
                traveller.shift(delays[-1])

    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]
    assert _failures(user) == 15


@pytest.mark.django_db
def test_failures_count_across_channels_and_client_addresses(totp_user) -> None:
    user, authenticator = totp_user
    wrong = _wrong_totp(authenticator)
    first = _client(user, REMOTE_ADDR="198.51.100.1")
    second = _client(user, REMOTE_ADDR="198.51.100.2")
    third = _client(user, REMOTE_ADDR="2001:db8::3")
    _add_phone(first, HTTP_X_OTP=authenticator.now())

    answers = [
        _error(_confirm(second, "SMS", f"{(int(last_sms_code()) + 1) % 1_000_000:06d}")),
        _error(third.delete("/auth/otp/methods/totp", HTTP_X_OTP=wrong)),
        _error(first.post("/auth/otp/methods/recovery-codes", HTTP_X_OTP=wrong)),
        _error(second.post("/auth/otp/methods/recovery-codes", HTTP_X_OTP=authenticator.now())),
    ]

    assert answers == [(403, "otp_invalid")] * 3 + [(429, "otp_throttled")]
    assert _failures(user) == 3
    addresses = set(
        SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.SECOND_FACTOR_FAILED).values_list(
            "ip_address", flat=True
        )
    )
    assert addresses == {"198.51.100.1", "198.51.100.2", "2001:db8::3"}


@pytest.mark.django_db
def test_enough_failures_lock_the_account_and_its_tokens(settings: Settings, totp_user) -> None:
    settings.OTP_FAILURES_BEFORE_LOCK = 5
    settings.OTP_FAILURES_BEFORE_DELAY = 10
    user, _ = totp_user
    client = _client(user)

    answers = [_error(client.delete("/auth/otp/methods/totp")) for _ in range(6)]

    assert answers == [(403, "otp_invalid")] * 5 + [(401, "token_not_valid")]
    user.refresh_from_db()
    assert user.status == User.Status.LOCKED
    assert user.otp_failure_count == 5
