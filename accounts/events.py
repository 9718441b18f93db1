"""Writing the security audit trail. Only services call this, inside their transaction."""

from __future__ import annotations

import logging
from typing import Any

from .client import Client
from .models import SecurityEvent, User

security_logger = logging.getLogger("accounts.security")


def security_event_record(
    *,
    user: User,
    type: SecurityEvent.Type,
    client: Client,
    actor: SecurityEvent.Actor = SecurityEvent.Actor.USER,
    staff_member: User | None = None,
    details: dict[str, Any] | None = None,
) -> SecurityEvent:
    """Record `type` for `user`. `details` must never hold a secret, a code or a token."""
    event = SecurityEvent.objects.create(
        user=user,
        type=type,
        actor=actor,
        staff_member=staff_member,
        ip_address=client.ip,
        user_agent=client.user_agent,
        details=details or {},
    )
    security_logger.info(
        "%s user=%s actor=%s ip=%s details=%s", type, user.pk, actor, client.ip, details or {}
    )
    return event
