"""The same passkey assertion posted many times at once is accepted once (PostgreSQL only)."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.otp.test_races import THREADS, _at_once
from tests.otp.webauthn.authenticator import SoftwareAuthenticator
from tests.otp.webauthn.conftest import passkey_register

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite has no row locks (SELECT ... FOR UPDATE), so it cannot race",
    ),
    pytest.mark.django_db(transaction=True),
]


def test_the_same_passwordless_assertion_logs_in_once() -> None:
    authenticator = SoftwareAuthenticator()
    passkey_register(UserFactory(), authenticator)
    options = APIClient().post("/auth/login/webauthn/options").json()
    body = {"challengeId": options["challengeId"], "credential": authenticator.get(options["publicKey"])}

    answers = _at_once(THREADS, lambda: APIClient().post("/auth/login/webauthn", body, format="json"))

    assert [status for status, _ in answers].count(200) == 1, answers
    assert {answer for answer in answers if answer[0] != 200} <= {(400, "challenge_invalid")}, answers


def test_the_same_second_factor_assertion_logs_in_once() -> None:
    authenticator = SoftwareAuthenticator()
    user = passkey_register(UserFactory(), authenticator)
    challenge = APIClient().post(
        "/auth/login",
        {"email": user.email, "password": DEFAULT_PASSWORD, "otpMethod": "WEBAUTHN"},
        format="json",
    )
    webauthn = challenge.json()["webauthn"]
    body = {
        "email": user.email,
        "password": DEFAULT_PASSWORD,
        "webauthn": {
            "challengeId": webauthn["challengeId"],
            "credential": authenticator.get(webauthn["publicKey"]),
        },
    }

    answers = _at_once(THREADS, lambda: APIClient().post("/auth/login", body, format="json"))

    assert [status for status, _ in answers].count(200) == 1, answers
    # Concurrent password checks of one email may also meet the login throttle's reservation.
    refusals = {(400, "challenge_invalid"), (429, "login_throttled")}
    assert {answer for answer in answers if answer[0] != 200} <= refusals, answers
