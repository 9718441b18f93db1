"""Reading passkeys: the user's list for the API, the security page and the admin."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User
from otp.webauthn.models import WebAuthnDevice


def passkeys_of(user: User) -> QuerySet[WebAuthnDevice]:
    """The user's passkeys, oldest first, without their keys."""
    return WebAuthnDevice.objects.filter(user=user).defer("public_key").order_by("created_at", "id")


def passkey_last_used(user: User) -> WebAuthnDevice | None:
    """The passkey used most recently, which a session verified by a passkey is marked with."""
    return WebAuthnDevice.objects.filter(user=user).order_by("-last_used_at", "-id").first()
