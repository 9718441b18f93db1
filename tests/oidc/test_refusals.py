"""Every refusal of the provider (issue 22): redirect URIs, PKCE, codes, clients, prompts, accounts, sessions."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.core.client import Client as RequestClient
from accounts.flows.closing import account_close
from accounts.flows.support import account_block
from accounts.models import User, UserSession
from oidc.models import Application
from tests.factories import DEFAULT_PASSWORD
from tests.oidc.conftest import (
    AUTHORIZE,
    REDIRECT_URI,
    authorize_query,
    code_get,
    consent_allow,
    page_login,
    pkce_pair,
    redirect_params,
    token_exchange,
    token_refresh,
    userinfo,
)

pytestmark = pytest.mark.django_db


def tokens_of_a_grant(web: Client, app: Application, user: User) -> dict:
    page_login(web, user)
    pkce = pkce_pair()
    response = token_exchange(web, app, code_get(web, app, pkce), pkce)
    assert response.status_code == 200, response.content
    return response.json()


def test_a_redirect_uri_not_registered_exactly_is_never_redirected_to(
    web: Client, app: Application, user: User
) -> None:
    page_login(web, user)
    for redirect_uri in ["https://evil.example.com/callback", REDIRECT_URI + "/", REDIRECT_URI + "?x=1"]:
        response = web.get(authorize_query(app, pkce_pair(), redirect_uri=redirect_uri))

        assert response.status_code == 400
        assert "evil" not in response.get("Location", "")
        assert "cannot be used" in response.content.decode()


def test_a_public_client_without_pkce_gets_no_code(web: Client, public_app: Application, user: User) -> None:
    page_login(web, user)

    params = redirect_params(web.get(authorize_query(public_app)))

    assert params["error"] == "invalid_request"
    assert "code" not in params


def test_pkce_plain_is_refused(web: Client, public_app: Application, user: User) -> None:
    page_login(web, user)

    params = redirect_params(
        web.get(authorize_query(public_app, code_challenge="x" * 43, code_challenge_method="plain"))
    )

    assert "code" not in params


def test_a_public_client_with_the_wrong_verifier_gets_invalid_grant(
    web: Client, public_app: Application, user: User
) -> None:
    page_login(web, user)
    code = code_get(web, public_app, pkce_pair())

    response = token_exchange(web, public_app, code, pkce_pair())

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_code_works_once(web: Client, app: Application, user: User) -> None:
    page_login(web, user)
    pkce = pkce_pair()
    code = code_get(web, app, pkce)
    assert token_exchange(web, app, code, pkce).status_code == 200

    again = token_exchange(web, app, code, pkce)

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert UserSession.objects.filter(user=user, kind="oidc").count() == 1


def test_a_code_of_another_client_is_refused(
    web: Client, app: Application, public_app: Application, user: User
) -> None:
    page_login(web, user)
    pkce = pkce_pair()
    code = code_get(web, public_app, pkce)

    response = token_exchange(web, app, code, pkce)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_invalid_client(web: Client, app: Application, user: User) -> None:
    page_login(web, user)
    pkce = pkce_pair()
    code = code_get(web, app, pkce)

    response = token_exchange(web, app, code, pkce, client_id=app.client_id, client_secret="wrong")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "no-store" in response["Cache-Control"]


def test_prompt_none_without_a_session_answers_login_required(web: Client, app: Application) -> None:
    params = redirect_params(web.get(authorize_query(app, pkce_pair(), prompt="none")))

    assert params == {"error": "login_required", "state": "state-123"}


def test_prompt_none_before_consent_answers_consent_required(
    web: Client, app: Application, user: User
) -> None:
    page_login(web, user)

    params = redirect_params(web.get(authorize_query(app, pkce_pair(), prompt="none")))

    assert params["error"] == "consent_required"
    assert params["state"] == "state-123"


def test_deny_answers_access_denied(web: Client, app: Application, user: User) -> None:
    page_login(web, user)
    response = web.get(authorize_query(app, pkce_pair()))
    form = response.context["form"]

    denied = web.post(AUTHORIZE, {name: value for name, value in form.initial.items() if value is not None})

    params = redirect_params(denied)
    assert params["error"] == "access_denied"
    assert params["state"] == "state-123"
    assert not user.oidc_consents.exists()


def test_a_blocked_account_is_logged_out_and_gets_no_code(web: Client, app: Application, user: User) -> None:
    page_login(web, user)
    account_block(user=user, staff_member=None, reason="fraud")

    response = web.get(authorize_query(app, pkce_pair()))

    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/")
    assert web.get("/account/")["Location"].startswith("/account/login/")


def test_a_code_of_an_account_blocked_since_is_refused(web: Client, app: Application, user: User) -> None:
    page_login(web, user)
    pkce = pkce_pair()
    code = code_get(web, app, pkce)
    User.objects.filter(pk=user.pk).update(status=User.Status.BLOCKED)

    response = token_exchange(web, app, code, pkce)

    assert response.json()["error"] == "invalid_grant"


def test_an_account_with_totp_and_only_a_password_in_this_session_is_sent_to_the_second_step(
    web: Client, app: Application, totp_user
) -> None:
    user, authenticator = totp_user
    User.objects.filter(pk=user.pk).update(totp_verified_at=None)
    page_login(web, user)  # the password alone, before the factor was added
    User.objects.filter(pk=user.pk).update(totp_verified_at=timezone.now())
    query = authorize_query(app, pkce_pair())

    response = web.get(query)

    assert response["Location"] == "/account/login/code/"
    response = web.post("/account/login/code/", {"code": authenticator.now()})
    assert response["Location"] == query
    consent = web.get(query)
    assert consent.status_code == 200
    assert "code" in redirect_params(consent_allow(web, consent))


def test_a_totp_login_reaches_the_id_token_as_amr(web: Client, app: Application, totp_user) -> None:
    user, authenticator = totp_user
    page_login(web, user, code=authenticator.now())
    pkce = pkce_pair()

    tokens = token_exchange(web, app, code_get(web, app, pkce), pkce).json()

    assert userinfo(tokens["access_token"]).json()["amr"] == ["pwd", "otp"]


def test_a_session_ended_from_the_sessions_list_revokes_the_apps_tokens(
    web: Client, app: Application, user: User
) -> None:
    tokens = tokens_of_a_grant(web, app, user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for_login(user, amr=AMR_PASSWORD).id_token}")
    listed = api.get("/auth/sessions").json()["sessions"]
    app_session = next(session for session in listed if session["kind"] == "oidc")
    assert app_session["device"] == "Trading Desk"

    assert api.delete(f"/auth/sessions/{app_session['id']}").status_code == 204

    refreshed = token_refresh(app, tokens["refresh_token"])
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    assert userinfo(tokens["access_token"]).status_code == 401


def test_logout_all_revokes_the_apps_tokens(web: Client, app: Application, user: User) -> None:
    tokens = tokens_of_a_grant(web, app, user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for_login(user, amr=AMR_PASSWORD).id_token}")

    assert api.post("/auth/logout/all").status_code in (200, 204)

    assert userinfo(tokens["access_token"]).status_code == 401
    assert token_refresh(app, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_blocked_account_loses_the_apps_tokens(web: Client, app: Application, user: User) -> None:
    tokens = tokens_of_a_grant(web, app, user)

    account_block(user=user, staff_member=None, reason="fraud", client=RequestClient())

    assert userinfo(tokens["access_token"]).status_code == 401
    assert token_refresh(app, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_refresh_token_of_another_client_is_refused(
    web: Client, app: Application, public_app: Application, user: User
) -> None:
    tokens = tokens_of_a_grant(web, app, user)

    response = token_refresh(public_app, tokens["refresh_token"])

    assert response.json()["error"] == "invalid_grant"


def test_the_token_endpoint_answers_rfc_6749_errors(app: Application) -> None:
    response = Client().post("/oauth/token/", {"grant_type": "password", "username": "a", "password": "b"})

    assert response.status_code in (400, 401)
    assert set(response.json()) <= {"error", "error_description"}


def test_unknown_client_is_shown_an_error_page_not_redirected(web: Client, user: User) -> None:
    page_login(web, user)
    query = urlencode({"response_type": "code", "client_id": "nobody", "redirect_uri": REDIRECT_URI})

    response = web.get(f"{AUTHORIZE}?{query}")

    assert response.status_code in (400, 401)
    assert "Location" not in response


def test_closing_the_account_revokes_the_apps_tokens(web: Client, app: Application, user: User) -> None:
    tokens = tokens_of_a_grant(web, app, user)

    account_close(user=user, password=DEFAULT_PASSWORD, otp=None, client=RequestClient())

    assert userinfo(tokens["access_token"]).status_code == 401
    assert token_refresh(app, tokens["refresh_token"]).json()["error"] == "invalid_grant"
