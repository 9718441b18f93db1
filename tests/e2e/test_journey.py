"""The issue's journey in a real browser: a new user sets up and uses every factor, pages only."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
import time_machine
from playwright.sync_api import Page, expect

from accounts.models import User
from tests.conftest import last_email_code, last_sms_code
from tests.e2e.conftest import DESKTOP_VIEWPORT, screenshot

EMAIL = "journey@example.com"
PASSWORD = "a perfectly fine passphrase"
TOTP_STEP_SECONDS = 30
PHONE_VIEWPORT = {"width": 390, "height": 844}


def log_in_with_password(page: Page) -> None:
    page.goto("/account/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_have_text("You are logged out.")


@pytest.mark.e2e
def test_new_user_sets_up_and_uses_every_factor_in_the_browser(page: Page) -> None:
    # The server runs in a thread of this process: moving the clock moves it too, which gets
    # each TOTP code past the replay protection (a step is accepted once).
    with time_machine.travel(datetime.now(UTC), tick=True) as clock:
        # Sign up, then verify the email with the code it was sent.
        page.goto("/")
        expect(page).to_have_url(re.compile(r"/account/login/\?next=/account/$"))
        page.get_by_role("link", name="Create an account").click()
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("status")).to_contain_text("we sent a code to verify your email")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        screenshot(page, "login")
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(re.compile(r"/account/email/verify/$"))
        page.get_by_label("Code from the email").fill(last_email_code())
        page.get_by_role("button", name="Verify email").click()
        expect(page.get_by_role("status")).to_have_text("Your email is verified.")

        # Set up TOTP with the secret read off the page.
        page.get_by_role("link", name="Set up").click()
        page.get_by_role("button", name="Start set-up").click()
        expect(page.locator(".qr svg")).to_be_visible()
        authenticator = pyotp.TOTP(page.locator("#totp-secret").inner_text().replace(" ", ""))
        screenshot(page, "totp-setup")
        page.get_by_label("Code from the app").fill(authenticator.now())
        page.get_by_role("button", name="Verify and turn on").click()
        expect(page.get_by_role("status")).to_contain_text("Your authenticator app is set up.")

        # Log out, log in with password + TOTP.
        log_out(page)
        log_in_with_password(page)
        expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
        screenshot(page, "login-code")
        clock.shift(TOTP_STEP_SECONDS)
        page.get_by_label("Code from your authenticator app").fill(authenticator.now())
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()

        # Add a phone (step-up with TOTP) and verify it with the SMS code.
        page.get_by_role("link", name="Add", exact=True).click()
        page.get_by_label("Country").select_option("ES")
        page.get_by_label("Mobile number").fill("612 34 56 78")
        clock.shift(TOTP_STEP_SECONDS)
        page.get_by_label("Code from your authenticator app").fill(authenticator.now())
        page.get_by_role("button", name="Text me a code").click()
        expect(page.get_by_role("heading", name="Verify your phone")).to_be_visible()
        page.get_by_label("Code from the text message").fill(last_sms_code())
        page.get_by_role("button", name="Verify phone").click()
        expect(page.get_by_role("status")).to_contain_text("Your phone is verified.")

        # Generate recovery codes (step-up), see them once, download them.
        page.get_by_role("link", name="Generate new").click()
        clock.shift(TOTP_STEP_SECONDS)
        page.get_by_label("Code from your authenticator app").fill(authenticator.now())
        page.get_by_role("button", name="Generate new codes").click()
        # all_inner_texts() does not wait: wait for the answer's page before reading it.
        expect(page.locator(".codes code")).to_have_count(10)
        codes = page.locator(".codes code").all_inner_texts()
        assert len(set(codes)) == 10
        screenshot(page, "recovery-codes")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download as .txt").click()
        assert download.value.suggested_filename == "recovery-codes.txt"
        assert codes[0] in Path(download.value.path()).read_text()
        page.get_by_role("link", name="I saved them").click()
        expect(page.locator(".settings__row", has_text="Recovery codes")).to_contain_text("10 left")
        screenshot(page, "security")
        page.set_viewport_size(PHONE_VIEWPORT)
        screenshot(page, "security-phone")
        page.set_viewport_size(DESKTOP_VIEWPORT)

        # Log in with a recovery code.
        log_out(page)
        log_in_with_password(page)
        page.get_by_role("link", name="Use a recovery code").click()
        page.get_by_label("Recovery code").fill(codes[0])
        page.get_by_role("button", name="Continue").click()
        expect(page.locator(".settings__row", has_text="Recovery codes")).to_contain_text("9 left")

        # Remove TOTP with step-up.
        page.locator("a[href='/account/totp/remove/']").click()
        clock.shift(TOTP_STEP_SECONDS)
        page.get_by_label("Code from your authenticator app").fill(authenticator.now())
        page.get_by_role("button", name="Remove the app").click()
        expect(page.get_by_role("status")).to_have_text("The authenticator app is removed.")
        expect(page.locator(".settings__row", has_text="Authenticator app")).to_contain_text("Off")

    user = User.objects.get(email=EMAIL)
    assert user.email_verified and user.phone_verified_at is not None
    assert user.totp_verified_at is None
