"""Revoking everything a user holds: tokens, sessions and trusted devices, in one function."""

from __future__ import annotations

from django.db.models import F

from accounts.auth.sessions import sessions_end_all
from accounts.auth.trusted_devices import (
    trusted_devices_revoke_all,
)
from accounts.core.client import Client
from accounts.core.events import security_event_record
from accounts.models import SecurityEvent, User

EventType = SecurityEvent.Type


def tokens_revoke_all(
    *,
    user: User,
    client: Client,
    actor: SecurityEvent.Actor = SecurityEvent.Actor.USER,
    staff_member: User | None = None,
    reason: str = "",
) -> None:
    """Every refresh token and idToken issued so far stops working, every session ends, no device is trusted."""
    User.objects.filter(pk=user.pk).update(token_generation=F("token_generation") + 1)
    user.refresh_from_db(fields=["token_generation"])
    sessions_end_all(user=user)
    trusted_devices_revoke_all(user=user)
    details = {"reason": reason} if reason else {}
    security_event_record(
        user=user,
        type=EventType.TOKENS_REVOKED,
        client=client,
        actor=actor,
        staff_member=staff_member,
        details=details,
    )
