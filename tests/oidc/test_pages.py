"""Prompts, remembered consents, RP-initiated logout, "Connected apps", the admin and createapplication."""

from __future__ import annotations

from io import StringIO
from urllib.parse import urlencode

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.flows.data_export import account_data_json, account_data_of
from accounts.models import SecurityEvent, User, UserSession
from oidc.models import Application, Consent
from tests.factories import UserFactory
from tests.oidc.conftest import (
    application_create,
    authorize_query,
    code_get,
    page_login,
    pkce_pair,
    redirect_params,
    token_exchange,
    userinfo,
)

pytestmark = pytest.mark.django_db


def test_a_consent_is_remembered_for_the_same_scopes_and_asked_again_for_more(
    web: Client, app: Application, user: User
) -> None:
    page_login(web, user)
    code_get(web, app, pkce_pair(), scope="openid email")

    assert "code" in redirect_params(web.get(authorize_query(app, pkce_pair(), scope="openid")))
    assert web.get(authorize_query(app, pkce_pair(), scope="openid email offline_access")).status_code == 200
    assert web.get(authorize_query(app, pkce_pair(), scope="openid", prompt="consent")).status_code == 200


def test_an_application_that_skips_authorization_shows_no_consent_page(web: Client, user: User) -> None:
    app = application_create(skip_authorization=True, client_id="in-house")
    page_login(web, user)

    params = redirect_params(web.get(authorize_query(app, pkce_pair())))

    assert "code" in params
    assert not SecurityEvent.objects.filter(user=user, type="OIDC_CONSENT_GRANTED").exists()


def test_prompt_login_logs_the_browser_out_and_comes_back_after_a_fresh_login(
    web: Client, app: Application, user: User
) -> None:
    page_login(web, user)
    first_session = UserSession.objects.get(user=user, kind="browser")

    response = web.get(authorize_query(app, pkce_pair(), prompt="login"))

    assert response["Location"].startswith("/account/login/?next=")
    assert "prompt" not in response["Location"]
    first_session.refresh_from_db()
    assert first_session.ended_at is not None


def test_max_age_past_forces_a_fresh_login_and_auth_time_says_when(
    web: Client, app: Application, user: User
) -> None:
    with time_machine.travel(timezone.now() - timezone.timedelta(hours=2), tick=False):
        page_login(web, user)

    response = web.get(authorize_query(app, pkce_pair(), max_age="3600"))
    assert response["Location"].startswith("/account/login/")
    assert "max_age" not in response["Location"]

    page_login(web, user)
    pkce = pkce_pair()
    tokens = token_exchange(web, app, code_get(web, app, pkce, max_age="3600"), pkce).json()
    assert abs(userinfo(tokens["access_token"]).json()["auth_time"] - timezone.now().timestamp()) < 60


def test_rp_initiated_logout_ends_the_browser_session_and_the_grant(
    web: Client, app: Application, user: User
) -> None:
    page_login(web, user)
    pkce = pkce_pair()
    tokens = token_exchange(web, app, code_get(web, app, pkce), pkce).json()
    query = urlencode(
        {
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://app.example.com/bye",
            "state": "s",
        }
    )

    response = web.get(f"/oauth/logout/?{query}")

    assert response["Location"] == "https://app.example.com/bye?state=s"
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert userinfo(tokens["access_token"]).status_code == 401
    assert web.get("/account/")["Location"].startswith("/account/login/")


def test_rp_initiated_logout_refuses_an_unregistered_post_logout_uri(
    web: Client, app: Application, user: User
) -> None:
    page_login(web, user)
    pkce = pkce_pair()
    tokens = token_exchange(web, app, code_get(web, app, pkce), pkce).json()
    query = urlencode(
        {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example.com/"}
    )

    response = web.get(f"/oauth/logout/?{query}")

    assert response.status_code == 400
    assert "evil" not in response.get("Location", "")


def test_connected_apps_are_listed_and_removing_access_ends_the_grant(
    web: Client, app: Application, user: User
) -> None:
    page_login(web, user)
    pkce = pkce_pair()
    tokens = token_exchange(web, app, code_get(web, app, pkce), pkce).json()
    page = web.get("/account/").content.decode()
    assert "Connected apps" in page
    assert "Trading Desk" in page
    consent = Consent.objects.get(user=user, application=app)

    response = web.post(f"/account/apps/{consent.pk}/remove/")

    assert response["Location"] == "/account/"
    assert userinfo(tokens["access_token"]).status_code == 401
    assert not Consent.objects.filter(pk=consent.pk).exists()
    assert SecurityEvent.objects.filter(user=user, type="OIDC_ACCESS_REMOVED").exists()


def test_removing_another_users_connected_app_is_not_found(web: Client, app: Application, user: User) -> None:
    other = UserFactory()
    consent = Consent.objects.create(user=other, application=app, scopes=["openid"])
    page_login(web, user)

    web.post(f"/account/apps/{consent.pk}/remove/")

    assert Consent.objects.filter(pk=consent.pk).exists()


def test_the_consent_page_speaks_spanish(web: Client, app: Application, user: User) -> None:
    page_login(web, user)

    page = web.get(authorize_query(app, pkce_pair()), HTTP_ACCEPT_LANGUAGE="es").content.decode()

    assert "quiere iniciar tu sesión" in page
    assert "Permitir" in page


def test_createapplication_with_rs256_makes_a_usable_client(web: Client, user: User) -> None:
    call_command(
        "createapplication",
        "confidential",
        "authorization-code",
        "--name=Support Portal",
        "--client-id=support-portal",
        "--client-secret=portal-secret-0123456789",
        "--redirect-uris=https://app.example.com/callback",
        "--algorithm=RS256",
        stdout=StringIO(),
    )
    app = Application.objects.get(client_id="support-portal")
    page_login(web, user)
    pkce = pkce_pair()

    response = token_exchange(
        web,
        app,
        code_get(web, app, pkce),
        pkce,
        client_id=app.client_id,
        client_secret="portal-secret-0123456789",
    )

    assert response.status_code == 200
    assert response.json()["id_token"]


def test_applications_are_managed_by_superusers_not_the_support_group(user: User) -> None:
    from django.contrib.auth.models import Group

    support = Group.objects.get(name="Support")

    assert not support.permissions.filter(content_type__app_label="oidc").exists()


def test_the_data_export_lists_connected_apps_without_secrets(
    web: Client, app: Application, user: User
) -> None:
    page_login(web, user)
    pkce = pkce_pair()
    tokens = token_exchange(web, app, code_get(web, app, pkce), pkce).json()

    document = account_data_of(user)
    exported = account_data_json(document)

    assert [entry["name"] for entry in document["connectedApps"]] == ["Trading Desk"]
    assert document["connectedApps"][0]["clientId"] == app.client_id
    assert "openid" in document["connectedApps"][0]["scopes"]
    for secret in (tokens["access_token"], tokens["id_token"], app.client_secret):
        assert secret.encode() not in exported
