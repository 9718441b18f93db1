"""The profile: the user as every endpoint that returns the user shows it, obfuscated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from otp.phone_numbers import phone_obfuscate

from .models import User


def email_obfuscate(email: str) -> str:
    """`john@example.co.uk` -> `j***@e***.uk`: first letters and the last domain label."""
    local, _, domain = email.rpartition("@")
    labels = domain.split(".")
    obfuscated_domain = f"{domain[:1]}***" + (f".{labels[-1]}" if len(labels) > 1 else "")
    return f"{local[:1]}***@{obfuscated_domain}"


_DATE_TIME = serializers.DateTimeField()


class ProfileSerializer(serializers.Serializer):
    """Optional fields are left out when they have no value, never null."""

    # Not an EmailField: `j***@e***.com` is no valid address, and the schema must not claim it is.
    email = serializers.CharField(help_text="Obfuscated email of the user")
    hasValidatedEmail = serializers.BooleanField(help_text="Whether the email has been confirmed.")
    emailVerificationDate = serializers.DateTimeField(required=False)
    hasValidatedSecret = serializers.BooleanField(
        help_text="Whether the TOTP secret has been validated with user input."
    )
    secretVerificationDate = serializers.DateTimeField(required=False)
    phoneNumber = serializers.CharField(required=False, help_text="Obfuscated E.164 phone number of the user")
    hasValidatedPhone = serializers.BooleanField(
        help_text="Whether the phone has been validated with a code."
    )
    phoneVerificationDate = serializers.DateTimeField(required=False)
    lastLoggedDate = serializers.DateTimeField(help_text="The last time the user logged in (sign-up before).")
    status = serializers.ChoiceField(choices=User.Status.choices)
    lastLoggedDevice = serializers.CharField(
        allow_blank=True, help_text="User-Agent of the last login (of the sign-up before)."
    )
    lastPasswordChangeDate = serializers.DateTimeField()
    hasPasskey = serializers.BooleanField(help_text="Whether the user has at least one passkey.")
    passkeyCount = serializers.IntegerField(min_value=0, help_text="How many passkeys the user has.")
    mfaResetScheduledAt = serializers.DateTimeField(
        required=False,
        help_text="When a reset of the second factors asked of support takes effect; absent when none is "
        "pending. `DELETE /auth/me/mfa-reset` cancels it.",
    )
    language = serializers.ChoiceField(
        choices=settings.LANGUAGES,
        help_text="What is sent to the user outside a request is in this language.",
    )
    antiPhishingCode = serializers.CharField(
        required=False,
        help_text="Shown at the top of every email the service sends the user; absent when none is set.",
    )
    lastSecurityChangeDate = serializers.DateTimeField(
        required=False,
        help_text="The last password change or reset, email change, factor added, removed or reset, unfreeze "
        "or anti-phishing code change; absent when none. Also the idToken claim `security_changed_at`.",
    )

    def to_representation(self, user: User) -> dict[str, Any]:
        return profile_of(user)


def profile_of(user: User) -> dict[str, Any]:
    """The profile of `user` as ProfileSerializer writes it (`user.sms_device` loaded, or one query)."""
    device = getattr(user, "sms_device", None)
    values = {
        "email": email_obfuscate(user.email),
        "hasValidatedEmail": user.email_verified_at is not None,
        "emailVerificationDate": user.email_verified_at,
        "hasValidatedSecret": user.totp_verified_at is not None,
        "secretVerificationDate": user.totp_verified_at,
        "phoneNumber": phone_obfuscate(device.number) if device is not None else None,
        "hasValidatedPhone": user.phone_verified_at is not None,
        "phoneVerificationDate": user.phone_verified_at,
        "lastLoggedDate": user.last_login,
        "status": user.effective_status(),
        "lastLoggedDevice": user.last_login_device,
        "lastPasswordChangeDate": user.password_changed_at,
        "hasPasskey": user.passkey_count > 0,
        "passkeyCount": user.passkey_count,
        "mfaResetScheduledAt": user.mfa_reset_due_at,
        "language": user.language,
        "antiPhishingCode": user.anti_phishing_code or None,
        "lastSecurityChangeDate": user.security_changed_at,
    }
    # No declared field formats the dates: `self.fields` would deep-copy every declared field
    # on each call, a fifth of the time of `/auth/me` (docs/benchmarks.md).
    return {
        name: iso_8601(value) if not isinstance(value, str | bool | int) else value
        for name, value in values.items()
        if value is not None
    }


def iso_8601(value: datetime) -> str:
    """`value` as DRF's DateTimeField writes it (ISO 8601 in the current time zone, UTC as `Z`).

    Without the field's per-call set-up, which was a twentieth of `/auth/me`; a naive value
    (none is stored: USE_TZ) goes through the field itself.
    """
    if value.tzinfo is None:
        return _DATE_TIME.to_representation(value)
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
