"""Passkeys in the admin (read-only, no key) and in support's MFA reset."""

from __future__ import annotations

import pytest
from django.test import Client as BrowserClient

from accounts.flows import support
from accounts.models import User
from otp.webauthn.models import WebAuthnDevice
from tests.accounts.admin.test_admin import USERS_URL, otp_verified_browser
from tests.factories import UserFactory
from tests.otp.webauthn.authenticator import SoftwareAuthenticator, b64url


@pytest.mark.parametrize("staff", ["superuser", "support"])
def test_the_user_page_lists_passkeys_read_only_without_the_key(
    passkey_user: tuple[User, SoftwareAuthenticator], staff: str
) -> None:
    from django.contrib.auth.models import Group

    user, _ = passkey_user
    member = UserFactory(is_staff=True, is_superuser=staff == "superuser")
    if staff == "support":
        member.groups.add(Group.objects.get(name="Support"))
    browser: BrowserClient = otp_verified_browser(member)
    device = WebAuthnDevice.objects.get(user=user)

    page = browser.get(f"{USERS_URL}{user.pk}/change/").content.decode()

    assert "Passkeys" in page and "Laptop" in page and "00000000-0000-0000-0000-000000000000" in page
    assert 'name="passkeys-0-name"' not in page
    assert b64url(bytes(device.public_key)) not in page and bytes(device.public_key).hex() not in page


def test_mfa_reset_removes_passkeys(passkey_user: tuple[User, SoftwareAuthenticator]) -> None:
    user, _ = passkey_user
    staff = UserFactory(is_staff=True, is_superuser=True)

    # Scheduled, then taken into effect at once (what its due time would do).
    support.mfa_reset_schedule(user=user, staff_member=staff, reason="Lost every device, identity checked")
    support.mfa_reset_now(user=user, staff_member=staff, reason="Lost every device, identity checked")

    user.refresh_from_db()
    assert not WebAuthnDevice.objects.filter(user=user).exists()
    assert user.passkey_count == 0 and not user.has_second_factor
