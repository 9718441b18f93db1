"""The journey of the MFA issue, through the API alone."""

from __future__ import annotations

import time

import pyotp
import pytest
import time_machine
from django.core import mail

from otp import sms_backends
from tests.conftest import last_email_code, last_sms_code

PASSWORD = "a perfectly fine passphrase"
EMAIL = "journey@example.com"


def _login(client, **extra):
    headers = {"HTTP_X_OTP": extra.pop("otp")} if "otp" in extra else {}
    return client.post(
        "/auth/login", {"email": EMAIL, "password": PASSWORD, **extra}, format="json", **headers
    )


@pytest.mark.django_db
def test_full_mfa_journey(api_client) -> None:
    assert (
        api_client.post("/auth/register", {"email": EMAIL, "password": PASSWORD}, format="json").status_code
        == 202
    )
    email_code = last_email_code()
    tokens = _login(api_client).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['idToken']}")

    # Verify the email by code.
    response = api_client.post("/auth/otp/code", {"channel": "EMAIL"}, format="json", HTTP_X_OTP=email_code)
    assert response.status_code == 200, response.json()
    assert response.json()["hasValidatedEmail"] is True

    # Enrol TOTP, confirm it with an authenticator's code.
    response = api_client.post("/auth/otp/methods/totp")
    assert response.status_code == 200, response.json()
    authenticator = pyotp.parse_uri(response.json()["otpauthUri"])
    response = api_client.post(
        "/auth/otp/code", {"channel": "TOTP"}, format="json", HTTP_X_OTP=authenticator.now()
    )
    assert response.status_code == 200, response.json()
    assert response.json()["hasValidatedSecret"] is True

    # Login now needs the second factor.
    response = _login(api_client)
    assert response.status_code == 403
    assert response.json()["code"] == "otp_required"
    assert response.json()["methods"] == ["TOTP"]

    # Add a phone: step-up with TOTP (next step, the current one is used).
    with time_machine.travel(time.time() + 30, tick=True):
        response = api_client.post(
            "/auth/otp/methods/sms",
            {"phone": "612 34 56 78", "country": "ES"},
            format="json",
            HTTP_X_OTP=authenticator.now(),
        )
        assert response.status_code == 200, response.json()
        assert response.json()["phoneNumber"] == "+34*******78"
        assert sms_backends.outbox[-1].to == "+34612345678"
        response = api_client.post(
            "/auth/otp/code", {"channel": "SMS"}, format="json", HTTP_X_OTP=last_sms_code()
        )
        assert response.status_code == 200, response.json()
        assert response.json()["hasValidatedPhone"] is True

        # Password + TOTP.
        response = _login(api_client, otp=authenticator.at(time.time() + 30))
    assert response.status_code == 200, response.json()

    with time_machine.travel(time.time() + 120, tick=True):
        # Password + SMS login code.
        response = _login(api_client, otpMethod="SMS")
        assert response.status_code == 403
        assert response.json()["channel"] == "SMS"
        response = _login(api_client, otp=last_sms_code())
        assert response.status_code == 200, response.json()

    with time_machine.travel(time.time() + 240, tick=True):
        # Recovery codes with step-up (an SMS step-up code), then log in with one.
        assert api_client.get("/auth/otp/code", {"method": "SMS"}).json()["validated"] is True
        response = api_client.post("/auth/otp/methods/recovery-codes", HTTP_X_OTP=last_sms_code())
        assert response.status_code == 200, response.json()
        codes = response.json()["codes"]
        assert len(codes) == 10
        response = _login(api_client, otp=codes[0])
        assert response.status_code == 200, response.json()
        assert _login(api_client, otp=codes[0]).json()["code"] == "otp_invalid"

        # Delete TOTP with step-up.
        response = api_client.delete("/auth/otp/methods/totp", HTTP_X_OTP=codes[1])
        assert response.status_code == 200, response.json()
        assert response.json()["hasValidatedSecret"] is False
    assert len(mail.outbox) >= 1
