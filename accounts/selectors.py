"""Reading account state for the pages and the admin: security summary, recent events, devices."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.auth.sessions import sessions_live_of
from accounts.auth.trusted_devices import trusted_device_of, trusted_devices_live_of
from accounts.core.user_agents import device_label
from accounts.models import SecurityEvent, TrustedDevice, User, UserSession, email_obfuscate
from otp.models import SmsDevice
from otp.phone_numbers import phone_obfuscate
from otp.services import (
    RECOVERY_DEVICE_NAME,
    Method,
    TotpEnrolment,
    recovery_codes_remaining,
    totp_enrolment_of,
)
from otp.webauthn.models import WebAuthnDevice
from otp.webauthn.selectors import passkey_last_used, passkeys_of


@dataclass(frozen=True)
class SecuritySummary:
    """What the security page shows of an account; the phone is obfuscated as in the profile."""

    status: str
    totp_pending: bool
    phone: str | None
    phone_pending: bool
    recovery_codes_left: int
    events: list[SecurityEvent]
    last_login_device: str
    sessions: list[SessionListed]
    trusted_devices: list[TrustedDeviceListed]
    passkeys: list[WebAuthnDevice]
    pending_email: str


@dataclass(frozen=True)
class SessionListed:
    session: UserSession
    current: bool


@dataclass(frozen=True)
class TrustedDeviceListed:
    device: TrustedDevice
    current: bool


def security_events_recent(user: User, limit: int = 10) -> list[SecurityEvent]:
    """The latest `limit` security events of `user`, newest first."""
    return list(security_events_for_user(user=user)[:limit])


def security_events_for_user(*, user: User) -> QuerySet[SecurityEvent]:
    """Every security event of `user`, newest first (`GET /auth/me/events`)."""
    return SecurityEvent.objects.filter(user=user).order_by("-created_at", "-id")


def sms_device_of(user: User) -> SmsDevice | None:
    """The user's phone, verified or pending."""
    return SmsDevice.objects.filter(user=user).first()


def phone_masked(user: User) -> str | None:
    device = sms_device_of(user)
    return phone_obfuscate(device.number) if device is not None else None


def security_summary(
    user: User,
    *,
    events: int = 10,
    current_session_id: str | None = None,
    current_device_token: str | None = None,
) -> SecuritySummary:
    """`current_session_id` and `current_device_token` mark "This device" in the lists."""
    phone = sms_device_of(user)
    this_device = trusted_device_of(user=user, token=current_device_token)
    return SecuritySummary(
        status=user.effective_status(),
        totp_pending=user.totp_verified_at is None and TOTPDevice.objects.filter(user=user).exists(),
        phone=phone_obfuscate(phone.number) if phone is not None else None,
        phone_pending=phone is not None and user.phone_verified_at is None,
        recovery_codes_left=recovery_codes_remaining(user),
        events=security_events_recent(user, events),
        last_login_device=device_label(user.last_login_device),
        sessions=[
            SessionListed(session, current=str(session.pk) == current_session_id)
            for session in sessions_live_of(user=user)
        ],
        trusted_devices=[
            TrustedDeviceListed(device, current=this_device is not None and device.pk == this_device.pk)
            for device in trusted_devices_live_of(user=user)
        ],
        passkeys=list(passkeys_of(user)) if user.passkey_count else [],
        pending_email=email_obfuscate(pending) if (pending := user.email_change_pending()) else "",
    )


def totp_enrolment_pending(user: User) -> TotpEnrolment | None:
    """The secret of a TOTP set-up not yet confirmed, shown again until the user confirms it.

    Once confirmed the secret is never shown again (SECURITY.md 3), so a confirmed device
    gives None.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        return None
    return totp_enrolment_of(device, user=user)


def second_factor_device(user: User, method: Method) -> Device | None:
    """The confirmed django-otp device behind `method`, which a session is verified with."""
    if method == Method.TOTP:
        return TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if method == Method.SMS:
        return SmsDevice.objects.filter(user=user, confirmed=True).first()
    if method == Method.WEBAUTHN:
        return passkey_last_used(user)
    return StaticDevice.objects.filter(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True).first()
