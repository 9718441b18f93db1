"""Registering, listing and removing passkeys through the API."""

from __future__ import annotations

import pyotp
import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.auth.trusted_devices import trusted_device_create
from accounts.core.client import Client
from accounts.models import SecurityEvent, TrustedDevice, User
from otp.webauthn.models import WebAuthnDevice, WebAuthnUserHandle
from tests.conftest import Committed, authenticate
from tests.factories import UserFactory
from tests.otp.webauthn.authenticator import SoftwareAuthenticator, b64url, b64url_decode

OPTIONS = "/auth/otp/methods/webauthn/options"
METHOD = "/auth/otp/methods/webauthn"
STEP_UP_OPTIONS = "/auth/otp/webauthn/step-up/options"
STEP_UP = "/auth/otp/webauthn/step-up"


def _options(client: APIClient, **headers: str) -> dict:
    response = client.post(OPTIONS, **headers)
    assert response.status_code == 200, response.json()
    return response.json()


def _register(
    client: APIClient, authenticator: SoftwareAuthenticator, name: str = "", **bend: object
) -> object:
    options = _options(client)
    credential = authenticator.create(options["publicKey"], **bend)
    return client.post(
        METHOD, {"challengeId": options["challengeId"], "credential": credential, "name": name}, format="json"
    )


def step_up_token(client: APIClient, authenticator: SoftwareAuthenticator) -> str:
    options = client.post(STEP_UP_OPTIONS).json()
    response = client.post(
        STEP_UP,
        {"challengeId": options["challengeId"], "credential": authenticator.get(options["publicKey"])},
        format="json",
    )
    assert response.status_code == 200, response.json()
    return response.json()["stepUpToken"]


def test_options_follow_the_contract(auth_client: APIClient, user: User) -> None:
    body = _options(auth_client)

    public_key = body["publicKey"]
    assert public_key["rp"] == {"id": "localhost", "name": "Auth Service"}
    handle = b64url_decode(public_key["user"]["id"])
    assert len(handle) == 32 and handle == bytes(WebAuthnUserHandle.objects.get(user=user).handle)
    # Random, not derived from the account (a random 32 bytes may well hold the byte of a short pk).
    assert handle not in {str(user.pk).encode().rjust(32, b"\0"), user.pk.to_bytes(32, "big")}
    assert user.email.encode() not in handle
    assert public_key["user"]["name"] == user.email
    assert public_key["authenticatorSelection"]["residentKey"] == "required"
    assert public_key["authenticatorSelection"]["userVerification"] == "required"
    assert public_key["attestation"] == "none"
    assert [param["alg"] for param in public_key["pubKeyCredParams"]] == [-7, -8, -257]
    assert len(b64url_decode(public_key["challenge"])) >= 16
    assert public_key["excludeCredentials"] == []
    assert len(body["challengeId"]) >= 16


def test_a_registered_passkey_is_a_verified_factor_at_once(
    auth_client: APIClient, user: User, authenticator: SoftwareAuthenticator, committed: Committed
) -> None:
    with committed():
        response = _register(auth_client, authenticator, name="Work laptop")

    assert response.status_code == 200, response.json()
    assert response.json()["hasPasskey"] is True
    assert response.json()["passkeyCount"] == 1
    device = WebAuthnDevice.objects.get(user=user)
    assert device.name == "Work laptop" and device.confirmed
    assert bytes(device.credential_id) == authenticator.credential_id
    assert device.transports == ["internal", "hybrid"] and device.backup_eligible and device.backed_up
    user.refresh_from_db()
    assert user.has_second_factor
    event = SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.FACTOR_ADDED).get()
    assert event.details == {"factor": "WEBAUTHN", "passkey": "Work laptop"}
    assert len(mail.outbox) == 1 and "A passkey" in mail.outbox[0].body


def test_the_default_name_comes_from_the_user_agent(user: User, authenticator: SoftwareAuthenticator) -> None:
    client = authenticate(
        APIClient(
            HTTP_USER_AGENT="Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/120.0.0.0 Safari/537.36"
        ),
        user,
    )

    assert _register(client, authenticator).status_code == 200

    # The label sessions and trusted devices show for the same browser (API.md: "Chrome on macOS").
    assert WebAuthnDevice.objects.get(user=user).name == "Chrome on macOS"


