"""English and Spanish: the API's detail texts, the pages, emails and SMS in the user's language."""

from __future__ import annotations

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.core.client import Client
from accounts.flows.passwords import password_change
from accounts.models import User
from otp import services as otp_services
from otp import sms_backends
from tests.conftest import authenticate
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another fine passphrase 42"


def test_api_details_follow_accept_language_and_codes_do_not(api_client: APIClient, user: User) -> None:
    body = {"email": user.email, "password": "not the password"}
    english = api_client.post("/auth/login", body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    spanish = api_client.post("/auth/login", body, format="json", HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")

    assert english.json()["code"] == spanish.json()["code"] == "authentication_failed"
    assert english.json()["detail"] == "The email or the password is not correct."
    assert spanish.json()["detail"] != english.json()["detail"]
    assert "contraseña" in spanish.json()["detail"]


def test_validation_errors_are_translated_too(api_client: APIClient) -> None:
    response = api_client.post("/auth/login", {}, format="json", HTTP_ACCEPT_LANGUAGE="es")
    assert response.json()["code"] == "validation_error"
    assert response.json()["detail"] != "The request is not valid."


def test_sign_up_stores_the_language_of_the_request(api_client: APIClient) -> None:
    api_client.post(
        "/auth/register",
        {"email": "nueva@example.com", "password": NEW_PASSWORD},
        format="json",
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert User.objects.get(email="nueva@example.com").language == "es"
    assert "verificación" in mail.outbox[-1].subject.lower() or "código" in mail.outbox[-1].body


def test_patch_me_sets_the_language(api_client: APIClient, user: User) -> None:
    authenticate(api_client, user)
    response = api_client.patch("/auth/me", {"language": "es"}, format="json")
    assert response.status_code == 200 and response.json()["language"] == "es"
    user.refresh_from_db()
    assert user.language == "es"
    refused = api_client.patch("/auth/me", {"language": "fr"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (400, "validation_error")


def test_a_spanish_user_gets_a_spanish_email_whatever_the_request_asked_for(committed) -> None:
    user = UserFactory(language="es")
    with committed():
        password_change(
            user=user,
            current_password=DEFAULT_PASSWORD,
            new_password=NEW_PASSWORD,
            otp=None,
            client=Client(language="en"),
        )
    (message,) = mail.outbox
    html = message.alternatives[0][0]
    assert "contraseña" in message.subject.lower()
    assert "contraseña" in message.body and "contraseña" in html
    assert '<html lang="es">' in html
    assert "password" not in message.body.lower().replace("/password/", "")


@pytest.mark.parametrize(("language", "expected"), [("es", "es tu código"), ("en", "is your")])
def test_sms_texts_are_in_the_users_language(language: str, expected: str) -> None:
    user = UserFactory(language=language)
    otp_services.sms_device_add(user=user, phone="+34612345678", country="ES", otp=None, client=Client())
    assert expected in sms_backends.outbox[-1].body


def test_pages_follow_accept_language(client) -> None:
    spanish = client.get("/account/signup/", HTTP_ACCEPT_LANGUAGE="es")
    english = client.get("/account/signup/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Create an account" in english.content.decode()
    assert "Create an account" not in spanish.content.decode()
    assert spanish["Content-Language"] == "es"


def test_the_language_menu_sets_the_pages_and_the_users_language(client, user: User) -> None:
    client.force_login(user)
    response = client.post("/account/language/", {"language": "es", "next": "/account/"})

    assert response.status_code == 302 and response["Location"] == "/account/"
    user.refresh_from_db()
    assert user.language == "es"
    page = client.get("/account/")
    assert page["Content-Language"] == "es" and '<html lang="es">' in page.content.decode()


def test_the_language_menu_refuses_a_language_it_does_not_offer(client, user: User) -> None:
    client.force_login(user)
    client.post("/account/language/", {"language": "fr"})
    user.refresh_from_db()
    assert user.language == "en"
    assert "django_language" not in client.cookies


def test_pages_format_dates_for_the_language(client, user: User) -> None:
    client.force_login(user)
    User.objects.filter(pk=user.pk).update(password_changed_at="2026-03-05T10:00:00Z")
    english = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    spanish = client.get("/account/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "March 5, 2026" in english
    assert "5 de marzo de 2026" in spanish


def test_the_passkey_scripts_texts_come_in_the_pages_language(client) -> None:
    """static/js/passkeys.js reads its messages from the page (no inline script: the CSP holds)."""
    page = client.get("/account/login/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    english = client.get("/account/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<template id="passkey-messages">' in page
    assert "This browser cannot use passkeys" in english
    assert "This browser cannot use passkeys" not in page
