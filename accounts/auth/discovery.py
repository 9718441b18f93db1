"""The OpenID Connect discovery document: who issues our idTokens and where their keys are."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from accounts.auth.signing_keys import key_set

# What an idToken carries (accounts/auth/tokens.py; `security_changed_at` only after a security change);
# `token_type` and `gen` are for this service only.
CLAIMS_SUPPORTED = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "jti",
    "email",
    "email_verified",
    "amr",
    "sid",
    "security_changed_at",
]
# The service has no OAuth authorization endpoint: it issues idTokens, from POST /auth/login.
RESPONSE_TYPES_SUPPORTED = ["id_token"]


def openid_configuration(*, base_url: str) -> dict[str, Any]:
    """The document served at /.well-known/openid-configuration; URLs under `base_url`."""
    keys = key_set()
    algorithms = [keys.current.algorithm]
    algorithms += sorted({key.algorithm for key in keys.by_kid.values()} - {keys.current.algorithm})
    base_url = base_url.rstrip("/")
    return {
        "issuer": settings.JWT_ISSUER,
        "jwks_uri": base_url + reverse("jwks"),
        "token_endpoint": base_url + reverse("login"),
        "id_token_signing_alg_values_supported": algorithms,
        "subject_types_supported": ["public"],
        "response_types_supported": RESPONSE_TYPES_SUPPORTED,
        "claims_supported": CLAIMS_SUPPORTED,
    }
