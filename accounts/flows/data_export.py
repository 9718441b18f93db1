"""Everything the service holds about a user, as one document they can take away (GDPR art. 15 and 20).

The email and phone are given in full (the owner is asking), every date, device, session and event
too; never a secret, a code or a hash: no password hash, TOTP key, recovery code, code HMAC,
trusted-device token hash or passkey public key. Step-up first, as for every sensitive read, and
recorded (`DATA_EXPORTED`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.core.client import Client
from accounts.core.events import security_event_record
from accounts.models import MfaResetRequest, SecurityEvent, TrustedDevice, User, UserSession
from otp import services as otp_services
from otp.models import SmsDevice
from otp.services import RECOVERY_DEVICE_NAME, Method
from otp.webauthn.models import WebAuthnDevice

EXPORT_FORMAT_VERSION = 1
# Sections added by the apps built on top of accounts (`export_section_register`): the OpenID
# Connect provider's `connectedApps`.
EXPORT_SECTIONS: dict[str, Callable[[User], list[dict[str, Any]]]] = {}


def account_data_export(*, user: User, otp: str | None, client: Client) -> dict[str, Any]:
    """`GET /auth/me/export`: step-up, recorded, then the document of `account_data_of`."""
    otp_services.step_up_verify(user=user, otp=otp, client=client)
    security_event_record(user=user, type=SecurityEvent.Type.DATA_EXPORTED, client=client)
    return account_data_of(User.objects.get(pk=user.pk))


def account_data_export_filename(user: User) -> str:
    return f"account-data-{user.pk}-{timezone.now():%Y%m%d}.json"


def account_data_of(user: User) -> dict[str, Any]:
    """The export document, ready for JSON: dates in ISO 8601 (UTC, `Z`); a value that is not there is
    left out, never null, as in the profile."""
    return _json_ready(
        {
            "format": EXPORT_FORMAT_VERSION,
            "service": settings.SERVICE_NAME,
            "exportedAt": timezone.now(),
            "profile": _profile(user),
            "factors": _factors(user),
            "passkeys": [
                {
                    "name": passkey.name,
                    "createdAt": passkey.created_at,
                    "lastUsedAt": passkey.last_used_at,
                    "aaguid": passkey.aaguid,
                    "backedUp": passkey.backed_up,
                    "transports": passkey.transports,
                }
                for passkey in WebAuthnDevice.objects.filter(user=user).order_by("created_at", "pk")
            ],
            "sessions": [
                {
                    "id": str(session.pk),
                    "kind": session.kind,
                    "createdAt": session.created_at,
                    "lastUsedAt": session.last_used_at,
                    "expiresAt": session.expires_at,
                    "endedAt": session.ended_at,
                    "ip": session.ip,
                    "device": session.device,
                    "userAgent": session.user_agent,
                    "amr": session.amr,
                }
                for session in UserSession.objects.filter(user=user).order_by("-created_at")
            ],
            "trustedDevices": [
                {
                    "id": str(device.pk),
                    "device": device.device,
                    "userAgent": device.user_agent,
                    "createdAt": device.created_at,
                    "lastUsedAt": device.last_used_at,
                    "expiresAt": device.expires_at,
                    "revokedAt": device.revoked_at,
                }
                for device in TrustedDevice.objects.filter(user=user).order_by("-created_at")
            ],
            "mfaResets": [
                {
                    "requestedAt": reset.requested_at,
                    "dueAt": reset.due_at,
                    "state": reset.state,
                    "reason": reset.reason,
                    "cancelledAt": reset.cancelled_at,
                    "doneAt": reset.done_at,
                }
                for reset in MfaResetRequest.objects.filter(user=user).order_by("-requested_at")
            ],
            "securityEvents": [
                {
                    "type": event.type,
                    "actor": event.actor,
                    "createdAt": event.created_at,
                    "ip": event.ip_address,
                    "userAgent": event.user_agent,
                    "details": event.details,
                }
                for event in SecurityEvent.objects.filter(user=user).order_by("-created_at", "-id").iterator()
            ],
            **{name: read(user) for name, read in EXPORT_SECTIONS.items()},
        }
    )


def export_section_register(name: str, read: Callable[[User], list[dict[str, Any]]]) -> None:
    """Add `name` to every export, as `read(user)` gives it: what an app built on top of accounts
    holds about the user (the OpenID Connect provider's connected apps), without accounts
    importing it. Called from that app's `AppConfig.ready`."""
    EXPORT_SECTIONS[name] = read


def _profile(user: User) -> dict[str, Any]:
    phone = SmsDevice.objects.filter(user=user).first()
    return {
        "email": user.email,
        "emailVerificationDate": user.email_verified_at,
        "pendingEmail": user.email_change_pending() or None,
        "phoneNumber": phone.number if phone is not None else None,
        "phoneVerificationDate": user.phone_verified_at,
        "secretVerificationDate": user.totp_verified_at,
        "status": user.effective_status(),
        "language": user.language,
        "dateJoined": user.date_joined,
        "lastLoggedDate": user.last_login,
        "lastLoggedDevice": user.last_login_device,
        "lastPasswordChangeDate": user.password_changed_at,
        "passwordCompromised": user.password_compromised_at is not None,
        "mfaResetScheduledAt": user.mfa_reset_due_at,
    }


def _factors(user: User) -> list[dict[str, Any]]:
    """Each second factor by kind, name and dates; recovery codes by how many are left."""
    factors: list[dict[str, Any]] = []
    for device in TOTPDevice.objects.filter(user=user):
        factors.append(
            {
                "kind": Method.TOTP,
                "name": device.name,
                "verified": device.confirmed,
                "createdAt": device.created_at,
                "lastUsedAt": device.last_used_at,
                "verifiedAt": user.totp_verified_at,
            }
        )
    for device in SmsDevice.objects.filter(user=user):
        factors.append(
            {
                "kind": Method.SMS,
                "name": device.name,
                "phoneNumber": device.number,
                "verified": device.confirmed,
                "verifiedAt": user.phone_verified_at,
            }
        )
    for device in StaticDevice.objects.filter(user=user, name=RECOVERY_DEVICE_NAME):
        factors.append(
            {
                "kind": Method.RECOVERY_CODE,
                "name": device.name,
                "remaining": device.token_set.count(),
                "createdAt": device.created_at,
                "lastUsedAt": device.last_used_at,
            }
        )
    return factors


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def account_data_json(document: dict[str, Any]) -> bytes:
    """The document as the attachment's bytes (the page's download; the API renders the same)."""
    return json.dumps(document, ensure_ascii=False, indent=2).encode()
