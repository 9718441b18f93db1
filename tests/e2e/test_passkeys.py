"""Passkeys in headless Chromium with a virtual authenticator (Chrome DevTools' WebAuthn domain).

WebAuthn works on `localhost` only (not 127.0.0.1): the live server is reached as
http://localhost:<port>, and the relying party is set to that origin.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import CDPSession, Page, expect

from accounts.models import SecurityEvent, User
from otp.webauthn.models import WebAuthnDevice
from tests.e2e.conftest import screenshot
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
def relying_party(settings: Any, live_server: Any) -> str:
    assert live_server.url.startswith("http://localhost:"), live_server.url
    settings.WEBAUTHN_RP_ID = "localhost"
    settings.WEBAUTHN_ORIGINS = [live_server.url]
    return live_server.url


def virtual_authenticator(page: Page) -> CDPSession:
    """A platform authenticator with resident keys and user verification that always passes."""
    session = page.context.new_cdp_session(page)
    session.send("WebAuthn.enable")
    session.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return session


def log_in_with_password(page: Page, user: User) -> None:
    page.goto("/account/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_have_text("You are logged out.")


def add_passkey(page: Page, name: str) -> None:
    page.goto("/account/")
    page.get_by_role("link", name="Add a passkey").click()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("status")).to_have_text("Your passkey is added. You can sign in with it now.")


def test_add_a_passkey_then_sign_in_with_it_alone(page: Page, relying_party: str) -> None:
    user = UserFactory()
    virtual_authenticator(page)
    log_in_with_password(page, user)
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()

    add_passkey(page, "Headless Chromium")
    expect(page.locator(".passkeys")).to_contain_text("Headless Chromium")
    screenshot(page, "passkeys")
    log_out(page)

    page.get_by_role("button", name="Sign in with a passkey").click()

    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
    expect(page.locator(".site-nav__who")).to_have_text(user.email)
    expect(page.locator(".passkeys")).not_to_contain_text("Never")
    event = SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.LOGIN_SUCCEEDED).latest("id")
    assert event.details == {"factor": "webauthn", "passwordless": True}
    device = WebAuthnDevice.objects.get(user=user)
    assert device.transports and device.last_used_at is not None


def test_password_then_passkey_and_removing_it_with_a_passkey_step_up(page: Page, relying_party: str) -> None:
    user = UserFactory()
    virtual_authenticator(page)
    log_in_with_password(page, user)
    add_passkey(page, "Laptop")
    log_out(page)

    log_in_with_password(page, user)
    expect(page).to_have_url(re.compile(r"/account/login/code/$"))
    screenshot(page, "login-passkey")
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
    event = SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.LOGIN_SUCCEEDED).latest("id")
    assert event.details == {"factor": "webauthn"}

    page.locator(".passkeys").get_by_role("link", name="Remove").click()
    page.get_by_role("button", name="Remove the passkey").click()

    expect(page.get_by_role("status")).to_have_text("The passkey “Laptop” is removed.")
    assert not WebAuthnDevice.objects.filter(user=user).exists()
    expect(page.get_by_text("No passkeys yet.")).to_be_visible()


def test_a_browser_without_webauthn_is_told(page: Page, relying_party: str) -> None:
    page.add_init_script("delete window.PublicKeyCredential;")

    page.goto("/account/login/")

    expect(page.locator("[data-passkey-message]")).to_contain_text("This browser cannot use passkeys")
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_disabled()
