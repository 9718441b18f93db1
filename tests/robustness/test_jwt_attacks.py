"""JWT attacks (SECURITY.md 19-21): every forgery of an idToken is 401, of a refreshToken 403.

Each attack starts from a genuine token of the service and changes one thing, so a refusal
can only come from that one thing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth.signing_keys import key_set
from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.models import RevokedToken, User
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
KEYS = Path(__file__).resolve().parent.parent / "keys"
Forgery = Callable[[str], str]


# --- building tokens -------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


def signed(claims: dict[str, Any], *, key: Any = None, algorithm: str = "ES256", **header: Any) -> str:
    """Signed like the service signs, unless told otherwise."""
    header.setdefault("kid", key_set().current.kid)
    return jwt.encode(claims, key or key_set().signing_key, algorithm=algorithm, headers=header)


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    body = unsigned(header, claims)
    return f"{body}.{b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())}"


def public_pem() -> bytes:
    return key_set().current.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def attacker_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def with_claims(**changes: Any) -> Forgery:
    def forge(token: str) -> str:
        _, claims = parts(token)
        return signed({**claims, **changes})

    return forge


def without_claim(name: str) -> Forgery:
    def forge(token: str) -> str:
        _, claims = parts(token)
        claims.pop(name)
        return signed(claims)

    return forge


def alg_none(token: str) -> str:
    header, claims = parts(token)
    return unsigned({**header, "alg": "none"}, claims) + "."


def alg_none_capitalised(token: str) -> str:
    header, claims = parts(token)
    return unsigned({**header, "alg": "None"}, claims) + "."


def hs256_with_the_public_pem(token: str) -> str:
    header, claims = parts(token)
    return hs256({**header, "alg": "HS256"}, claims, public_pem())


def hs256_with_the_public_jwk(token: str) -> str:
    header, claims = parts(token)
    return hs256({**header, "alg": "HS256"}, claims, json.dumps(key_set().current.jwk).encode())


def tampered_payload(token: str) -> str:
    header_part, _, signature = token.split(".")
    _, claims = parts(token)
    claims["sub"] = str(int(claims["sub"]) + 1)
    return f"{header_part}.{b64(json.dumps(claims).encode())}.{signature}"


def tampered_amr(token: str) -> str:
    header_part, _, signature = token.split(".")
    _, claims = parts(token)
    claims["amr"] = ["pwd", "otp"]
    return f"{header_part}.{b64(json.dumps(claims).encode())}.{signature}"


def tampered_signature(token: str) -> str:
    body, _, signature = token.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return f"{body}.{b64(bytes(raw))}"


def signature_stripped(token: str) -> str:
    return token.rpartition(".")[0] + "."


def foreign_kid(token: str) -> str:
    _, claims = parts(token)
    key = attacker_key()
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return signed(claims, key=key, kid=hashlib.sha256(json.dumps(jwk).encode()).hexdigest())


def our_kid_attacker_key(token: str) -> str:
    _, claims = parts(token)
    return signed(claims, key=attacker_key())


def unknown_kid_our_key(token: str) -> str:
    _, claims = parts(token)
    return signed(claims, kid="../../../../etc/passwd")


def no_kid(token: str) -> str:
    _, claims = parts(token)
    return jwt.encode(claims, key_set().signing_key, algorithm="ES256")


def rs256_header_on_es256_key(token: str) -> str:
    _, claims = parts(token)
    rsa_key = serialization.load_pem_private_key((KEYS / "rs256-test.pem").read_bytes(), password=None)
    return signed(claims, key=rsa_key, algorithm="RS256")


def jku_header(token: str) -> str:
    _, claims = parts(token)
    return signed(claims, jku="http://127.0.0.1:9/jwks.json")


def jwk_header_with_our_key(token: str) -> str:
    _, claims = parts(token)
    return signed(claims, jwk=key_set().current.jwk)


def jwk_header_with_attacker_key(token: str) -> str:
    _, claims = parts(token)
    key = attacker_key()
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return signed(claims, key=key, jwk=jwk)


def x5u_header(token: str) -> str:
    _, claims = parts(token)
    return signed(claims, x5u="http://127.0.0.1:9/cert.pem")


def expired(token: str) -> str:
    now = int(time.time())
    return with_claims(iat=now - 7200, exp=now - 60)(token)


def not_yet_valid(token: str) -> str:
    return with_claims(nbf=int(time.time()) + 3600)(token)


def issued_in_the_future_far_out(token: str) -> str:
    now = int(time.time())
    return with_claims(nbf=now + 86400, iat=now + 86400)(token)


FORGERIES: dict[str, Forgery] = {
    "alg none": alg_none,
    "alg None": alg_none_capitalised,
    "HS256 keyed with the public PEM": hs256_with_the_public_pem,
    "HS256 keyed with the public JWK": hs256_with_the_public_jwk,
    "tampered sub": tampered_payload,
    "tampered amr": tampered_amr,
    "tampered signature": tampered_signature,
    "signature stripped": signature_stripped,
    "foreign kid and key": foreign_kid,
    "our kid, attacker's key": our_kid_attacker_key,
    "unknown kid, our key": unknown_kid_our_key,
    "no kid": no_kid,
    "RS256 on an ES256 kid": rs256_header_on_es256_key,
    "jku header": jku_header,
    "jwk header with our key": jwk_header_with_our_key,
    "jwk header with the attacker's key": jwk_header_with_attacker_key,
    "x5u header": x5u_header,
    "expired": expired,
    "not yet valid (nbf)": not_yet_valid,
    "nbf and iat a day ahead": issued_in_the_future_far_out,
    "wrong iss": with_claims(iss="https://evil.example"),
    "wrong aud": with_claims(aud="another-service"),
    "aud list without ours": with_claims(aud=["another-service"]),
    "no exp": without_claim("exp"),
    "no iss": without_claim("iss"),
    "no aud": without_claim("aud"),
    "no jti": without_claim("jti"),
    "no gen": without_claim("gen"),
    "no token_type": without_claim("token_type"),
    "stale gen": with_claims(gen=-1),
    "sub of nobody": with_claims(sub="999999999"),
}


# --- the attacks ------------------------------------------------------------------------------


def me(token: str) -> Any:
    return APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")


def refresh(token: str) -> Any:
    return APIClient().post("/auth/login/refresh", {"refreshToken": token}, format="json")


def assert_bearer_refused(response: Any) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_not_valid"
    assert response["WWW-Authenticate"].startswith("Bearer")


def assert_refresh_refused(response: Any) -> None:
    assert response.status_code == 403, response.content
    assert response.json() == {"code": "token_not_valid", "detail": response.json()["detail"]}


@pytest.fixture
def tokens() -> dict[str, str]:
    user = UserFactory()
    issued = tokens_for_login(user, amr=AMR_PASSWORD)
    return {"idToken": issued.id_token, "refreshToken": issued.refresh_token}


def test_the_genuine_tokens_work(tokens: dict[str, str]) -> None:
    """The control: what every forgery starts from is accepted."""
    assert me(tokens["idToken"]).status_code == 200
    assert refresh(tokens["refreshToken"]).status_code == 200
    assert me(signed(parts(tokens["idToken"])[1])).status_code == 200


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_id_token_is_401(tokens: dict[str, str], forge: Forgery) -> None:
    assert_bearer_refused(me(forge(tokens["idToken"])))


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_refresh_token_is_403(tokens: dict[str, str], forge: Forgery) -> None:
    assert_refresh_refused(refresh(forge(tokens["refreshToken"])))


@pytest.mark.parametrize(
    "garbage",
    # A WSGI server hands header bytes over as latin-1: UTF-8 arrives as mojibake like this.
    [
        "",
        "a",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "....",
        "x" * 20_000,
        "eyJ" * 100,
        "Ω.Ω.Ω".encode().decode("latin-1"),
        "null",
        "{}",
    ],
    ids=[
        "empty",
        "one",
        "two parts",
        "three parts",
        "four parts",
        "dots",
        "20k",
        "eyJ",
        "unicode",
        "null",
        "{}",
    ],
)
def test_garbage_tokens_are_refused_without_a_server_error(garbage: str) -> None:
    response = APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {garbage}")
    assert response.status_code == 401
    assert response.json()["code"] in {"token_not_valid", "not_authenticated"}
    if not garbage or len(garbage) > 4096:  # the field is required and at most 4096 long
        assert refresh(garbage).json()["code"] == "validation_error"
    else:
        assert_refresh_refused(refresh(garbage))


def test_an_id_token_is_not_a_refresh_token_and_the_reverse(tokens: dict[str, str]) -> None:
    assert_refresh_refused(refresh(tokens["idToken"]))
    assert_bearer_refused(me(tokens["refreshToken"]))


def test_an_id_token_cannot_be_logged_out_as_a_refresh_token(tokens: dict[str, str]) -> None:
    response = APIClient().post(
        "/auth/logout",
        {"refreshToken": tokens["idToken"]},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {tokens['idToken']}",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "token_not_valid"


def test_a_refresh_token_relabelled_as_access_is_refused(tokens: dict[str, str]) -> None:
    """Only the `token_type` claim differs, properly signed: the type is still checked."""
    assert_bearer_refused(me(with_claims(token_type="refresh")(tokens["idToken"])))
    assert_refresh_refused(refresh(with_claims(token_type="access")(tokens["refreshToken"])))


def test_a_logged_out_refresh_token_is_refused(tokens: dict[str, str]) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['idToken']}")
    assert (
        client.post("/auth/logout", {"refreshToken": tokens["refreshToken"]}, format="json").status_code
        == 204
    )

    assert_refresh_refused(refresh(tokens["refreshToken"]))
    assert_bearer_refused(me(tokens["idToken"]))  # logout ends the session, its idTokens with it


def test_logout_all_revokes_both_tokens(tokens: dict[str, str]) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['idToken']}")
    assert client.post("/auth/logout/all").status_code == 204

    assert_bearer_refused(me(tokens["idToken"]))
    assert_refresh_refused(refresh(tokens["refreshToken"]))


@pytest.mark.parametrize("status", [User.Status.BLOCKED, User.Status.LOCKED])
def test_tokens_of_a_user_since_blocked_or_locked_are_refused(tokens: dict[str, str], status: str) -> None:
    user_id = parts(tokens["idToken"])[1]["sub"]
    User.objects.filter(pk=user_id).update(
        status=status, locked_until=timezone.now() + timezone.timedelta(hours=1)
    )

    assert_bearer_refused(me(tokens["idToken"]))
    assert_refresh_refused(refresh(tokens["refreshToken"]))


def test_a_password_change_revokes_the_tokens_issued_before() -> None:
    user = UserFactory()
    issued = tokens_for_login(user, amr=AMR_PASSWORD)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.id_token}")
    response = client.post(
        "/auth/password/change",
        {"currentPassword": DEFAULT_PASSWORD, "newPassword": "an entirely new passphrase"},
        format="json",
    )
    assert response.status_code == 200

    assert_bearer_refused(me(issued.id_token))
    assert_refresh_refused(refresh(issued.refresh_token))


# --- refresh rotation (SECURITY.md 21) ---------------------------------------------------------


@pytest.fixture
def rotation(settings) -> None:
    settings.JWT_ROTATE_REFRESH_TOKENS = True


def test_rotation_reuse_of_a_rotated_out_token_revokes_the_family(
    rotation: None, tokens: dict[str, str]
) -> None:
    first = refresh(tokens["refreshToken"])
    assert first.status_code == 200
    second = refresh(first.json()["refreshToken"])
    assert second.status_code == 200
    newest = second.json()["refreshToken"]

    assert_refresh_refused(refresh(tokens["refreshToken"]))  # the thief replays the old one

    assert_refresh_refused(refresh(newest))  # ... and the whole family is gone
    family = parts(newest)[1]["fam"]
    assert RevokedToken.objects.filter(jti=RevokedToken.family_key(family)).exists()


def test_rotation_keeps_the_absolute_lifetime(rotation: None, tokens: dict[str, str]) -> None:
    original_exp = parts(tokens["refreshToken"])[1]["exp"]
    current = tokens["refreshToken"]
    for _ in range(3):
        response = refresh(current)
        assert response.status_code == 200
        current = response.json()["refreshToken"]
        assert parts(current)[1]["exp"] == original_exp

    header, claims = parts(current)
    assert claims["fam"] == parts(tokens["refreshToken"])[1]["fam"]
    assert header["kid"] == key_set().current.kid


def test_rotation_a_rotated_token_past_the_absolute_lifetime_is_refused(
    rotation: None, tokens: dict[str, str]
) -> None:
    rotated = refresh(tokens["refreshToken"]).json()["refreshToken"]
    lifetime_end = parts(tokens["refreshToken"])[1]["exp"]

    with time_machine.travel(lifetime_end - 60):
        rotated = refresh(rotated).json()["refreshToken"]
    with time_machine.travel(lifetime_end + 1):
        assert_refresh_refused(refresh(rotated))
