"""Passkeys at login (alone, and after a password) and for step-up."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.cache import cache
from django.utils import timezone
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from accounts.models import SecurityEvent, User
from otp.webauthn.models import WebAuthnDevice
from tests.conftest import authenticate, throttle_rate_set
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.otp.webauthn.authenticator import SoftwareAuthenticator
from tests.otp.webauthn.conftest import passkey_register
from tests.otp.webauthn.test_registration import step_up_token

LOGIN_OPTIONS = "/auth/login/webauthn/options"
LOGIN = "/auth/login/webauthn"
STEP_UP_OPTIONS = "/auth/otp/webauthn/step-up/options"
STEP_UP = "/auth/otp/webauthn/step-up"


def amr_of(id_token: str) -> list[str]:
    return jwt.decode(id_token, options={"verify_signature": False})["amr"]


def login_options(client: APIClient) -> dict[str, Any]:
    response = client.post(LOGIN_OPTIONS, {}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def passwordless(client: APIClient, authenticator: SoftwareAuthenticator, **bend: Any) -> Any:
    options = login_options(client)
    credential = authenticator.get(options["publicKey"], **bend)
    return client.post(
        LOGIN, {"challengeId": options["challengeId"], "credential": credential}, format="json"
    )


def failures_of(user: User) -> int:
    user.refresh_from_db()
    return user.otp_failure_count


def ip_failures(client: APIClient) -> int:
    """The failed logins counted on the client's IP (the test client's REMOTE_ADDR)."""
    from accounts.core.login_throttles import _ip_key

    key, _ = _ip_key(client._credentials.get("REMOTE_ADDR", "127.0.0.1"), time.time())
    return cache.get(key) or 0


# --- passwordless ---------------------------------------------------------------------------


def test_login_options_are_for_discoverable_passkeys(api_client: APIClient) -> None:
    public_key = login_options(api_client)["publicKey"]

    assert public_key["rpId"] == "localhost"
    assert public_key["userVerification"] == "required"
    assert public_key.get("allowCredentials", []) == []


def test_a_passkey_alone_logs_in_with_amr_pop_mfa(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator]
) -> None:
    user, authenticator = passkey_user

    response = passwordless(api_client, authenticator)

    assert response.status_code == 200, response.json()
    assert amr_of(response.json()["idToken"]) == ["pop", "mfa"]
    device = WebAuthnDevice.objects.get(user=user)
    assert device.sign_count == 1 and device.last_used_at is not None
    event = SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.LOGIN_SUCCEEDED).get()
    assert event.details == {"factor": "webauthn", "passwordless": True}


@pytest.mark.parametrize(
    ("bend", "why"),
    [
        ({"origin": "https://evil.example"}, "wrong origin"),
        ({"origin": "http://127.0.0.1:8000"}, "an IP origin"),
        ({"rp_id": "evil.example"}, "wrong RP ID hash"),
        ({"type_": "webauthn.create"}, "wrong type"),
        ({"user_verified": False}, "user verification missing"),
        ({"signing_key": ec.generate_private_key(ec.SECP256R1())}, "bad signature"),
    ],
)
def test_an_assertion_that_does_not_verify_is_refused_as_an_unknown_one_and_counted_on_the_ip(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator], bend: dict, why: str
) -> None:
    """Anyone can send a known credential id: a forgery must cost its owner nothing (issue 23, 5)."""
    user, authenticator = passkey_user
    unknown = passwordless(api_client, SoftwareAuthenticator())

    response = passwordless(api_client, authenticator, **bend)

    assert response.status_code == unknown.status_code == 403, why
    assert (
        response.json()
        == unknown.json()
        == {
            "code": "webauthn_invalid",
            "detail": "The passkey could not be verified.",
        }
    ), why
    assert failures_of(user) == 0, why
    assert not SecurityEvent.objects.filter(user=user).exclude(type=SecurityEvent.Type.FACTOR_ADDED).exists()
    assert ip_failures(api_client) == 2, why


def test_an_unknown_credential_answers_as_a_bad_signature(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator]
) -> None:
    _, authenticator = passkey_user
    bad_signature = passwordless(
        api_client, authenticator, signing_key=ec.generate_private_key(ec.SECP256R1())
    )

    unknown = passwordless(api_client, SoftwareAuthenticator())

    assert unknown.status_code == bad_signature.status_code == 403
    assert unknown.json() == bad_signature.json()


def test_an_unknown_credential_is_counted_as_a_failed_passkey_login(api_client: APIClient, db: None) -> None:
    """No account to record it on: it is logged and counted like an unknown email's wrong password."""

    def failed() -> float:
        return (
            REGISTRY.get_sample_value("auth_logins_total", {"result": "failed", "factor": "webauthn"}) or 0.0
        )

    before = failed()
    assert passwordless(api_client, SoftwareAuthenticator()).status_code == 403
    assert failed() == before + 1


