"""idToken and refreshToken: claims, signing with `kid`, JWKS, expiry, revocation, type confusion, rotation."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth.signing_keys import key_set
from accounts.auth.tokens import AMR_PASSWORD, VerifiedTokens, token_backend, tokens_for_login
from accounts.models import User
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db
KEYS = Path(__file__).resolve().parents[2] / "keys"


def _login(user: User) -> dict[str, str]:
    response = APIClient().post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 200
    return response.json()


def _refresh(token: str):
    return APIClient().post("/auth/login/refresh", {"refreshToken": token}, format="json")


def _me(token: str):
    return APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")


def _jwks_key(client: APIClient, kid: str) -> jwt.PyJWK:
    jwks = client.get("/.well-known/jwks.json").json()
    return jwt.PyJWKSet.from_dict(jwks)[kid]


def test_id_token_verifies_with_pyjwt_against_the_published_key(user: User) -> None:
    tokens = _login(user)
    header = jwt.get_unverified_header(tokens["idToken"])
    key = _jwks_key(APIClient(), header["kid"])

    claims = jwt.decode(tokens["idToken"], key.key, algorithms=["ES256"], audience="auth-service-clients")

    assert header["alg"] == "ES256"
    assert claims["sub"] == str(user.pk) and isinstance(claims["sub"], str)
    assert claims["email"] == user.email
    assert claims["email_verified"] is True
    assert claims["amr"] == ["pwd"]
    assert claims["iss"] == "auth-service" and claims["aud"] == "auth-service-clients"
    assert {"iat", "exp", "jti"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == 15 * 60


def test_refresh_token_lives_thirty_days_and_keeps_amr(user: User) -> None:
    tokens = _login(user)
    refresh_claims = jwt.decode(tokens["refreshToken"], options={"verify_signature": False})

    assert refresh_claims["exp"] - refresh_claims["iat"] == 30 * 24 * 60 * 60
    new_id = _refresh(tokens["refreshToken"]).json()["idToken"]
    assert jwt.decode(new_id, options={"verify_signature": False})["amr"] == ["pwd"]


def test_jwks_lists_the_current_the_previous_and_the_openid_connect_key(settings) -> None:
    settings.JWT_PREVIOUS_VERIFYING_KEY_FILE = str(KEYS / "es256-previous-test.pem")

    keys = APIClient().get("/.well-known/jwks.json").json()["keys"]

    assert [(key["kty"], key["alg"], key["use"]) for key in keys] == [
        ("EC", "ES256", "sig"),
        ("EC", "ES256", "sig"),
        ("RSA", "RS256", "sig"),
    ]
    assert all("d" not in key and "p" not in key for key in keys), "no private part is ever published"
    assert keys[0]["kid"] == key_set().current.kid
    assert keys[2]["kid"] == key_set().openid_connect.kid


def test_tokens_signed_by_the_previous_key_stay_valid_after_rotation(settings, user: User) -> None:
    settings.JWT_SIGNING_KEY_FILE = str(KEYS / "es256-previous-test.pem")
    old_tokens = tokens_for_login(user, amr=AMR_PASSWORD)

    settings.JWT_SIGNING_KEY_FILE = str(KEYS / "es256-test.pem")
    settings.JWT_PREVIOUS_VERIFYING_KEY_FILE = str(KEYS / "es256-previous-test.pem")
    assert _me(old_tokens.id_token).status_code == 200

    settings.JWT_PREVIOUS_VERIFYING_KEY_FILE = ""
    assert _me(old_tokens.id_token).status_code == 401


def test_rsa_keys_sign_rs256(settings, user: User) -> None:
    settings.JWT_SIGNING_KEY_FILE = str(KEYS / "rs256-test.pem")

    tokens = _login(user)

    assert jwt.get_unverified_header(tokens["idToken"])["alg"] == "RS256"
    assert _me(tokens["idToken"]).status_code == 200


def test_expired_id_token_is_401_and_expired_refresh_token_is_403(user: User) -> None:
    tokens = _login(user)

    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=16)):
        assert _me(tokens["idToken"]).status_code == 401
        assert _refresh(tokens["refreshToken"]).status_code == 200
    with time_machine.travel(timezone.now() + timezone.timedelta(days=31)):
        response = _refresh(tokens["refreshToken"])
        assert response.status_code == 403 and response.json()["code"] == "token_not_valid"


def test_an_id_token_is_refused_as_a_refresh_token_and_the_reverse(user: User) -> None:
    tokens = _login(user)

    assert _refresh(tokens["idToken"]).json()["code"] == "token_not_valid"
    assert _me(tokens["refreshToken"]).status_code == 401


def test_id_token_of_a_blocked_user_is_refused(user: User) -> None:
    tokens = _login(user)
    User.objects.filter(pk=user.pk).update(status=User.Status.BLOCKED)

    assert _me(tokens["idToken"]).status_code == 401


def test_id_token_of_a_deleted_user_is_refused(user: User) -> None:
    tokens = _login(user)
    user.delete()

    assert _me(tokens["idToken"]).status_code == 401
    assert _refresh(tokens["refreshToken"]).status_code == 403


def test_foreign_kid_and_alg_none_are_refused(user: User) -> None:
    tokens = _login(user)
    claims = jwt.decode(tokens["idToken"], options={"verify_signature": False})
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    foreign = jwt.encode(
        claims, (KEYS / "es256-previous-test.pem").read_text(), algorithm="ES256", headers={"kid": "x"}
    )

    assert _me(unsigned).status_code == 401
    assert _me(foreign).status_code == 401


def test_rotation_issues_a_new_refresh_token_and_reuse_revokes_the_family(settings, user: User) -> None:
    settings.JWT_ROTATE_REFRESH_TOKENS = True
    first = _login(user)["refreshToken"]

    rotated = _refresh(first).json()
    assert set(rotated) == {"idToken", "refreshToken"}
    second = rotated["refreshToken"]
    assert (
        jwt.decode(second, options={"verify_signature": False})["exp"]
        == jwt.decode(first, options={"verify_signature": False})["exp"]
    ), "a rotated token keeps the absolute lifetime of its login"

    assert _refresh(first).status_code == 403  # the rotated-out token comes back: theft
    assert _refresh(second).status_code == 403  # ...so its whole family is revoked


def test_rotation_is_off_by_default(user: User) -> None:
    first = _login(user)["refreshToken"]

    assert set(_refresh(first).json()) == {"idToken"}
    assert _refresh(first).status_code == 200


# --- Tokens verified once (accounts.tokens.VerifiedTokens) -----------------------------------


def test_a_token_verified_once_is_not_checked_again_until_it_expires(user: User, monkeypatch) -> None:
    id_token = tokens_for_login(user, amr=AMR_PASSWORD).id_token
    checks = []
    real_decode = jwt.decode
    monkeypatch.setattr(
        jwt, "decode", lambda *args, **kwargs: checks.append(1) or real_decode(*args, **kwargs)
    )

    assert _me(id_token).status_code == 200
    assert _me(id_token).status_code == 200
    assert len(checks) == 1
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=16)):
        response = _me(id_token)
    assert response.status_code == 401 and response.json()["code"] == "token_not_valid"


def test_a_token_that_fails_a_check_is_never_kept(user: User) -> None:
    id_token = tokens_for_login(user, amr=AMR_PASSWORD).id_token
    header, payload, signature = id_token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    backend = token_backend()

    for _ in range(2):
        assert _me(forged).status_code == 401
    assert forged not in backend.verified._claims
    assert _me(id_token).status_code == 200
    assert id_token in backend.verified._claims


def test_the_kept_claims_are_a_copy(user: User) -> None:
    id_token = tokens_for_login(user, amr=AMR_PASSWORD).id_token
    backend = token_backend()
    backend.decode(id_token)["sub"] = "someone else"

    assert backend.decode(id_token)["sub"] == str(user.pk)


def test_verified_tokens_keep_at_most_their_size_oldest_out_first() -> None:
    kept = VerifiedTokens(size=2)
    exp = int(timezone.now().timestamp()) + 60
    for token in ("a", "b", "c"):
        kept.add(token, {"exp": exp})

    assert len(kept) == 2
    assert kept.get("a") is None and kept.get("b") == {"exp": exp} and kept.get("c") == {"exp": exp}


def test_size_zero_keeps_nothing(settings, user: User) -> None:
    settings.JWT_VERIFIED_TOKENS_KEPT = 0
    id_token = tokens_for_login(user, amr=AMR_PASSWORD).id_token

    assert _me(id_token).status_code == 200
    assert len(token_backend().verified) == 0


def test_a_change_of_keys_forgets_every_verified_token(settings, user: User) -> None:
    id_token = tokens_for_login(user, amr=AMR_PASSWORD).id_token
    assert _me(id_token).status_code == 200

    settings.JWT_SIGNING_KEY_FILE = str(KEYS / "es256-previous-test.pem")

    assert len(token_backend().verified) == 0
    assert _me(id_token).status_code == 401
