"""authlib (PyPI), a relying-party library no one here wrote, through the whole flow against gunicorn."""

from __future__ import annotations

import warnings
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken

with warnings.catch_warnings():
    # authlib.jose is deprecated for joserfc; its OpenID Connect ID token checks still use it.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.jose import JsonWebKey, jwt

from tests.oidc.live.conftest import RegisteredApp, RelyingPartyBrowser, TotpAccount, discovery_of
from tests.robustness.live_server import LiveServer

pytestmark = [pytest.mark.postgres, pytest.mark.e2e, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_authlib_signs_in_refreshes_revokes_and_logs_out(
    oidc_server: LiveServer,
    registered_app: RegisteredApp,
    totp_account: TotpAccount,
    rp_browser: RelyingPartyBrowser,
) -> None:
    metadata = discovery_of(oidc_server)
    client = OAuth2Session(
        registered_app.client_id,
        registered_app.client_secret,
        scope="openid email offline_access",
        redirect_uri=registered_app.redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    code_verifier, nonce = generate_token(48), generate_token(20)
    url, state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
    )

    callback = rp_browser.sign_in(url, totp_account, screenshot_name="oidc-consent")

    assert parse_qs(urlsplit(callback).query)["state"] == [state]
    token = client.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, code_verifier=code_verifier
    )
    jwks = JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
    claims = jwt.decode(
        token["id_token"],
        jwks,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": metadata["issuer"]}},
        claims_params={"nonce": nonce, "client_id": registered_app.client_id},
    )
    claims.validate()
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["email"] == totp_account.email
    assert claims["aud"] == registered_app.client_id

    userinfo = client.get(metadata["userinfo_endpoint"]).json()
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["email"] == totp_account.email

    refreshed = client.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert client.get(metadata["userinfo_endpoint"]).json()["sub"] == claims["sub"]

    revoked = client.revoke_token(
        metadata["revocation_endpoint"], token=refreshed["refresh_token"], token_type_hint="refresh_token"
    )
    assert revoked.status_code == 200
    with pytest.raises(OAuthError) as refused:
        client.refresh_token(metadata["token_endpoint"], refresh_token=refreshed["refresh_token"])
    assert refused.value.error == "invalid_grant"

    signed_out = rp_browser.visit(
        metadata["end_session_endpoint"]
        + "?"
        + requests.compat.urlencode(
            {
                "id_token_hint": token["id_token"],
                "post_logout_redirect_uri": registered_app.post_logout_redirect_uri,
                "state": "bye",
            }
        )
    )
    assert signed_out.startswith(registered_app.post_logout_redirect_uri), signed_out
    assert parse_qs(urlsplit(signed_out).query)["state"] == ["bye"]
    rp_browser.page.goto("/account/")
    assert "/account/login/" in rp_browser.page.url