def test_a_challenge_is_accepted_once(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator]
) -> None:
    _, authenticator = passkey_user
    options = login_options(api_client)
    body = {"challengeId": options["challengeId"], "credential": authenticator.get(options["publicKey"])}

    first = api_client.post(LOGIN, body, format="json")
    replay = api_client.post(LOGIN, body, format="json")

    assert first.status_code == 200
    assert replay.status_code == 400 and replay.json()["code"] == "challenge_invalid"


def test_a_challenge_expires_after_five_minutes(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator], settings: Any
) -> None:
    _, authenticator = passkey_user
    settings.WEBAUTHN_CHALLENGE_SECONDS = 0  # the cache's own expiry, as after 5 minutes
    options = login_options(api_client)

    response = api_client.post(
        LOGIN,
        {"challengeId": options["challengeId"], "credential": authenticator.get(options["publicKey"])},
        format="json",
    )

    assert response.status_code == 400 and response.json()["code"] == "challenge_invalid"


def test_a_challenge_of_another_purpose_is_refused(passkey_user: tuple[User, SoftwareAuthenticator]) -> None:
    user, authenticator = passkey_user
    client = authenticate(APIClient(), user)
    step_up = client.post(STEP_UP_OPTIONS).json()

    response = APIClient().post(
        LOGIN,
        {"challengeId": step_up["challengeId"], "credential": authenticator.get(step_up["publicKey"])},
        format="json",
    )

    assert response.status_code == 400 and response.json()["code"] == "challenge_invalid"


def test_a_counter_going_backwards_is_refused_and_recorded(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator]
) -> None:
    user, authenticator = passkey_user
    assert passwordless(api_client, authenticator, sign_count=10).status_code == 200

    cloned = passwordless(api_client, authenticator, sign_count=5)
    same = passwordless(api_client, authenticator, sign_count=10)

    assert cloned.status_code == same.status_code == 403
    assert cloned.json()["code"] == "webauthn_invalid"
    events = SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.PASSKEY_COUNTER_REGRESSED)
    assert [event.details["received"] for event in events.order_by("id")] == [5, 10]
    assert WebAuthnDevice.objects.get(user=user).sign_count == 10


def test_an_authenticator_without_a_counter_keeps_working(api_client: APIClient, user: User) -> None:
    authenticator = SoftwareAuthenticator(counter=False)
    passkey_register(user, authenticator)

    assert passwordless(api_client, authenticator).status_code == 200
    assert passwordless(api_client, authenticator).status_code == 200


@pytest.mark.parametrize("handle", [b"\x00" * 32, None], ids=["another account's", "none"])
def test_a_user_handle_not_the_owners_is_refused_as_an_unknown_credential(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator], handle: bytes | None
) -> None:
    """A discoverable credential's assertion must name its user (WebAuthn L3 §7.2 step 6)."""
    user, authenticator = passkey_user
    authenticator.user_handle = handle

    response = passwordless(api_client, authenticator)

    assert response.status_code == 403 and response.json()["code"] == "webauthn_invalid"
    assert failures_of(user) == 0
    assert WebAuthnDevice.objects.get(user=user).sign_count == 0, "nothing of the passkey changed"


@pytest.mark.parametrize(
    ("status", "code"),
    [("BLOCKED", "account_blocked"), ("FROZEN", "account_frozen"), ("LOCKED", "account_locked")],
)
def test_blocked_frozen_and_locked_accounts_are_refused(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator], status: str, code: str
) -> None:
    user, authenticator = passkey_user
    User.objects.filter(pk=user.pk).update(status=status, locked_until=None)

    response = passwordless(api_client, authenticator)

    assert response.status_code == 403 and response.json()["code"] == code


