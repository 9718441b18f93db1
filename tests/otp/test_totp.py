"""TOTP: RFC 6238 vectors, enrolment secrets, the ±1 step window and replay refusal."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
import pytest
import time_machine
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import User
from tests.conftest import authenticate
from tests.factories import DEFAULT_PASSWORD, UserFactory

RFC_SECRET = b"12345678901234567890"
RFC_6238_SHA1_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
# The middle of a 30 s step, so ±1 step stays inside the steps next to it.
MID_STEP = datetime(2030, 1, 1, 10, 0, 15, tzinfo=UTC)


@pytest.mark.parametrize(("unix_time", "expected"), RFC_6238_SHA1_VECTORS)
def test_rfc_6238_appendix_b_vectors(unix_time: int, expected: str) -> None:
    totp = TOTP(RFC_SECRET, step=30, t0=0, digits=8)
    totp.time = unix_time

    assert f"{totp.token():08d}" == expected


@pytest.mark.django_db
@pytest.mark.parametrize(("unix_time", "expected"), RFC_6238_SHA1_VECTORS)
def test_totp_device_accepts_the_rfc_vectors(unix_time: int, expected: str) -> None:
    device = TOTPDevice.objects.create(
        user=UserFactory(), name="rfc", key=binascii.hexlify(RFC_SECRET).decode(), digits=8, tolerance=0
    )

    with time_machine.travel(unix_time, tick=False):
        assert device.verify_token(expected) is True


def _enrol(client: APIClient) -> dict:
    response = client.post("/auth/otp/methods/totp")
    assert response.status_code == 200, response.json()
    return response.json()


@pytest.mark.django_db
def test_enrolment_secret_is_160_bits_base32_and_the_uri_names_the_issuer(auth_client, user) -> None:
    body = _enrol(auth_client)

    secret = body["secret"]
    assert len(secret) == 32
    assert len(base64.b32decode(secret)) == 20
    uri = urlparse(body["otpauthUri"])
    assert uri.scheme == "otpauth"
    assert uri.netloc == "totp"
    query = parse_qs(uri.query)
    assert query["secret"] == [secret]
    assert query["issuer"] == ["Auth Service"]
    assert unquote(uri.path).lstrip("/") == f"Auth Service:{user.email}"
    assert TOTPDevice.objects.get(user=user).bin_key == base64.b32decode(secret)


@pytest.mark.django_db
def test_every_enrolment_draws_a_new_secret(auth_client) -> None:
    secrets = {_enrol(auth_client)["secret"] for _ in range(3)}

    assert len(secrets) == 3


@pytest.mark.django_db
def test_code_from_pyotp_for_the_returned_uri_is_accepted(auth_client, user) -> None:
    authenticator = pyotp.parse_uri(_enrol(auth_client)["otpauthUri"])

    response = auth_client.post(
        "/auth/otp/code", {"channel": "TOTP"}, format="json", HTTP_X_OTP=authenticator.now()
    )

    assert response.status_code == 200, response.json()
    assert response.json()["hasValidatedSecret"] is True
    user.refresh_from_db()
    assert user.totp_verified_at is not None
    assert TOTPDevice.objects.get(user=user).confirmed is True


@pytest.mark.django_db
def test_secret_is_never_shown_again(auth_client) -> None:
    secret = _enrol(auth_client)["secret"]

    assert secret not in auth_client.get("/auth/me").content.decode()


@pytest.mark.django_db
def test_replaced_unverified_secret_no_longer_works(auth_client) -> None:
    old = pyotp.TOTP(_enrol(auth_client)["secret"])
    new = pyotp.TOTP(_enrol(auth_client)["secret"])

    refused = auth_client.post("/auth/otp/code", {"channel": "TOTP"}, format="json", HTTP_X_OTP=old.now())
    accepted = auth_client.post("/auth/otp/code", {"channel": "TOTP"}, format="json", HTTP_X_OTP=new.now())

    assert (refused.status_code, refused.json()["code"]) == (403, "otp_invalid")
    assert accepted.status_code == 200, accepted.json()


def _login(client: APIClient, user: User, code: str):
    return client.post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json", HTTP_X_OTP=code
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("offset_steps", "accepted"), [(-1, True), (0, True), (1, True), (-2, False), (2, False)]
)
def test_window_is_the_current_step_plus_or_minus_one(
    api_client, totp_user, offset_steps: int, accepted: bool
) -> None:
    user, authenticator = totp_user
    with time_machine.travel(MID_STEP, tick=False):
        code = authenticator.at(MID_STEP.timestamp() + 30 * offset_steps)

        response = _login(api_client, user, code)

    assert response.status_code == (200 if accepted else 403), response.json()


@pytest.mark.django_db
def test_same_code_is_refused_the_second_time(api_client, totp_user) -> None:
    user, authenticator = totp_user
    with time_machine.travel(MID_STEP, tick=False):
        code = authenticator.now()

        first = _login(api_client, user, code)
        second = _login(api_client, user, code)

    assert first.status_code == 200, first.json()
    assert (second.status_code, second.json()["code"]) == (403, "otp_invalid")


@pytest.mark.django_db
@pytest.mark.parametrize("earlier_steps", [0, 1, 2])
def test_steps_at_or_before_the_last_used_one_are_refused(api_client, totp_user, earlier_steps: int) -> None:
    user, authenticator = totp_user
    with time_machine.travel(MID_STEP, tick=False) as traveller:
        assert _login(api_client, user, authenticator.at(MID_STEP.timestamp() + 30)).status_code == 200
        # One step later the used step is "current -1", inside the window: still refused.
        traveller.shift(30)
        used_step = MID_STEP.timestamp() + 30

        response = _login(api_client, user, authenticator.at(used_step - 30 * earlier_steps))

    assert (response.status_code, response.json()["code"]) == (403, "otp_invalid")


@pytest.mark.django_db
def test_next_step_after_the_used_one_is_accepted(api_client, totp_user) -> None:
    user, authenticator = totp_user
    with time_machine.travel(MID_STEP, tick=False) as traveller:
        assert _login(api_client, user, authenticator.now()).status_code == 200
        traveller.shift(30)

        response = _login(api_client, user, authenticator.now())

    assert response.status_code == 200, response.json()


@pytest.mark.django_db
def test_code_used_to_confirm_enrolment_cannot_log_in(api_client, user) -> None:
    with time_machine.travel(MID_STEP, tick=False):
        client = authenticate(APIClient(), user)
        authenticator = pyotp.TOTP(_enrol(client)["secret"])
        code = authenticator.now()
        confirmed = client.post("/auth/otp/code", {"channel": "TOTP"}, format="json", HTTP_X_OTP=code)

        response = _login(api_client, user, code)

    assert confirmed.status_code == 200, confirmed.json()
    assert (response.status_code, response.json()["code"]) == (403, "otp_invalid")


@pytest.mark.django_db
def test_code_used_at_login_cannot_step_up(api_client, totp_user) -> None:
    user, authenticator = totp_user
    with time_machine.travel(MID_STEP, tick=False):
        code = authenticator.now()
        assert _login(api_client, user, code).status_code == 200
        client = authenticate(APIClient(), user)

        response = client.delete("/auth/otp/methods/totp", HTTP_X_OTP=code)

    assert (response.status_code, response.json()["code"]) == (403, "otp_invalid")
    assert TOTPDevice.objects.filter(user=user).exists()


@pytest.mark.django_db
# Full-width digits: Python's int() reads them, so the check must not rely on it.
@pytest.mark.parametrize(
    "code", ["12345", "1234567", "abcdef", "12 345", "\uff11\uff12\uff13\uff14\uff15\uff16"]
)
def test_malformed_codes_are_refused(api_client, totp_user, code: str) -> None:
    user, _ = totp_user

    response = _login(api_client, user, code)

    assert (response.status_code, response.json()["code"]) == (403, "otp_invalid")


@pytest.mark.django_db
def test_right_code_in_full_width_digits_is_refused(api_client, totp_user) -> None:
    user, authenticator = totp_user
    full_width = authenticator.now().translate({ord(digit): 0xFF10 + int(digit) for digit in "0123456789"})

    response = _login(api_client, user, full_width)

    assert (response.status_code, response.json()["code"]) == (403, "otp_invalid")
