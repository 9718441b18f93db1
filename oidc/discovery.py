"""The OpenID Provider document: this service's idToken discovery (accounts.discovery) plus the OAuth endpoints."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from oauth2_provider.settings import oauth2_settings

from accounts.auth.discovery import openid_configuration
from accounts.auth.signing_keys import key_set

# What the id_tokens given to applications carry besides this service's own idToken claims.
PROVIDER_CLAIMS = ["auth_time", "nonce", "locale"]


def openid_provider_configuration(*, base_url: str) -> dict[str, Any]:
    """The document at /.well-known/openid-configuration: every endpoint a relying party needs."""
    document = openid_configuration(base_url=base_url)
    base_url = base_url.rstrip("/")
    algorithms = document["id_token_signing_alg_values_supported"]
    if key_set().openid_connect is not None and "RS256" not in algorithms:
        algorithms = [*algorithms, "RS256"]
    return {
        **document,
        "authorization_endpoint": base_url + reverse("oidc:authorize"),
        "token_endpoint": base_url + reverse("oidc:token"),
        "userinfo_endpoint": base_url + reverse("oidc:userinfo"),
        "end_session_endpoint": base_url + reverse("oidc:logout"),
        "revocation_endpoint": base_url + reverse("oidc:revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(oauth2_settings.SCOPES),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "id_token_signing_alg_values_supported": algorithms,
        "claims_supported": [*document["claims_supported"], *PROVIDER_CLAIMS],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": True,
    }