def test_forged_assertions_neither_lock_nor_delay_the_account(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator], settings: Any
) -> None:
    user, authenticator = passkey_user
    settings.OTP_FAILURES_BEFORE_LOCK = 3
    forger = SoftwareAuthenticator()
    forger.credential_id, forger.user_handle = authenticator.credential_id, authenticator.user_handle
    for _ in range(5):
        assert passwordless(APIClient(REMOTE_ADDR="198.51.100.7"), forger).status_code == 403

    response = passwordless(api_client, authenticator)

    assert response.status_code == 200, response.json()
    user.refresh_from_db()
    assert user.status == User.Status.ACTIVE and user.otp_failure_count == 0


def test_failed_passkey_logins_are_throttled_per_ip(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator], settings: Any
) -> None:
    settings.LOGIN_IP_MAX_FAILURES = 3
    _, authenticator = passkey_user
    attacker = APIClient(REMOTE_ADDR="198.51.100.8")
    for _ in range(3):
        passwordless(attacker, authenticator, user_verified=False)

    refused = passwordless(attacker, authenticator)

    assert refused.status_code == 429 and refused.json()["code"] == "login_throttled"
    assert "Retry-After" in refused
    assert passwordless(api_client, authenticator).status_code == 200, "another IP logs in"


@pytest.mark.parametrize("status", ["BLOCKED", "LOCKED"])
def test_a_forged_assertion_reveals_nothing_of_the_account(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator], status: str
) -> None:
    user, authenticator = passkey_user
    User.objects.filter(pk=user.pk).update(status=status, locked_until=None)

    forged = passwordless(api_client, authenticator, signing_key=ec.generate_private_key(ec.SECP256R1()))

    assert forged.status_code == 403
    assert forged.json() == passwordless(api_client, SoftwareAuthenticator()).json()


# --- second factor after a password ---------------------------------------------------------


def password_login(client: APIClient, user: User, **body: Any) -> Any:
    return client.post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD, **body}, format="json"
    )


def test_passkeys_are_offered_first(api_client: APIClient, totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, totp = totp_user
    passkey_register(user, SoftwareAuthenticator(), otp=totp.now())

    response = password_login(api_client, user)

    assert response.status_code == 403
    assert response.json()["methods"][:2] == ["WEBAUTHN", "TOTP"]


def test_a_passkey_as_second_factor_gives_amr_pwd_pop(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator]
) -> None:
    user, authenticator = passkey_user

    challenge = password_login(api_client, user, otpMethod="WEBAUTHN")
    webauthn = challenge.json()["webauthn"]
    allowed = [item["id"] for item in webauthn["publicKey"]["allowCredentials"]]
    response = password_login(
        api_client,
        user,
        webauthn={
            "challengeId": webauthn["challengeId"],
            "credential": authenticator.get(webauthn["publicKey"]),
        },
    )

    assert challenge.status_code == 403 and challenge.json()["code"] == "otp_required"
    assert challenge.json()["methods"] == ["WEBAUTHN"]
    assert allowed == [authenticator.id]
    assert response.status_code == 200, response.json()
    assert amr_of(response.json()["idToken"]) == ["pwd", "pop"]


def test_another_users_passkey_is_no_second_factor(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator]
) -> None:
    user, _ = passkey_user
    stranger = SoftwareAuthenticator()
    passkey_register(UserFactory(), stranger)
    webauthn = password_login(api_client, user, otpMethod="WEBAUTHN").json()["webauthn"]

    response = password_login(
        api_client,
        user,
        webauthn={"challengeId": webauthn["challengeId"], "credential": stranger.get(webauthn["publicKey"])},
    )

    assert response.status_code == 403 and response.json()["code"] == "webauthn_invalid"
    assert failures_of(user) == 1


def test_a_passkey_needs_the_right_password_first(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator]
) -> None:
    user, _ = passkey_user

    response = api_client.post(
        "/auth/login",
        {"email": user.email, "password": "wrong password", "otpMethod": "WEBAUTHN"},
        format="json",
    )

    assert response.status_code == 403 and response.json()["code"] == "authentication_failed"
    assert "webauthn" not in response.json()


def test_webauthn_for_an_account_without_passkey_is_not_allowed(
    api_client: APIClient, totp_user: tuple[User, pyotp.TOTP]
) -> None:
    user, _ = totp_user

    asked = password_login(api_client, user, otpMethod="WEBAUTHN")
    sent = password_login(api_client, user, webauthn={"challengeId": "x", "credential": {}})

    assert asked.status_code == sent.status_code == 400
    assert asked.json()["code"] == sent.json()["code"] == "method_not_allowed"


