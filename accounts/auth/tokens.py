"""The idToken and refreshToken: SimpleJWT tokens signed with the service's key, `kid` in the header."""

from __future__ import annotations

import functools
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from django.conf import settings
from django.core.signals import setting_changed
from django.utils import timezone
from rest_framework_simplejwt import tokens as simplejwt_tokens
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken
from rest_framework_simplejwt.settings import api_settings

from accounts.auth.sessions import session_id_parse, session_new
from accounts.auth.signing_keys import key_set
from accounts.core.account_state import account_may_authenticate
from accounts.core.client import Client
from accounts.models import User, UserSession

# Headers that would let a token name its own verification key (RFC 8725 §3.1).
FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c"})
REQUIRED_CLAIMS = ("exp", "iat", "jti", "sub", "iss", "aud", "token_type", "gen")

NO_CLIENT = Client()

AMR_PASSWORD = ["pwd"]
AMR_PASSWORD_AND_OTP = ["pwd", "otp"]
# A password on a device the user trusts: no fresh second factor (docs/api-decisions.md).
AMR_PASSWORD_AND_TRUSTED_DEVICE = ["pwd", "trusted_device"]
# RFC 8176: `pop` is proof of possession of a key (a passkey); with user verification, `mfa`.
AMR_PASSWORD_AND_PASSKEY = ["pwd", "pop"]
AMR_PASSKEY = ["pop", "mfa"]


class VerifiedTokens:
    """The claims of tokens already verified, by the token's text: a bounded map, oldest out first.

    Why: a client sends the same idToken with every request for its whole lifetime, and
    checking it again (ES256 signature, base64, JSON, claims) was a fifth of `/auth/me`
    (docs/benchmarks.md), as Envoy's `jwt_cache_config` avoids at a gateway. A token's
    signature and its issuer, audience and required claims cannot change once checked; only
    time can make it expire, so `exp` is checked again on every use. The keys it was checked
    against are the backend's, and a new backend (settings changed) starts with an empty map.
    Only tokens that passed every check are kept; revocation, sessions and account state are
    checked in the database on every request, never here.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._claims: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._claims)

    def get(self, token: str) -> dict[str, Any] | None:
        """A copy of the claims of `token` if verified before; TokenBackendExpiredToken once it has expired."""
        claims = self._claims.get(token)
        if claims is None:
            return None
        if claims["exp"] <= datetime.now(tz=UTC).timestamp():  # PyJWT's test, no leeway
            self._claims.pop(token, None)
            raise TokenBackendExpiredToken("Token is expired")
        return dict(claims)

    def add(self, token: str, claims: dict[str, Any]) -> None:
        if self.size <= 0:
            return
        with self._lock:
            while len(self._claims) >= self.size:
                del self._claims[next(iter(self._claims))]
            self._claims[token] = dict(claims)


class KeyedTokenBackend(TokenBackend):
    """Signs with the current key and verifies with the key its `kid` names, if we know it."""

    def __init__(self) -> None:
        super().__init__(
            algorithm=key_set().current.algorithm,
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
        )
        self.verified = VerifiedTokens(settings.JWT_VERIFIED_TOKENS_KEPT)

    def encode(self, payload: dict[str, Any]) -> str:
        keys = key_set()
        claims = {**payload, "aud": self.audience, "iss": self.issuer}
        return jwt.encode(
            claims, keys.signing_key, algorithm=keys.current.algorithm, headers={"kid": keys.current.kid}
        )

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        if not verify:
            return self._checked_claims(token, verify=False)
        if isinstance(token, bytes):
            token = token.decode("latin-1")
        claims = self.verified.get(token)
        if claims is None:
            claims = self._checked_claims(token, verify=True)
            self.verified.add(token, claims)
        return claims

    def _checked_claims(self, token: Any, *, verify: bool) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise TokenBackendError("Token is invalid") from error
        key = key_set().by_kid.get(header.get("kid", ""))
        if key is None or header.get("alg") != key.algorithm or FORBIDDEN_HEADERS & header.keys():
            raise TokenBackendError("Token is invalid")
        try:
            return jwt.decode(
                token,
                key.public_key,
                algorithms=[key.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": list(REQUIRED_CLAIMS), "verify_signature": verify},
            )
        except jwt.ExpiredSignatureError as error:
            raise TokenBackendExpiredToken("Token is expired") from error
        except jwt.InvalidTokenError as error:
            raise TokenBackendError("Token is invalid") from error


@functools.cache
def token_backend() -> KeyedTokenBackend:
    return KeyedTokenBackend()


def _forget_backend(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("JWT_"):
        token_backend.cache_clear()


setting_changed.connect(_forget_backend)


class KeyedTokenMixin:
    @property
    def token_backend(self) -> KeyedTokenBackend:
        return token_backend()


class IdToken(KeyedTokenMixin, simplejwt_tokens.AccessToken):
    """The `idToken`: a short-lived access token carrying the user's identity."""


