"""Writing the security audit trail. Only services call this, inside their transaction."""

from __future__ import annotations

import logging
from typing import Any

from accounts.core.client import Client
from accounts.models import SecurityEvent, User
from config.metrics import security_event_count

security_logger = logging.getLogger("accounts.security")


def security_actor_of(
    staff_member: User | None, *, otherwise: SecurityEvent.Actor = SecurityEvent.Actor.SYSTEM
) -> SecurityEvent.Actor:
    """Who an event names as its actor: STAFF when a staff member did it, else `otherwise` (the
    system for what runs on its own or from an operator's command, the user for their own act)."""
    return SecurityEvent.Actor.STAFF if staff_member is not None else otherwise


def security_event_record(
    *,
    user: User,
    type: SecurityEvent.Type,
    client: Client,
    actor: SecurityEvent.Actor = SecurityEvent.Actor.USER,
    staff_member: User | None = None,
    details: dict[str, Any] | None = None,
) -> SecurityEvent:
    """Record `type` for `user`, log it and count it. `details` must never hold a secret, a code or a token."""
    event = security_event_new(
        user=user, type=type, client=client, actor=actor, staff_member=staff_member, details=details
    )
    event.save(force_insert=True)
    security_event_log_and_count(type=type, user_id=user.pk, client=client, actor=actor, details=details)
    return event


def security_event_new(
    *,
    user: User,
    type: SecurityEvent.Type,
    client: Client,
    actor: SecurityEvent.Actor = SecurityEvent.Actor.USER,
    staff_member: User | None = None,
    details: dict[str, Any] | None = None,
) -> SecurityEvent:
    """The event `security_event_record` writes, not saved yet (login writes it with its other rows)."""
    return SecurityEvent(
        user=user,
        type=type,
        actor=actor,
        staff_member=staff_member,
        ip_address=client.ip,
        user_agent=client.user_agent,
        details=details or {},
    )


def security_event_log_and_count(
    *,
    type: SecurityEvent.Type,
    user_id: int | None,
    client: Client,
    actor: SecurityEvent.Actor = SecurityEvent.Actor.USER,
    details: dict[str, Any] | None = None,
) -> None:
    """One structured log line and the metrics of an event; alone for events without an account."""
    details = details or {}
    shown_user = "unknown" if user_id is None else user_id
    security_logger.info(
        "%s user=%s actor=%s ip=%s details=%s",
        type,
        shown_user,
        actor,
        client.ip,
        details,
        extra={
            "event": str(type),
            "user_id": user_id,
            "actor": str(actor),
            "ip": client.ip,
            "details": details,
        },
    )
    security_event_count(type=type, details=details)
