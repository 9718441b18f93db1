"""The anti-phishing code: the API and the pages, and every email template showing it at the top."""

from __future__ import annotations

import html
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from django.conf import settings
from django.core import mail
from django.test import Client as BrowserClient
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.core.mail import email_send
from accounts.models import SecurityEvent, User
from tests.conftest import Committed, authenticate
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

URL = "/auth/me/anti-phishing-code"
CODE = "Zebra42"
EMAIL_TEMPLATES = sorted(
    path.name.removesuffix(".subject.txt")
    for path in (Path(settings.BASE_DIR) / "templates" / "emails").glob("*.subject.txt")
)
# Every variable any email template reads, with a value of the kind it gets.
EMAIL_CONTEXT = {
    "code": "123456",
    "minutes": 10,
    "uid": "MQ",
    "token": "set-password",
    "frozen": True,
    "email": "someone@example.com",
    "factor": "TOTP",
    "phone": "+34*******78",
    "passkey": "Laptop",
    "remaining": 9,
    "failures": 5,
    "until": timezone.now() + timedelta(hours=1),
    "due_at": timezone.now() + timedelta(days=3),
    "requested_by": "support",
    "cancelled_by": "user",
    "when": timezone.now(),
    "device": "Firefox on Windows",
    "ip": "203.0.113.10",
    "action": "set",
    "freeze_url": "https://auth.example.com/account/freeze/token/",
    "new_email": "n***@e***.org",
    "retention_days": 30,
}


def events_of(user: User) -> list[dict[str, Any]]:
    return [
        event.details
        for event in SecurityEvent.objects.filter(
            user=user, type=SecurityEvent.Type.ANTI_PHISHING_CODE_CHANGED
        )
    ]


# --- the API -------------------------------------------------------------------------------------------


def test_the_profile_has_no_code_until_one_is_set(auth_client: APIClient) -> None:
    assert "antiPhishingCode" not in auth_client.get("/auth/me").json()


def test_setting_the_code_shows_it_in_the_profile_and_is_recorded_and_emailed(
    auth_client: APIClient, user: User, committed: Committed
) -> None:
    with committed():
        response = auth_client.put(URL, {"code": CODE}, format="json")

    assert response.status_code == 200 and response.json()["antiPhishingCode"] == CODE
    assert auth_client.get("/auth/me").json()["antiPhishingCode"] == CODE
    assert events_of(user) == [{"action": "set"}]
    [message] = mail.outbox
    assert message.body.startswith(f"Your anti-phishing code: {CODE}")
    assert "/account/freeze/" in message.body


def test_changing_the_code_is_recorded_as_a_change(auth_client: APIClient, user: User) -> None:
    auth_client.put(URL, {"code": CODE}, format="json")

    response = auth_client.put(URL, {"code": "Giraffe7"}, format="json")

    assert response.json()["antiPhishingCode"] == "Giraffe7"
    assert events_of(user) == [{"action": "changed"}, {"action": "set"}]


