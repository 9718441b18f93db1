"""In Chromium: change the email through the pages, download the data, close the account."""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from accounts.models import User
from tests.e2e.conftest import screenshot
from tests.factories import DEFAULT_PASSWORD, UserFactory

NEW_EMAIL = "moved@example.org"


def log_in(page: Page, email: str) -> None:
    page.goto("/account/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def code_sent_to(address: str) -> str:
    message = [message for message in mail.outbox if message.to == [address]][-1]
    return re.search(r"\b(\d{6})\b", message.body).group(1)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_change_the_email_download_the_data_and_close_the_account(page: Page) -> None:
    user = UserFactory(email="moving@example.com")
    log_in(page, user.email)
    expect(page).to_have_url(re.compile(r"/account/$"))

    # Change the email: "Change" beside it, then the code sent to the new address.
    page.get_by_role("link", name="Change your email").click()
    page.get_by_label("New email").fill(NEW_EMAIL)
    page.get_by_label("Your password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Send the code").click()
    expect(page).to_have_url(re.compile(r"/account/email/confirm/$"))
    expect(page.get_by_role("status")).to_contain_text("m***@e***.org")
    screenshot(page, "email-change-code")
    page.get_by_label("Code sent to the new address").fill(code_sent_to(NEW_EMAIL))
    page.get_by_role("button", name="Change my email").click()
    expect(page.get_by_role("status")).to_contain_text("Your email is changed.")
    expect(page.get_by_role("region", name="Sign-in")).to_contain_text(NEW_EMAIL)
    assert any(message.to == [user.email] and "m***@e***.org" in message.body for message in mail.outbox)

    # Download the data.
    page.get_by_role("link", name="Download your data").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    document = json.loads(download.value.path().read_text())
    assert document["profile"]["email"] == NEW_EMAIL
    assert "EMAIL_CHANGED" in {event["type"] for event in document["securityEvents"]}

    # Close the account, after its confirmation step.
    page.goto("/account/")
    page.get_by_role("link", name="Close my account").click()
    page.get_by_label("Your password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Close my account").click()
    expect(page).to_have_url(re.compile(r"/account/close/$"))  # the box was not ticked
    page.get_by_label("Your password").fill(DEFAULT_PASSWORD)
    page.get_by_label(re.compile("I understand")).check()
    screenshot(page, "account-close")
    page.get_by_role("button", name="Close my account").click()
    expect(page.get_by_role("status")).to_contain_text("Your account is closed.")
    assert User.objects.get(pk=user.pk).closed_at is not None

    # The account is gone for login: the same refusal as an unknown email.
    log_in(page, NEW_EMAIL)
    expect(page.get_by_text("The email or the password is not correct.")).to_be_visible()
