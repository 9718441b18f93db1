"""Sessions and trusted devices in the admin: read-only on the user's page, ended by "sign out everywhere"."""

from __future__ import annotations

import pytest
from django.test import Client as BrowserClient

from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.auth.trusted_devices import trusted_device_create
from accounts.core.client import Client
from accounts.models import TrustedDevice, User, UserSession
from tests.accounts.admin.test_admin import REASON, USERS_URL, action_confirm, otp_verified_browser
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FIREFOX_ON_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"


@pytest.fixture
def admin_browser() -> BrowserClient:
    return otp_verified_browser(UserFactory(is_staff=True, is_superuser=True))


@pytest.fixture
def account() -> User:
    user = UserFactory()
    tokens_for_login(user, amr=AMR_PASSWORD, client=Client(ip="192.0.2.9", user_agent=FIREFOX_ON_WINDOWS))
    trusted = trusted_device_create(user=user, client=Client(user_agent=FIREFOX_ON_WINDOWS))
    user.trusted_token = trusted.token
    return user


def test_the_user_page_shows_sessions_and_trusted_devices_read_only(
    admin_browser: BrowserClient, account: User
) -> None:
    page = admin_browser.get(f"{USERS_URL}{account.pk}/change/").content.decode()

    assert "sessions (live)" in page.lower() and "trusted devices (live)" in page.lower()
    assert "Firefox on Windows" in page and "192.0.2.9" in page
    assert account.trusted_token not in page
    assert TrustedDevice.objects.get(user=account).token_hash not in page
    assert 'name="sessions-0-kind"' not in page, "no editable field"


def test_sign_out_everywhere_ends_the_sessions_and_trusted_devices(
    admin_browser: BrowserClient, account: User
) -> None:
    response = action_confirm(admin_browser, "revoke_tokens", [account], reason=REASON)

    assert response.status_code == 302
    assert not UserSession.objects.filter(user=account, ended_at__isnull=True).exists()
    assert not TrustedDevice.objects.filter(user=account, revoked_at__isnull=True).exists()