class RefreshToken(KeyedTokenMixin, simplejwt_tokens.RefreshToken):
    """The `refreshToken`: long-lived, revocable by `jti`, one rotation family (`fam`) and session (`sid`) per login."""

    access_token_class = IdToken


@dataclass(frozen=True)
class IssuedTokens:
    id_token: str
    refresh_token: str | None = None
    # A login with `trustDevice` and a second factor: the token of the newly trusted device.
    device_token: str | None = None


def id_token_for(user: User, *, amr: list[str], session_id: str) -> IdToken:
    token = IdToken.for_user(user)
    token["email"] = user.email
    token["email_verified"] = user.email_verified
    token["amr"] = amr
    token["gen"] = user.token_generation
    token["sid"] = session_id
    if user.security_changed_at is not None:
        # NumericDate of the last security change: platforms hold withdrawals for a while after it.
        token["security_changed_at"] = int(user.security_changed_at.timestamp())
    return token


def refresh_token_for(
    user: User,
    *,
    amr: list[str],
    session_id: str,
    family: str | None = None,
    expires_at: int | None = None,
) -> RefreshToken:
    token = RefreshToken.for_user(user)
    token["amr"] = amr
    token["gen"] = user.token_generation
    token["sid"] = session_id
    token["fam"] = family or uuid.uuid4().hex
    if expires_at is not None:
        # A rotated token keeps the absolute lifetime of the login that started its family.
        token["exp"] = expires_at
    return token


def tokens_for_login(user: User, *, amr: list[str], client: Client = NO_CLIENT) -> IssuedTokens:
    """The tokens of a new login, and the API session they belong to: every API login passes here
    (or writes `api_session_new`'s row itself, accounts.auth.login_rows)."""
    session = api_session_new(user=user, amr=amr, client=client)
    session.save(force_insert=True)
    return tokens_for_session(user, amr=amr, session_id=str(session.pk))


def api_session_new(*, user: User, amr: list[str], client: Client) -> UserSession:
    """The API session of a new login, not saved yet; it lasts as long as its refresh tokens."""
    return session_new(
        user=user,
        kind=UserSession.Kind.API,
        amr=amr,
        client=client,
        expires_at=timezone.now() + api_settings.REFRESH_TOKEN_LIFETIME,
    )


def tokens_for_session(user: User, *, amr: list[str], session_id: str) -> IssuedTokens:
    """The idToken and refreshToken of a session already started (no database access)."""
    return IssuedTokens(
        id_token=str(id_token_for(user, amr=amr, session_id=session_id)),
        refresh_token=str(refresh_token_for(user, amr=amr, session_id=session_id)),
    )


def token_subject_parse(token: Any) -> tuple[int, uuid.UUID] | None:
    """The owner id and the session id a verified token names; None when either is not one
    (a token issued before sessions existed, or forged)."""
    session_id = session_id_parse(token.get("sid"))
    try:
        owner_id = int(token["sub"])
    except (TypeError, ValueError):
        return None
    return None if session_id is None else (owner_id, session_id)


def token_still_counts(token: Any, *, owner: User | None, session_live: bool, revoked: bool = False) -> bool:
    """Whether a verified idToken or refreshToken still lets its owner in: the owner exists and may
    authenticate, its session is live, it was not revoked on its own, and no revoke-all came after it."""
    return (
        owner is not None
        and session_live
        and not revoked
        and account_may_authenticate(owner)
        and token["gen"] == owner.token_generation
    )
