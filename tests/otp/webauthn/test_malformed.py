"""Malformed credentials, fuzzed: every shape is a 400 or a 403, never a 500."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import cbor2
import pytest
from rest_framework.test import APIClient

from accounts.models import User
from tests.conftest import authenticate, throttle_rate_set
from tests.factories import DEFAULT_PASSWORD
from tests.otp.webauthn.authenticator import SoftwareAuthenticator, b64url

JUNK_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**70,
    1.5,
    "",
    "!!!",
    "not base64 at all ✓",
    b64url(b""),
    b64url(b"\x00"),
    b64url(b"\xff" * 300),
    [],
    [1, 2],
    {},
    {"a": 1},
    "A" * 5000,
]


def _cbor_junk() -> Iterator[bytes]:
    yield cbor2.dumps([1, 2, 3])
    yield cbor2.dumps(7)
    yield cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": b"short"})
    yield cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": b"\x00" * 37})
    yield cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": b"\x00" * 32 + b"\x45" + b"\x00" * 20})
    yield cbor2.dumps({"fmt": "packed", "attStmt": {"alg": -7, "sig": b"x"}, "authData": b"\x00" * 37})
    yield cbor2.dumps({"fmt": 5, "attStmt": [], "authData": "text"})
    yield cbor2.dumps({"fmt": "none", "attStmt": {"x": 1}})
    yield b"\xff\xfe\xfd"


def _client_data_junk() -> Iterator[bytes]:
    yield b"not json"
    yield b"[]"
    yield b"{}"
    yield json.dumps({"type": 1, "challenge": 2, "origin": 3}).encode()
    yield json.dumps({"type": "webauthn.get", "challenge": "***", "origin": "x"}).encode()
    yield json.dumps({"type": "webauthn.create", "challenge": None, "origin": None}).encode()
    yield b"\xff\xfe"


def _bent(credential: dict[str, Any], rng: random.Random) -> Iterator[dict[str, Any]]:
    """A valid credential with one part replaced by junk, each part in turn, plus random mixes."""
    for key in list(credential):
        for junk in JUNK_VALUES:
            yield {**credential, key: junk}
        yield {name: value for name, value in credential.items() if name != key}
    response = credential["response"]
    for key in list(response):
        for junk in JUNK_VALUES:
            yield {**credential, "response": {**response, key: junk}}
        yield {**credential, "response": {name: value for name, value in response.items() if name != key}}
    for blob in _cbor_junk():
        yield {**credential, "response": {**response, "attestationObject": b64url(blob)}}
        yield {**credential, "response": {**response, "authenticatorData": b64url(blob)}}
    for blob in _client_data_junk():
        yield {**credential, "response": {**response, "clientDataJSON": b64url(blob)}}
    for _ in range(40):
        mixed = json.loads(json.dumps(credential))
        target = mixed["response"] if rng.random() < 0.7 else mixed
        target[rng.choice(list(target))] = rng.choice(JUNK_VALUES)
        yield mixed


def _assert_refusals(post: Callable[[dict[str, Any]], Any], credentials: Iterator[dict[str, Any]]) -> int:
    count = 0
    for credential in credentials:
        response = post(credential)
        assert response.status_code in {400, 403, 429}, (response.status_code, credential)
        assert response.json()["code"] in {
            "webauthn_invalid",
            "validation_error",
            "challenge_invalid",
            "otp_throttled",
            "account_locked",
        }, credential
        count += 1
    return count


@pytest.fixture(autouse=True)
def _no_delays(settings: Any) -> None:
    # Every refusal is counted; without delays each shape is checked rather than throttled.
    settings.OTP_FAILURES_BEFORE_DELAY = 10_000
    settings.OTP_FAILURES_BEFORE_LOCK = 10_000


def test_malformed_registrations(auth_client: APIClient, authenticator: SoftwareAuthenticator) -> None:
    options = auth_client.post("/auth/otp/methods/webauthn/options").json()
    valid = authenticator.create(options["publicKey"])

    def post(credential: dict[str, Any]) -> Any:
        fresh = auth_client.post("/auth/otp/methods/webauthn/options").json()
        return auth_client.post(
            "/auth/otp/methods/webauthn",
            {"challengeId": fresh["challengeId"], "credential": credential},
            format="json",
        )

    assert _assert_refusals(post, _bent(valid, random.Random(12))) > 200


def test_malformed_passwordless_logins(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator], settings: Any
) -> None:
    # Hundreds of challenges and failures from one client: the per-IP limits are tested elsewhere.
    throttle_rate_set(settings, "passkey_login_options", "100000/minute")
    settings.LOGIN_IP_MAX_FAILURES = 100_000
    _, authenticator = passkey_user
    options = api_client.post("/auth/login/webauthn/options").json()
    valid = authenticator.get(options["publicKey"])

    def post(credential: dict[str, Any]) -> Any:
        fresh = api_client.post("/auth/login/webauthn/options").json()
        return api_client.post(
            "/auth/login/webauthn",
            {"challengeId": fresh["challengeId"], "credential": credential},
            format="json",
        )

    assert _assert_refusals(post, _bent(valid, random.Random(8176))) > 200


def test_malformed_second_factors(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator]
) -> None:
    user, authenticator = passkey_user

    def challenge() -> dict[str, Any]:
        return api_client.post(
            "/auth/login",
            {"email": user.email, "password": DEFAULT_PASSWORD, "otpMethod": "WEBAUTHN"},
            format="json",
        ).json()["webauthn"]

    valid = authenticator.get(challenge()["publicKey"])

    def post(credential: dict[str, Any]) -> Any:
        return api_client.post(
            "/auth/login",
            {
                "email": user.email,
                "password": DEFAULT_PASSWORD,
                "webauthn": {"challengeId": challenge()["challengeId"], "credential": credential},
            },
            format="json",
        )

    assert _assert_refusals(post, _bent(valid, random.Random(3))) > 200


def test_malformed_step_ups(passkey_user: tuple[User, SoftwareAuthenticator]) -> None:
    user, authenticator = passkey_user
    client = authenticate(APIClient(), user)
    valid = authenticator.get(client.post("/auth/otp/webauthn/step-up/options").json()["publicKey"])

    def post(credential: dict[str, Any]) -> Any:
        fresh = client.post("/auth/otp/webauthn/step-up/options").json()
        return client.post(
            "/auth/otp/webauthn/step-up",
            {"challengeId": fresh["challengeId"], "credential": credential},
            format="json",
        )

    assert _assert_refusals(post, _bent(valid, random.Random(5))) > 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"challengeId": "x"},
        {"credential": {}},
        {"challengeId": 5, "credential": {}},
        {"challengeId": "x", "credential": "string"},
        {"challengeId": "x", "credential": [1]},
        {"challengeId": "x", "credential": None},
        {"challengeId": "x" * 500, "credential": {}},
        [],
        "text",
    ],
)
def test_malformed_bodies(api_client: APIClient, body: Any) -> None:
    response = api_client.post("/auth/login/webauthn", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] in {"validation_error", "challenge_invalid"}


@pytest.mark.parametrize("webauthn", [{}, "x", [1], {"challengeId": "x"}, {"credential": {}}, None])
def test_malformed_webauthn_in_the_login_body(
    api_client: APIClient, passkey_user: tuple[User, SoftwareAuthenticator], webauthn: Any
) -> None:
    user, _ = passkey_user

    response = api_client.post(
        "/auth/login",
        {"email": user.email, "password": DEFAULT_PASSWORD, "webauthn": webauthn},
        format="json",
    )

    assert response.status_code == 400 and response.json()["code"] == "validation_error"
