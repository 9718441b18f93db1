"""The profile: the user as every endpoint that returns the user shows it, obfuscated."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from accounts.models import User, email_obfuscate
from otp.phone_numbers import phone_obfuscate

_DATE_TIME = serializers.DateTimeField()


@dataclass(frozen=True)
class ProfileField:
    """One field of the profile: how it is read off the user, and how the OpenAPI schema shows it.

    A field whose value is None is left out of the answer (never null); declare it `required=False`.
    """

    name: str
    value: Callable[[User], Any]
    schema: serializers.Field


def _phone_number(user: User) -> str | None:
    device = getattr(user, "sms_device", None)
    return phone_obfuscate(device.number) if device is not None else None


PROFILE_FIELDS: tuple[ProfileField, ...] = (
    # Not an EmailField: `j***@e***.com` is no valid address, and the schema must not claim it is.
    ProfileField(
        "email",
        lambda user: email_obfuscate(user.email),
        serializers.CharField(help_text="Obfuscated email of the user"),
    ),
    ProfileField(
        "hasValidatedEmail",
        lambda user: user.email_verified_at is not None,
        serializers.BooleanField(help_text="Whether the email has been confirmed."),
    ),
    ProfileField(
        "emailVerificationDate",
        lambda user: user.email_verified_at,
        serializers.DateTimeField(required=False),
    ),
    ProfileField(
        "hasValidatedSecret",
        lambda user: user.totp_verified_at is not None,
        serializers.BooleanField(help_text="Whether the TOTP secret has been validated with user input."),
    ),
    ProfileField(
        "secretVerificationDate",
        lambda user: user.totp_verified_at,
        serializers.DateTimeField(required=False),
    ),
    ProfileField(
        "phoneNumber",
        _phone_number,
        serializers.CharField(required=False, help_text="Obfuscated E.164 phone number of the user"),
    ),
    ProfileField(
        "hasValidatedPhone",
        lambda user: user.phone_verified_at is not None,
        serializers.BooleanField(help_text="Whether the phone has been validated with a code."),
    ),
    ProfileField(
        "phoneVerificationDate",
        lambda user: user.phone_verified_at,
        serializers.DateTimeField(required=False),
    ),
    ProfileField(
        "lastLoggedDate",
        lambda user: user.last_login,
        serializers.DateTimeField(help_text="The last time the user logged in (sign-up before)."),
    ),
    ProfileField(
        "status",
        lambda user: user.effective_status(),
        serializers.ChoiceField(choices=User.Status.choices),
    ),
    ProfileField(
        "lastLoggedDevice",
        lambda user: user.last_login_device,
        serializers.CharField(
            allow_blank=True, help_text="User-Agent of the last login (of the sign-up before)."
        ),
    ),
    ProfileField(
        "lastPasswordChangeDate",
        lambda user: user.password_changed_at,
        serializers.DateTimeField(),
    ),
    ProfileField(
        "hasPasskey",
        lambda user: user.passkey_count > 0,
        serializers.BooleanField(help_text="Whether the user has at least one passkey."),
    ),
    ProfileField(
        "passkeyCount",
        lambda user: user.passkey_count,
        serializers.IntegerField(min_value=0, help_text="How many passkeys the user has."),
    ),
    ProfileField(
        "mfaResetScheduledAt",
        lambda user: user.mfa_reset_due_at,
        serializers.DateTimeField(
            required=False,
            help_text="When a reset of the second factors asked of support takes effect; absent when "
            "none is pending. `DELETE /auth/me/mfa-reset` cancels it.",
        ),
    ),
    ProfileField(
        "language",
        lambda user: user.language,
        serializers.ChoiceField(
            choices=settings.LANGUAGES,
            help_text="What is sent to the user outside a request is in this language.",
        ),
    ),
    ProfileField(
        "antiPhishingCode",
        lambda user: user.anti_phishing_code or None,
        serializers.CharField(
            required=False,
            help_text="Shown at the top of every email the service sends the user; absent when none is set.",
        ),
    ),
    ProfileField(
        "lastSecurityChangeDate",
        lambda user: user.security_changed_at,
        serializers.DateTimeField(
            required=False,
            help_text="The last password change or reset, email change, factor added, removed or reset, "
            "unfreeze or anti-phishing code change; absent when none. Also the idToken claim "
            "`security_changed_at`.",
        ),
    ),
    ProfileField(
        "pendingEmail",
        lambda user: email_obfuscate(pending) if (pending := user.email_change_pending()) else None,
        serializers.CharField(
            required=False,
            help_text="Obfuscated address a change of email waits to confirm with the code sent to it "
            "(`POST /auth/me/email/confirm`); absent when none is pending.",
        ),
    ),
    ProfileField(
        "passwordCompromised",
        lambda user: user.password_compromised_at is not None,
        serializers.BooleanField(
            help_text="Whether the password was found in a known data breach at a login: change it."
        ),
    ),
)


def profile_of(user: User) -> dict[str, Any]:
    """The profile of `user`, as `PROFILE_FIELDS` say (`user.sms_device` loaded, or one query)."""
    # No declared field formats the dates: `self.fields` would deep-copy every declared field
    # on each call, a fifth of the time of `/auth/me` (docs/benchmarks.md).
    profile = {}
    for field in PROFILE_FIELDS:
        value = field.value(user)
        if value is not None:
            profile[field.name] = iso_8601(value) if isinstance(value, datetime) else value
    return profile


class ProfileSerializer(serializers.Serializer):
    """The profile in the OpenAPI schema: `PROFILE_FIELDS`, written by `profile_of`."""

    def get_fields(self) -> dict[str, serializers.Field]:
        """The profile's fields, then those a subclass declares (an answer that adds to the profile)."""
        return {field.name: copy.deepcopy(field.schema) for field in PROFILE_FIELDS} | super().get_fields()

    def to_representation(self, user: User) -> dict[str, Any]:
        return profile_of(user)


def iso_8601(value: datetime) -> str:
    """`value` as DRF's DateTimeField writes it (ISO 8601 in the current time zone, UTC as `Z`).

    Without the field's per-call set-up, which was a twentieth of `/auth/me`; a naive value
    (none is stored: USE_TZ) goes through the field itself.
    """
    if value.tzinfo is None:
        return _DATE_TIME.to_representation(value)
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
