"""The JWT signing key, the verification keys (current and previous) and their JWKS."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True)
class VerificationKey:
    kid: str
    algorithm: str
    public_key: PublicKey
    jwk: dict[str, Any]


@dataclass(frozen=True)
class KeySet:
    """The idTokens' keys (`by_kid`: what this API accepts), and the other keys the JWKS publishes.

    `openid_connect` verifies the id_tokens given to other applications (oidc/): listed for
    them, never accepted as this API's own bearer tokens.
    """

    signing_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    current: VerificationKey
    by_kid: dict[str, VerificationKey]
    openid_connect: VerificationKey | None = None

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        keys = [key.jwk for key in self.by_kid.values()]
        if self.openid_connect is not None and self.openid_connect.kid not in self.by_kid:
            keys.append(self.openid_connect.jwk)
        return {"keys": keys}


def ensure_development_key(path: Path, *, rsa_key: bool = False) -> Path:
    """Create a P-256 key (an RSA one with `rsa`) at `path` on first start of a developer machine."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = _rsa_private_key_generate() if rsa_key else ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.touch(mode=0o600)
        path.write_bytes(pem)
    return path


def _rsa_private_key_generate() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _read_setting(value_name: str, file_name: str) -> bytes | None:
    value: str = getattr(settings, value_name, "")
    file_path: str = getattr(settings, file_name, "")
    if value:
        return value.encode()
    if file_path:
        return Path(file_path).read_bytes()
    return None


def _algorithm_for(public_key: PublicKey) -> str:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if not isinstance(public_key.curve, ec.SECP256R1):
            raise ImproperlyConfigured("EC signing keys must use the P-256 curve (ES256).")
        return "ES256"
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise ImproperlyConfigured("RSA signing keys must have at least 2048 bits.")
        return "RS256"
    raise ImproperlyConfigured("JWT keys must be EC P-256 (ES256) or RSA (RS256).")


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint, used as the `kid`."""
    members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _verification_key(public_key: PublicKey) -> VerificationKey:
    algorithm = _algorithm_for(public_key)
    codec = ECAlgorithm if algorithm == "ES256" else RSAAlgorithm
    jwk: dict[str, Any] = codec.to_jwk(public_key, as_dict=True)
    kid = _thumbprint(jwk)
    jwk.update(kid=kid, alg=algorithm, use="sig")
    return VerificationKey(kid=kid, algorithm=algorithm, public_key=public_key, jwk=jwk)


def _load_public_key(pem: bytes) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        key = serialization.load_pem_private_key(pem, password=None).public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise ImproperlyConfigured("JWT keys must be EC P-256 (ES256) or RSA (RS256).")
    return key


@functools.cache
def key_set() -> KeySet:
    signing_pem = _read_setting("JWT_SIGNING_KEY", "JWT_SIGNING_KEY_FILE")
    if signing_pem is None:
        raise ImproperlyConfigured("Set JWT_SIGNING_KEY or JWT_SIGNING_KEY_FILE.")
    signing_key = serialization.load_pem_private_key(signing_pem, password=None)
    if not isinstance(signing_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ImproperlyConfigured("JWT keys must be EC P-256 (ES256) or RSA (RS256).")
    current = _verification_key(signing_key.public_key())
    by_kid = {current.kid: current}
    previous_pem = _read_setting("JWT_PREVIOUS_VERIFYING_KEY", "JWT_PREVIOUS_VERIFYING_KEY_FILE")
    if previous_pem is not None:
        previous = _verification_key(_load_public_key(previous_pem))
        by_kid.setdefault(previous.kid, previous)
    oidc_pem = _read_setting("OIDC_RSA_PRIVATE_KEY", "OIDC_RSA_PRIVATE_KEY_FILE")
    openid_connect = _verification_key(_load_public_key(oidc_pem)) if oidc_pem is not None else None
    if openid_connect is not None and openid_connect.algorithm != "RS256":
        raise ImproperlyConfigured("OIDC_RSA_PRIVATE_KEY must be an RSA key (RS256).")
    return KeySet(signing_key=signing_key, current=current, by_kid=by_kid, openid_connect=openid_connect)


def _forget_keys(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith(("JWT_", "OIDC_")):
        key_set.cache_clear()


setting_changed.connect(_forget_keys)
