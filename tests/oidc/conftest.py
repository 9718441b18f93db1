"""Applications, PKCE pairs and a browser signed in through the account pages, for the provider's tests."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client

from accounts.models import User
from oidc.models import Application
from tests.conftest import USER_AGENT
from tests.factories import DEFAULT_PASSWORD

REDIRECT_URI = "https://app.example.com/callback"
CLIENT_SECRET = "s3cret-of-the-confidential-app-0123456789"
AUTHORIZE = "/oauth/authorize/"
TOKEN = "/oauth/token/"
USERINFO = "/oauth/userinfo/"


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str


def pkce_pair() -> Pkce:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return Pkce(verifier=verifier, challenge=base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def application_create(**fields: Any) -> Application:
    defaults = {
        "name": "Trading Desk",
        "client_type": Application.CLIENT_CONFIDENTIAL,
        "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
        "redirect_uris": REDIRECT_URI,
        "post_logout_redirect_uris": "https://app.example.com/bye",
        "algorithm": Application.RS256_ALGORITHM,
        "client_secret": CLIENT_SECRET,
    }
    return Application.objects.create(**{**defaults, **fields})


@pytest.fixture
def app(db: None) -> Application:
    return application_create()


@pytest.fixture
def public_app(db: None) -> Application:
    return application_create(
        name="Partner SPA", client_type=Application.CLIENT_PUBLIC, client_secret="", client_id="partner-spa"
    )


@pytest.fixture
def web() -> Client:
    return Client(HTTP_USER_AGENT=USER_AGENT)


def page_login(web: Client, user: User, *, code: str | None = None) -> None:
    """Sign the browser in through the login page (and the second step with `code`)."""
    response = web.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content
    if code is not None:
        response = web.post("/account/login/code/", {"code": code})
        assert response.status_code == 302, response.content


def authorize_query(app: Application, pkce: Pkce | None = None, **params: str) -> str:
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email offline_access",
        "state": "state-123",
        "nonce": "nonce-456",
    }
    if pkce is not None:
        query.update(code_challenge=pkce.challenge, code_challenge_method="S256")
    query.update(params)
    return f"{AUTHORIZE}?{urlencode(query)}"


def redirect_params(response: Any) -> dict[str, str]:
    """The query of a redirect to the application, one value per name."""
    assert response.status_code == 302, getattr(response, "content", b"")[:500]
    location = response["Location"]
    assert location.startswith(REDIRECT_URI), location
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def consent_allow(web: Client, response: Any) -> Any:
    """Press Allow on the consent page `response` shows."""
    form = response.context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    return web.post(AUTHORIZE, {**data, "allow": "on"})


def code_get(web: Client, app: Application, pkce: Pkce | None = None, **params: str) -> str:
    """The code of a signed-in browser's authorization, through the consent page if it is shown."""
    response = web.get(authorize_query(app, pkce, **params))
    if response.status_code == 200:
        response = consent_allow(web, response)
    return redirect_params(response)["code"]


def token_exchange(web: Client, app: Application, code: str, pkce: Pkce | None = None, **extra: str) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, **extra}
    if pkce is not None:
        data["code_verifier"] = pkce.verifier
    if app.client_type == Application.CLIENT_CONFIDENTIAL and "client_secret" not in extra:
        data.update(client_id=app.client_id, client_secret=CLIENT_SECRET)
    else:
        data.setdefault("client_id", app.client_id)
    return Client().post(TOKEN, data)


def token_refresh(app: Application, refresh_token: str) -> Any:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": app.client_id}
    if app.client_type == Application.CLIENT_CONFIDENTIAL:
        data["client_secret"] = CLIENT_SECRET
    return Client().post(TOKEN, data)


def userinfo(access_token: str) -> Any:
    return Client().get(USERINFO, HTTP_AUTHORIZATION=f"Bearer {access_token}")