@pytest.mark.parametrize(
    "code", ["abc", "a" * 21, "Zebra 42", "Zébra42", "Zebra-42", "", "\uff11\uff12\uff13\uff14"]
)
def test_a_code_of_other_than_4_to_20_ascii_letters_and_digits_is_refused(
    auth_client: APIClient, user: User, code: str
) -> None:
    response = auth_client.put(URL, {"code": code}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error" and "code" in response.json()["errors"]
    user.refresh_from_db()
    assert user.anti_phishing_code == ""


@pytest.mark.parametrize("code", ["abcd", "A" * 20, "0000", "Zebra42"])
def test_4_to_20_ascii_letters_and_digits_are_accepted(auth_client: APIClient, code: str) -> None:
    assert auth_client.put(URL, {"code": code}, format="json").status_code == 200


def test_setting_and_removing_need_step_up_when_a_factor_is_verified(
    totp_user: tuple[User, pyotp.TOTP],
) -> None:
    user, authenticator = totp_user
    client = authenticate(APIClient(), user)

    refused = client.put(URL, {"code": CODE}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "otp_invalid"
    assert client.put(URL, {"code": CODE}, format="json", HTTP_X_OTP=authenticator.now()).status_code == 200
    refused = client.delete(URL)
    assert refused.status_code == 403 and refused.json()["code"] == "otp_invalid"
    user.refresh_from_db()
    assert user.anti_phishing_code == CODE


def test_removing_the_code(auth_client: APIClient, user: User, committed: Committed) -> None:
    auth_client.put(URL, {"code": CODE}, format="json")
    mail.outbox.clear()

    with committed():
        response = auth_client.delete(URL)

    assert response.status_code == 200 and "antiPhishingCode" not in response.json()
    assert events_of(user)[0] == {"action": "removed"}
    [message] = mail.outbox
    assert CODE not in message.body and "removed" in message.body


def test_removing_when_none_is_set_is_not_found(auth_client: APIClient) -> None:
    response = auth_client.delete(URL)

    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_the_code_never_reaches_the_audit_trail(auth_client: APIClient, user: User) -> None:
    auth_client.put(URL, {"code": CODE}, format="json")

    assert CODE not in str(list(SecurityEvent.objects.filter(user=user).values_list("details", flat=True)))


def test_later_emails_show_the_code_at_the_top(auth_client: APIClient, user: User) -> None:
    auth_client.put(URL, {"code": CODE}, format="json")
    mail.outbox.clear()

    APIClient().post("/auth/password/reset", {"email": user.email}, format="json")

    [message] = mail.outbox
    assert message.body.startswith(f"Your anti-phishing code: {CODE}")
    assert CODE in message.alternatives[0][0]


# --- every email template ------------------------------------------------------------------------------


def test_every_email_template_is_found() -> None:
    assert {"new_device_login", "password_reset", "verification_code", "account_frozen"} <= set(
        EMAIL_TEMPLATES
    )


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("template", EMAIL_TEMPLATES)
def test_every_email_shows_the_code_near_the_top_in_both_parts(template: str, language: str) -> None:
    email_send(
        to="someone@example.com",
        language=language,
        template=template,
        context=EMAIL_CONTEXT,
        anti_phishing_code=CODE,
    )

    [message] = mail.outbox
    intro = "Your anti-phishing code" if language == "en" else "Tu código antiphishing"
    assert message.body.startswith(f"{intro}: {CODE}")
    page = html.unescape(message.alternatives[0][0])
    assert f"{intro}: <strong>{CODE}</strong>" in page
    # Near the top: before the message itself.
    assert page.index(CODE) < page.index("</p>", page.index(CODE)) < page.index("{}".format("</body>"))
    assert page.index(CODE) < len(page) // 2 or len(page) < 1500


@pytest.mark.parametrize("template", EMAIL_TEMPLATES)
def test_without_a_code_no_email_mentions_one(template: str) -> None:
    email_send(
        to="someone@example.com",
        language="en",
        template=template,
        context=EMAIL_CONTEXT,
        anti_phishing_code="",
    )

    [message] = mail.outbox
    assert "anti-phishing code:" not in message.body


def test_every_text_and_html_email_template_extends_the_one_base() -> None:
    directory = Path(settings.BASE_DIR) / "templates" / "emails"
    for name in EMAIL_TEMPLATES:
        assert (directory / f"{name}.txt").read_text().startswith('{% extends "emails/base.txt" %}'), name
        assert (directory / f"{name}.html").read_text().startswith('{% extends "emails/base.html" %}'), name


# --- the pages -----------------------------------------------------------------------------------------


def logged_in(user: User) -> BrowserClient:
    browser = BrowserClient()
    browser.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    return browser


def test_the_security_page_sets_changes_and_removes_the_code(user: User) -> None:
    browser = logged_in(user)
    assert "Anti-phishing code" in browser.get("/account/").content.decode()

    browser.post("/account/anti-phishing-code/", {"anti_phishing_code": CODE})
    assert f'<strong id="anti-phishing-code">{CODE}</strong>' in browser.get("/account/").content.decode()
    browser.post("/account/anti-phishing-code/", {"anti_phishing_code": "Giraffe7"})
    user.refresh_from_db()
    assert user.anti_phishing_code == "Giraffe7"

    assert browser.get("/account/anti-phishing-code/remove/").status_code == 200
    browser.post("/account/anti-phishing-code/remove/")
    user.refresh_from_db()
    assert user.anti_phishing_code == ""


def test_the_page_shows_why_a_code_is_refused(user: User) -> None:
    response = logged_in(user).post("/account/anti-phishing-code/", {"anti_phishing_code": "no way!"})

    assert response.status_code == 400
    assert "4 to 20 letters" in html.unescape(response.content.decode())


def test_the_page_asks_for_the_second_factor(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, authenticator = totp_user
    browser = BrowserClient()
    browser.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    browser.post("/account/login/code/", {"code": authenticator.now()})
    user.refresh_from_db()

    refused = browser.post("/account/anti-phishing-code/", {"anti_phishing_code": CODE, "otp": "000000"})

    assert refused.status_code == 403
    user.refresh_from_db()
    assert user.anti_phishing_code == ""
