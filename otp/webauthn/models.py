"""A passkey as a django-otp device, and the opaque WebAuthn user handle of each user.

Imported by `otp.models`, so the `otp` app owns these tables and their migrations.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django_otp.models import Device, TimestampMixin

USER_HANDLE_BYTES = 32


def user_handle_new() -> bytes:
    return secrets.token_bytes(USER_HANDLE_BYTES)


class WebAuthnUserHandle(models.Model):
    """The `user.id` of WebAuthn: random and opaque, never the email or the primary key."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webauthn_user_handle"
    )
    handle = models.BinaryField(max_length=64, unique=True, default=user_handle_new)

    class Meta:
        verbose_name = "WebAuthn user handle"

    def __str__(self) -> str:
        return f"WebAuthn user handle of {self.user_id}"


class WebAuthnDevice(TimestampMixin, Device):
    """One passkey of a user (a user may have several). Confirmed from the start.

    `public_key` is the COSE key the authenticator gave at registration; it is public, but
    the admin has no use for it and does not show it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys")
    credential_id = models.BinaryField(max_length=1023, unique=True)
    public_key = models.BinaryField(max_length=2048)
    sign_count = models.PositiveBigIntegerField(default=0)
    aaguid = models.CharField(max_length=36, blank=True, default="")
    transports = models.JSONField(default=list, blank=True)
    backup_eligible = models.BooleanField(default=False)
    backed_up = models.BooleanField(default=False)

    class Meta(Device.Meta):
        verbose_name = "passkey"
        ordering = ["created_at", "id"]

    def verify_token(self, token: str) -> bool:
        """A passkey has no code: django-otp's code check never accepts one."""
        return False