def test_the_default_name_comes_from_a_known_aaguid(auth_client: APIClient, user: User) -> None:
    icloud = bytes.fromhex("fbfc3007154e4ecc8c0b6e020557d7bd")

    assert _register(auth_client, SoftwareAuthenticator(aaguid=icloud)).status_code == 200

    device = WebAuthnDevice.objects.get(user=user)
    assert device.name == "iCloud Keychain" and device.aaguid == "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"


def test_exclude_credentials_lists_the_passkeys_and_the_same_one_is_refused(
    passkey_user: tuple[User, SoftwareAuthenticator],
) -> None:
    user, authenticator = passkey_user
    client = authenticate(APIClient(), user)
    token = step_up_token(client, authenticator)

    options = _options(client, HTTP_X_OTP=token)
    assert [item["id"] for item in options["publicKey"]["excludeCredentials"]] == [authenticator.id]
    response = client.post(
        METHOD,
        {"challengeId": options["challengeId"], "credential": authenticator.create(options["publicKey"])},
        format="json",
    )

    assert response.status_code == 400 and response.json()["code"] == "webauthn_invalid"
    assert WebAuthnDevice.objects.filter(user=user).count() == 1


def test_a_second_passkey_needs_step_up(passkey_user: tuple[User, SoftwareAuthenticator]) -> None:
    user, authenticator = passkey_user
    client = authenticate(APIClient(), user)

    assert client.post(OPTIONS).json()["code"] == "otp_invalid"
    options = _options(client, HTTP_X_OTP=step_up_token(client, authenticator))
    second = SoftwareAuthenticator()
    response = client.post(
        METHOD,
        {"challengeId": options["challengeId"], "credential": second.create(options["publicKey"])},
        format="json",
    )

    assert response.status_code == 200 and response.json()["passkeyCount"] == 2


def test_adding_a_passkey_beside_totp_needs_a_totp_code(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, totp = totp_user
    client = authenticate(APIClient(), user)

    refused = client.post(OPTIONS)
    options = _options(client, HTTP_X_OTP=totp.now())

    assert refused.status_code == 403 and refused.json()["code"] == "otp_invalid"
    assert options["publicKey"]["rp"]["id"] == "localhost"


@pytest.mark.parametrize(
    ("bend", "why"),
    [
        ({"origin": "https://evil.example"}, "wrong origin"),
        ({"rp_id": "evil.example"}, "wrong RP ID hash"),
        ({"type_": "webauthn.get"}, "wrong type"),
        ({"user_verified": False}, "user verification missing"),
        ({"challenge": b64url(b"x" * 32)}, "another challenge"),
    ],
)
def test_a_bent_registration_is_refused_and_counted(
    auth_client: APIClient, user: User, authenticator: SoftwareAuthenticator, bend: dict, why: str
) -> None:
    response = _register(auth_client, authenticator, **bend)

    assert response.status_code == 400, why
    assert response.json()["code"] == "webauthn_invalid", why
    assert not WebAuthnDevice.objects.filter(user=user).exists()
    user.refresh_from_db()
    assert user.otp_failure_count == 1 and user.passkey_count == 0


def test_a_registration_challenge_is_single_use(
    auth_client: APIClient, authenticator: SoftwareAuthenticator
) -> None:
    options = _options(auth_client)
    credential = authenticator.create(options["publicKey"])
    body = {"challengeId": options["challengeId"], "credential": credential}

    assert auth_client.post(METHOD, body, format="json").status_code == 200
    replay = auth_client.post(METHOD, body, format="json")

    assert replay.status_code == 400 and replay.json()["code"] == "challenge_invalid"


def test_an_unknown_challenge_id_is_refused(
    auth_client: APIClient, authenticator: SoftwareAuthenticator
) -> None:
    options = _options(auth_client)
    credential = authenticator.create(options["publicKey"])

    response = auth_client.post(METHOD, {"challengeId": "nope", "credential": credential}, format="json")

    assert response.status_code == 400 and response.json()["code"] == "challenge_invalid"


def test_another_users_registration_challenge_is_refused(
    auth_client: APIClient, authenticator: SoftwareAuthenticator
) -> None:
    options = _options(auth_client)
    other = authenticate(APIClient(), UserFactory())

    response = other.post(
        METHOD,
        {"challengeId": options["challengeId"], "credential": authenticator.create(options["publicKey"])},
        format="json",
    )

    assert response.status_code == 400 and response.json()["code"] == "challenge_invalid"


def test_list_shows_the_passkeys_without_keys(passkey_user: tuple[User, SoftwareAuthenticator]) -> None:
    user, _ = passkey_user

    body = authenticate(APIClient(), user).get(METHOD).json()

    [passkey] = body["passkeys"]
    assert set(passkey) == {"id", "name", "createdAt", "backedUp", "transports"}
    assert passkey["name"] == "Laptop" and passkey["backedUp"] is True


def test_removing_a_passkey_needs_step_up_and_tells_the_user(
    passkey_user: tuple[User, SoftwareAuthenticator], committed: Committed
) -> None:
    user, authenticator = passkey_user
    client = authenticate(APIClient(), user)
    passkey_id = WebAuthnDevice.objects.get(user=user).pk

    refused = client.delete(f"{METHOD}/{passkey_id}")
    token = step_up_token(client, authenticator)
    with committed():
        removed = client.delete(f"{METHOD}/{passkey_id}", HTTP_X_OTP=token)

    assert refused.status_code == 403 and refused.json()["code"] == "otp_invalid"
    assert removed.status_code == 200, removed.json()
    assert removed.json()["hasPasskey"] is False and removed.json()["passkeyCount"] == 0
    assert not WebAuthnDevice.objects.filter(user=user).exists()
    user.refresh_from_db()
    assert not user.has_second_factor
    assert SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.FACTOR_REMOVED).exists()
    assert "A passkey" in mail.outbox[-1].body and "removed" in mail.outbox[-1].body


