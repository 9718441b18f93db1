"""`GET /auth/me/export` and "Download your data": everything about the user, never a secret of any factor."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.test import Client as PageClient
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import SecurityEvent, TrustedDevice, User
from otp.models import EmailCodeDevice, SmsDevice
from otp.webauthn.models import WebAuthnDevice
from tests.conftest import authenticate
from tests.factories import DEFAULT_PASSWORD, UserFactory, user_with_every_factor

pytestmark = pytest.mark.django_db


@pytest.fixture
def everything() -> tuple[User, list[str]]:
    """A user with every factor, a passkey, a trusted device, a pending email code and some events."""
    user, codes = user_with_every_factor()
    WebAuthnDevice.objects.create(
        user=user,
        name="YubiKey",
        credential_id=b"credential-id",
        public_key=b"public-key-bytes",
        aaguid="ee882879-721c-4913-9775-3dfcce97072a",
    )
    User.objects.filter(pk=user.pk).update(passkey_count=1)
    TrustedDevice.objects.create(
        user=user,
        token_hash="f" * 64,
        device="Firefox on Linux",
        expires_at=timezone.now() + timedelta(days=30),
    )
    EmailCodeDevice.objects.create(
        user=user, name="Email", token="e" * 64, purpose="VERIFY", valid_until=timezone.now()
    )
    SecurityEvent.objects.create(
        user=user, type="LOGIN_SUCCEEDED", ip_address="198.51.100.7", user_agent="Mozilla/5.0"
    )
    user.refresh_from_db()
    return user, codes


def test_the_export_is_an_attachment_with_the_users_data(everything) -> None:
    user, codes = everything
    client = authenticate(APIClient(), user)

    response = client.get("/auth/me/export", HTTP_X_OTP=codes[0])

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="account-data-')
    assert response["Cache-Control"] == "no-store"
    document = json.loads(response.content)
    assert document["profile"]["email"] == user.email
    assert document["profile"]["phoneNumber"] == "+34612345678"
    assert {factor["kind"] for factor in document["factors"]} == {"TOTP", "SMS", "RECOVERY_CODE"}
    assert [passkey["aaguid"] for passkey in document["passkeys"]] == ["ee882879-721c-4913-9775-3dfcce97072a"]
    assert document["trustedDevices"][0]["device"] == "Firefox on Linux"
    assert document["connectedApps"] == []
    assert {"LOGIN_SUCCEEDED", "DATA_EXPORTED", "RECOVERY_CODE_USED"} <= {
        e["type"] for e in document["securityEvents"]
    }
    assert "198.51.100.7" in response.content.decode()
    assert None not in _leaves(document)


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def test_the_export_holds_no_secret_code_or_hash(everything) -> None:
    user, codes = everything
    totp = TOTPDevice.objects.get(user=user)
    secrets = [
        totp.key,  # hex
        base64.b32encode(bytes.fromhex(totp.key)).decode(),
        user.password,
        user.password.split("$")[-1],
        *codes,  # the recovery codes, in clear (the first one used for step-up)
        *StaticToken.objects.filter(device__user=user).values_list("token", flat=True),  # and their digests
        "e" * 64,  # the email code's HMAC
        "f" * 64,  # the trusted device's token hash
        base64.urlsafe_b64encode(b"public-key-bytes").decode().rstrip("="),
        "public-key-bytes",
        SmsDevice.objects.get(user=user).token or "no sms code pending",
    ]

    body = authenticate(APIClient(), user).get("/auth/me/export", HTTP_X_OTP=codes[0]).content.decode()

    for secret in secrets:
        assert secret not in body


def test_the_export_needs_step_up_when_a_factor_is_verified(everything) -> None:
    user, _ = everything

    response = authenticate(APIClient(), user).get("/auth/me/export")

    assert response.status_code == 403
    assert response.json()["code"] == "otp_invalid"
    assert not SecurityEvent.objects.filter(user=user, type="DATA_EXPORTED").exists()


def test_the_page_downloads_the_data() -> None:
    user = UserFactory()
    page = PageClient()
    page.force_login(user)

    security = page.get("/account/").content.decode()
    response = page.post("/account/data/", {})

    assert 'href="/account/data/"' in security
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert json.loads(response.content)["profile"]["email"] == user.email
    assert DEFAULT_PASSWORD not in response.content.decode()
