"""Trusted devices: a browser or app where the user's password alone suffices for `TRUSTED_DEVICE_DAYS`.

The device keeps a random token (`deviceToken`, or the `trusted_device` cookie of the pages);
we keep only its SHA-256. A token that is foreign, expired, revoked or malformed is ignored
without a word: the login asks for the second factor as usual, so nothing is revealed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.events import security_event_record
from accounts.core.user_agents import device_label
from accounts.models import SecurityEvent, TrustedDevice, User

TOKEN_BYTES = 32
# What `secrets.token_urlsafe(32)` gives; anything much longer is not one of ours.
TOKEN_MAX_LENGTH = 64


@dataclass(frozen=True)
class DeviceTrusted:
    device: TrustedDevice
    token: str


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def trusted_devices_live_of(*, user: User) -> QuerySet[TrustedDevice]:
    """The user's devices that still count, newest first."""
    return TrustedDevice.objects.live().filter(user=user).order_by("-created_at")


def trusted_device_of(*, user: User, token: str | None) -> TrustedDevice | None:
    """The live trusted device of `user` that `token` opens, or None for any other token."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    return trusted_devices_live_of(user=user).filter(token_hash=_token_hash(token)).first()


def trusted_device_create(*, user: User, client: Client) -> DeviceTrusted:
    """Trust the client's device for `TRUSTED_DEVICE_DAYS`; the token is returned once, never stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = timezone.now()
    device = TrustedDevice.objects.create(
        user=user,
        token_hash=_token_hash(token),
        device=device_label(client.user_agent),
        user_agent=client.user_agent,
        created_at=now,
        expires_at=now + timedelta(days=settings.TRUSTED_DEVICE_DAYS),
    )
    security_event_record(
        user=user,
        type=SecurityEvent.Type.TRUSTED_DEVICE_ADDED,
        client=client,
        details={"device": device.device},
    )
    return DeviceTrusted(device=device, token=token)


def trusted_device_use(*, user: User, token: str | None, client: Client) -> TrustedDevice | None:
    """The live trusted device `token` opens for `user`, stamped as used and recorded; else None."""
    device = trusted_device_of(user=user, token=token)
    if device is None:
        return None
    device.last_used_at = timezone.now()
    TrustedDevice.objects.filter(pk=device.pk).update(last_used_at=device.last_used_at)
    security_event_record(
        user=user,
        type=SecurityEvent.Type.TRUSTED_DEVICE_USED,
        client=client,
        details={"device": device.device},
    )
    return device


def trusted_device_remove(*, user: User, device_id: object, client: Client) -> None:
    """Stop trusting one device of the user's; another user's or unknown: not_found."""
    try:
        device = trusted_devices_live_of(user=user).filter(pk=device_id).first()
    except (ValueError, TypeError, ValidationError):
        device = None
    if device is None:
        raise ServiceError(ErrorCode.NOT_FOUND)
    TrustedDevice.objects.filter(pk=device.pk).update(revoked_at=timezone.now())
    security_event_record(
        user=user,
        type=SecurityEvent.Type.TRUSTED_DEVICE_REMOVED,
        client=client,
        details={"device": device.device},
    )


def trusted_devices_revoke_all(*, user: User) -> int:
    """No device of the user is trusted any more (password change or reset, factor removed, MFA reset, logout-all)."""
    return TrustedDevice.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


def trusted_devices_purge(*, now: datetime | None = None, keep_revoked_for: timedelta = timedelta(0)) -> int:
    """Delete the rows of expired devices and of devices revoked `keep_revoked_for` ago; the number deleted."""
    now = now or timezone.now()
    deleted, _ = TrustedDevice.objects.filter(
        Q(expires_at__lte=now) | Q(revoked_at__lte=now - keep_revoked_for)
    ).delete()
    return deleted
