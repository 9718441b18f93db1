"""The authorization code flow through the account pages, the claims, and the grant as a session."""

from __future__ import annotations

import jwt
import pytest
from django.test import Client
from jwt import PyJWKClient  # noqa: F401 - documents what relying parties use

from accounts.auth.signing_keys import key_set
from accounts.models import SecurityEvent, User, UserSession
from oidc.models import Application
from tests.oidc.conftest import (
    authorize_query,
    consent_allow,
    page_login,
    pkce_pair,
    redirect_params,
    token_exchange,
    token_refresh,
    userinfo,
)

pytestmark = pytest.mark.django_db


def id_token_claims(id_token: str, app: Application) -> dict:
    public_key = key_set().openid_connect.public_key
    return jwt.decode(id_token, public_key, algorithms=["RS256"], audience=app.client_id)


def test_a_browser_not_logged_in_goes_to_the_login_page_and_back(
    web: Client, app: Application, user: User
) -> None:
    pkce = pkce_pair()
    query = authorize_query(app, pkce)

    response = web.get(query)

    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/?next=/oauth/authorize/")
    response = web.post(
        response["Location"], {"email": user.email, "password": "correct horse battery staple"}
    )
    assert response["Location"] == query


def test_the_whole_flow_gives_tokens_claims_and_a_session(
    web: Client, app: Application, user: User, settings
) -> None:
    page_login(web, user)
    pkce = pkce_pair()

    response = web.get(authorize_query(app, pkce))
    assert response.status_code == 200
    assert "Trading Desk" in response.content.decode()
    params = redirect_params(consent_allow(web, response))
    assert params["state"] == "state-123"
    assert params["iss"] == settings.JWT_ISSUER

    tokens = token_exchange(web, app, params["code"], pkce).json()

    claims = id_token_claims(tokens["id_token"], app)
    assert claims["sub"] == str(user.pk)
    assert claims["iss"] == settings.JWT_ISSUER
    assert claims["nonce"] == "nonce-456"
    assert claims["amr"] == ["pwd"]
    assert claims["email"] == user.email
    assert claims["email_verified"] is user.email_verified
    session = UserSession.objects.get(pk=claims["sid"])
    assert (session.kind, session.device, session.user_id) == ("oidc", "Trading Desk", user.pk)
    assert jwt.get_unverified_header(tokens["id_token"])["kid"] == key_set().openid_connect.kid
    answer = userinfo(tokens["access_token"])
    assert answer.status_code == 200
    assert answer.json()["sub"] == str(user.pk)
    assert answer.json()["sid"] == claims["sid"]
    refreshed = token_refresh(app, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.content
    assert id_token_claims(refreshed.json()["id_token"], app)["sid"] == claims["sid"]
    assert SecurityEvent.objects.filter(user=user, type="OIDC_CONSENT_GRANTED").count() == 1
