"""Our django-otp devices: SMS and email codes, stored as HMACs and bound to a purpose.

TOTP and recovery codes use django-otp's own `otp_totp` and `otp_static` devices.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django_otp.models import CooldownMixin, SideChannelDevice
from django_otp.util import random_number_token

CODE_DIGITS = 6


class CodePurpose(models.TextChoices):
    """What a code was sent for; a code is only accepted for the same purpose."""

    VERIFY = "VERIFY", "Verify the channel"
    LOGIN = "LOGIN", "Log in"
    STEP_UP = "STEP_UP", "Confirm a sensitive change"
    EMAIL_CHANGE = "EMAIL_CHANGE", "Confirm a new email address"


def code_digest(code: str) -> str:
    """Keyed hash of a one-time code: the database never holds a usable code."""
    return salted_hmac("otp.one-time-code", code, algorithm="sha256").hexdigest()


class HashedCodeDevice(CooldownMixin, SideChannelDevice):
    """A side channel holding one pending code, as an HMAC, bound to its purpose.

    Sending a new code replaces the pending one. The resend cool-down comes from
    django-otp's `CooldownMixin`; failures are counted per account by `otp.services`.
    """

    # django-otp uses None for "no pending code"; widened to hold an HMAC-SHA256.
    token = models.CharField(max_length=64, blank=True, null=True)  # noqa: DJ001
    purpose = models.CharField(max_length=16, choices=CodePurpose.choices, blank=True, default="")

    class Meta:
        abstract = True

    def code_generate(self, *, purpose: CodePurpose) -> str:
        """Store a fresh code for `purpose` and return it, in clear, for delivery."""
        code = random_number_token(CODE_DIGITS)
        self.token = code_digest(code)
        self.purpose = purpose
        self.valid_until = timezone.now() + timedelta(seconds=settings.OTP_CODE_VALIDITY_SECONDS)
        self.cooldown_set(commit=False)
        self.save()
        return code

    def verify_token(self, token: str, purpose: CodePurpose | None = None) -> bool:
        """Accept the pending code once, before it expires, for the purpose it was sent for."""
        now = timezone.now()
        if self.token is None or purpose is None or purpose != self.purpose or now >= self.valid_until:
            return False
        if not constant_time_compare(code_digest(token), self.token):
            return False
        self.token = None
        self.purpose = ""
        self.valid_until = now
        self.save(update_fields=["token", "purpose", "valid_until"])
        return True


class SmsDevice(HashedCodeDevice):
    """The user's phone. `confirmed` once a code sent to it came back."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sms_device")
    number = models.CharField(max_length=16, db_index=True, help_text="E.164")

    class Meta(SideChannelDevice.Meta):
        verbose_name = "SMS device"

    def get_cooldown_duration(self) -> int:
        return settings.SMS_RESEND_COOLDOWN_SECONDS


class EmailCodeDevice(HashedCodeDevice):
    """Email verification codes. Never `confirmed`: email is not a second factor (NIST 63B §5.1.3.1)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_code_device"
    )

    class Meta(SideChannelDevice.Meta):
        verbose_name = "email code device"

    def get_cooldown_duration(self) -> int:
        return settings.EMAIL_RESEND_COOLDOWN_SECONDS


# Passkeys live in their own sub-package; imported here so that the `otp` app owns their tables.
from otp.webauthn.models import WebAuthnDevice, WebAuthnUserHandle  # noqa: E402

__all__ = [
    "CodePurpose",
    "EmailCodeDevice",
    "HashedCodeDevice",
    "SmsDevice",
    "WebAuthnDevice",
    "WebAuthnUserHandle",
    "code_digest",
]