def test_a_login_challenge_cannot_serve_as_second_factor(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator]
) -> None:
    user, authenticator = passkey_user
    options = login_options(api_client)

    response = password_login(
        api_client,
        user,
        webauthn={
            "challengeId": options["challengeId"],
            "credential": authenticator.get(options["publicKey"]),
        },
    )

    assert response.status_code == 400 and response.json()["code"] == "challenge_invalid"


# --- step-up --------------------------------------------------------------------------------


def test_a_step_up_token_works_once(passkey_user: tuple[User, SoftwareAuthenticator]) -> None:
    user, authenticator = passkey_user
    client = authenticate(APIClient(), user)
    token = step_up_token(client, authenticator)

    first = client.post("/auth/otp/methods/recovery-codes", HTTP_X_OTP=token)
    reused = client.post("/auth/otp/methods/recovery-codes", HTTP_X_OTP=token)

    assert first.status_code == 200 and len(first.json()["codes"]) == 10
    assert reused.status_code == 403 and reused.json()["code"] == "otp_invalid"


def test_a_step_up_answer_carries_its_validity(passkey_user: tuple[User, SoftwareAuthenticator]) -> None:
    user, authenticator = passkey_user
    client = authenticate(APIClient(), user)
    options = client.post(STEP_UP_OPTIONS).json()

    response = client.post(
        STEP_UP,
        {"challengeId": options["challengeId"], "credential": authenticator.get(options["publicKey"])},
        format="json",
    )

    body = response.json()
    assert len(body["stepUpToken"]) == 43
    valid_for = (timezone.datetime.fromisoformat(body["validUntil"]) - timezone.now()).total_seconds()
    assert 290 < valid_for <= 300
    assert response["Cache-Control"] == "no-store"


def test_a_step_up_token_is_bound_to_its_user(passkey_user: tuple[User, SoftwareAuthenticator]) -> None:
    user, authenticator = passkey_user
    token = step_up_token(authenticate(APIClient(), user), authenticator)
    other = UserFactory()
    passkey_register(other, SoftwareAuthenticator())

    response = authenticate(APIClient(), other).post("/auth/otp/methods/recovery-codes", HTTP_X_OTP=token)

    assert response.status_code == 403 and response.json()["code"] == "otp_invalid"


def test_a_step_up_token_is_no_login_code(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator]
) -> None:
    user, authenticator = passkey_user
    token = step_up_token(authenticate(APIClient(), user), authenticator)

    response = api_client.post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json", HTTP_X_OTP=token
    )

    assert response.status_code == 403 and response.json()["code"] == "otp_invalid"


def test_step_up_with_a_bad_assertion_is_refused_and_counted(
    passkey_user: tuple[User, SoftwareAuthenticator],
) -> None:
    user, authenticator = passkey_user
    client = authenticate(APIClient(), user)
    options = client.post(STEP_UP_OPTIONS).json()

    response = client.post(
        STEP_UP,
        {
            "challengeId": options["challengeId"],
            "credential": authenticator.get(options["publicKey"], user_verified=False),
        },
        format="json",
    )

    assert response.status_code == 403 and response.json()["code"] == "webauthn_invalid"
    assert failures_of(user) == 1


def test_step_up_options_need_a_passkey(auth_client: APIClient) -> None:
    response = auth_client.post(STEP_UP_OPTIONS)

    assert response.status_code == 400 and response.json()["code"] == "method_not_allowed"


def test_the_profile_shows_the_passkeys(passkey_user: tuple[User, SoftwareAuthenticator]) -> None:
    user, _ = passkey_user

    body = authenticate(APIClient(), user).get("/auth/me").json()

    assert body["hasPasskey"] is True and body["passkeyCount"] == 1


def test_passwordless_challenges_are_limited_per_ip(settings) -> None:
    """Each challenge waits five minutes in the cache: one client may not fill it."""
    throttle_rate_set(settings, "passkey_login_options", "2/minute")
    client = APIClient(REMOTE_ADDR="203.0.113.5")
    for _ in range(2):
        login_options(client)

    refused = client.post(LOGIN_OPTIONS, {}, format="json")

    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    assert APIClient(REMOTE_ADDR="203.0.113.6").post(LOGIN_OPTIONS, {}, format="json").status_code == 200
