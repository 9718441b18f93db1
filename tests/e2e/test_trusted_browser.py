"""In Chromium: trust this browser at the second step, log back in without a code, remove it, asked again."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyotp
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from accounts.core.client import Client
from accounts.models import User
from otp.services import totp_device_create
from tests.e2e.conftest import screenshot
from tests.factories import DEFAULT_PASSWORD, UserFactory

TOTP_STEP_SECONDS = 30


def totp_account() -> tuple[User, pyotp.TOTP]:
    user = UserFactory(email="trusting@example.com")
    enrolment = totp_device_create(user=user, otp=None, client=Client())
    TOTPDevice.objects.filter(user=user).update(confirmed=True)
    User.objects.filter(pk=user.pk).update(totp_verified_at=timezone.now())
    return user, pyotp.TOTP(enrolment.secret)


def password_step(page: Page, user: User) -> None:
    page.goto("/account/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_trust_this_browser_then_remove_it(page: Page) -> None:
    user, authenticator = totp_account()
    with time_machine.travel(datetime.now(UTC), tick=True):
        # Second step with the box ticked: the browser is trusted.
        password_step(page, user)
        expect(page).to_have_url(re.compile(r"/account/login/code/$"))
        page.get_by_label("Code from your authenticator app").fill(authenticator.now())
        page.get_by_label("Trust this browser for 30 days").check()
        page.get_by_role("button", name="Continue").click()
        expect(page).to_have_url(re.compile(r"/account/$"))
        cookie = next(c for c in page.context.cookies() if c["name"] == settings.TRUSTED_DEVICE_COOKIE_NAME)
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
        sessions = page.get_by_role("region", name="Where you're signed in")
        expect(sessions).to_contain_text("Chrome on Linux")
        expect(sessions).to_contain_text("This device")
        trusted = page.get_by_role("region", name="Trusted devices")
        expect(trusted).to_contain_text("Chrome on Linux")
        screenshot(page, "sessions")

        # Logged out and back in: the password alone.
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("status")).to_have_text("You are logged out.")
        password_step(page, user)
        expect(page).to_have_url(re.compile(r"/account/$"))

        # The device removed on the security page: the code is asked again.
        page.get_by_role("region", name="Trusted devices").get_by_role("button", name="Remove").click()
        expect(page.get_by_role("status")).to_contain_text("That device is no longer trusted")
        expect(page.get_by_role("region", name="Trusted devices")).to_contain_text("None.")
        page.get_by_role("button", name="Log out").click()
        password_step(page, user)
        expect(page).to_have_url(re.compile(r"/account/login/code/$"))
        expect(page.get_by_label("Code from your authenticator app")).to_be_visible()