def test_removing_a_passkey_stops_every_trusted_device(
    passkey_user: tuple[User, SoftwareAuthenticator],
) -> None:
    """As for any factor removed: a trusted device stood in for a second factor that may be this one."""
    user, authenticator = passkey_user
    trusted_device_create(user=user, client=Client(user_agent="pytest-agent/1.0"))
    client = authenticate(APIClient(), user)
    passkey_id = WebAuthnDevice.objects.get(user=user).pk

    removed = client.delete(f"{METHOD}/{passkey_id}", HTTP_X_OTP=step_up_token(client, authenticator))

    assert removed.status_code == 200, removed.json()
    assert not TrustedDevice.objects.filter(user=user, revoked_at__isnull=True).exists()


def test_removing_an_unknown_or_foreign_passkey_is_not_found(
    passkey_user: tuple[User, SoftwareAuthenticator],
) -> None:
    user, _ = passkey_user
    passkey_id = WebAuthnDevice.objects.get(user=user).pk
    stranger = authenticate(APIClient(), UserFactory())

    foreign = stranger.delete(f"{METHOD}/{passkey_id}")
    unknown = authenticate(APIClient(), user).delete(f"{METHOD}/{passkey_id + 1000}")

    assert foreign.status_code == 404 and foreign.json()["code"] == "not_found"
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert WebAuthnDevice.objects.filter(user=user).exists()


def test_the_endpoints_need_a_bearer_token(api_client: APIClient) -> None:
    for method, path in [("post", OPTIONS), ("post", METHOD), ("get", METHOD), ("delete", f"{METHOD}/1")]:
        assert getattr(api_client, method)(path).status_code == 401, path


def test_a_passkey_drops_a_factor_still_pending(
    auth_client: APIClient, user: User, authenticator: SoftwareAuthenticator
) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    assert auth_client.post("/auth/otp/methods/totp").status_code == 200  # pending, no step-up needed

    assert _register(auth_client, authenticator).status_code == 200

    # Confirming it now would add a second factor without step-up: it is gone.
    assert not TOTPDevice.objects.filter(user=user).exists()
