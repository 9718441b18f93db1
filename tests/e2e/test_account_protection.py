"""Account protection in a real browser: a new-device alert, its freeze link, and unfreezing by reset."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyotp
import pytest
import time_machine
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Browser, Page, expect

from accounts.core.client import Client
from accounts.models import SecurityEvent, User, UserSession
from otp.services import totp_device_create
from tests.conftest import last_email_code
from tests.e2e.conftest import DESKTOP_VIEWPORT, screenshot

EMAIL = "protected@example.com"
PASSWORD = "a perfectly fine passphrase"
NEW_PASSWORD = "another perfectly fine passphrase"
TOTP_STEP_SECONDS = 30
SAFARI_ON_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Mobile/15E148 Safari/604.1"
)


def axe_finds_nothing(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def log_in(page: Page, password: str = PASSWORD) -> None:
    page.goto("/account/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def second_step(page: Page, authenticator: pyotp.TOTP) -> None:
    expect(page).to_have_url(re.compile(r"/account/login/code/$"))
    page.get_by_label("Code from your authenticator app").fill(authenticator.now())
    page.get_by_role("button", name="Continue").click()


def only_email(subject: str) -> mail.EmailMultiAlternatives:
    [message] = [message for message in mail.outbox if subject in message.subject]
    return message


def totp_turned_on(user: User) -> pyotp.TOTP:
    enrolment = totp_device_create(user=user, otp=None, client=Client())
    TOTPDevice.objects.filter(user=user).update(confirmed=True)
    User.objects.filter(pk=user.pk).update(totp_verified_at=timezone.now())
    return pyotp.TOTP(enrolment.secret)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_new_device_alert_freezes_the_account_and_a_reset_unfreezes_it(
    page: Page, browser: Browser, live_server
) -> None:
    with time_machine.travel(datetime.now(UTC), tick=True) as clock:
        # Sign up and log in from this browser: where the account was made, no alert.
        page.goto("/account/signup/")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("status")).to_contain_text("we sent a code to verify your email")
        authenticator = totp_turned_on(User.objects.get(email=EMAIL))
        email_code = last_email_code()
        log_in(page)
        second_step(page, authenticator)
        page.get_by_label("Code from the email").fill(email_code)
        page.get_by_role("button", name="Verify email").click()
        expect(page.get_by_role("status")).to_have_text("Your email is verified.")
        assert not [message for message in mail.outbox if "new sign-in" in message.subject]

        # Another browser, another device: logged in, and the owner is emailed.
        phone = browser.new_context(
            base_url=live_server.url, viewport=DESKTOP_VIEWPORT, user_agent=SAFARI_ON_IPHONE
        )
        other = phone.new_page()
        log_in(other)
        clock.shift(TOTP_STEP_SECONDS)
        second_step(other, authenticator)
        expect(other.get_by_role("heading", name="Security", exact=True)).to_be_visible()
        alert = only_email("new sign-in")
        assert "Safari on iPhone" in alert.body
        alert_page = browser.new_page(viewport={"width": 700, "height": 900})
        alert_page.set_content(alert.alternatives[0][0])
        screenshot(alert_page, "new-device-alert")
        alert_page.close()

        # The freeze link, opened by someone not logged in: a confirmation, nothing changes yet.
        freeze_path = re.search(r"(/account/freeze/[^/\s]+/)", alert.body).group(1)
        reader = browser.new_context(base_url=live_server.url, viewport=DESKTOP_VIEWPORT).new_page()
        reader.goto(freeze_path)
        expect(reader.get_by_role("heading", name="Freeze your account?")).to_be_visible()
        axe_finds_nothing(reader)
        screenshot(reader, "freeze-link")
        user = User.objects.get(email=EMAIL)
        assert user.status == "ACTIVE"
        assert UserSession.objects.filter(user=user, ended_at__isnull=True).count() == 2

        reader.get_by_role("button", name="Freeze my account").click()
        expect(reader.get_by_role("heading", name="Your account is frozen")).to_be_visible()
        axe_finds_nothing(reader)
        screenshot(reader, "freeze-done")
        assert User.objects.get(email=EMAIL).status == "FROZEN"
        assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()

        # Every session is gone; the link works once; login says the account is frozen.
        for browser_page in (page, other):
            browser_page.goto("/account/")
            expect(browser_page).to_have_url(re.compile(r"/account/login/"))
        reader.goto(freeze_path)
        expect(reader.get_by_role("alert")).to_contain_text("already used")
        axe_finds_nothing(reader)
        log_in(page)
        expect(page.get_by_role("alert")).to_contain_text("This account is frozen")

        # Unfreeze by resetting the password: the email says the account is frozen.
        page.goto("/account/password/reset/")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_role("button", name=re.compile("link", re.IGNORECASE)).click()
        reset = only_email("reset")
        assert "Your account is frozen" in reset.body
        page.goto(re.search(r"(/account/password/reset/[^\s]+/[^\s]+/)", reset.body).group(1))
        page.get_by_label("New password").fill(NEW_PASSWORD)
        page.get_by_role("button", name=re.compile("password", re.IGNORECASE)).click()
        expect(page.get_by_role("status")).to_contain_text("Your password is reset")
        assert User.objects.get(email=EMAIL).status == "ACTIVE"
        assert SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.ACCOUNT_UNFROZEN).count() == 1

        # Log in again: the second factor is still asked.
        log_in(page, NEW_PASSWORD)
        clock.shift(TOTP_STEP_SECONDS)
        second_step(page, authenticator)
        expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
        expect(page.get_by_role("region", name="Protection")).to_contain_text("Freeze my account")
        axe_finds_nothing(page)

        # The other new pages pass axe too: self-service freeze and the anti-phishing code.
        page.get_by_role("link", name="Freeze my account").click()
        expect(page.get_by_role("heading", name="Freeze your account?")).to_be_visible()
        axe_finds_nothing(page)
        page.goto("/account/anti-phishing-code/")
        page.get_by_label("Anti-phishing code").fill("Zebra42")
        clock.shift(TOTP_STEP_SECONDS)
        page.get_by_label("Code from your authenticator app").fill(authenticator.now())
        axe_finds_nothing(page)
        page.get_by_role("button", name="Save the code").click()
        expect(page.get_by_role("status")).to_contain_text("Your anti-phishing code is saved")
        expect(page.locator("#anti-phishing-code")).to_have_text("Zebra42")
        page.goto("/account/freeze/not-a-link/")
        expect(page.get_by_role("alert")).to_contain_text("not valid")
        axe_finds_nothing(page)
        phone.close()
