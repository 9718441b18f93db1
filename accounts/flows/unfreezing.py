"""Unfreezing: a FROZEN account ACTIVE again, by its owner's password reset or by support.

Apart from accounts.flows.freezing, which cancels a pending email change through
accounts.flows.email_change (and that one rechecks passwords through accounts.flows.passwords,
which unfreezes): one module each keeps the flows free of cycles.
"""

from __future__ import annotations

from accounts.core import notifications
from accounts.core.client import Client
from accounts.core.events import security_actor_of, security_event_record
from accounts.core.security_changes import security_change_record
from accounts.models import SecurityEvent, User


def account_unfreeze_record(
    *, user: User, client: Client, staff_member: User | None = None, reason: str = ""
) -> None:
    """ACTIVE again after a FROZEN spell, on the (locked) `user` the caller holds: by the password
    reset, or by support. Recorded, emailed, and a security change."""
    user.status = User.Status.ACTIVE
    user.save(update_fields=["status"])
    details = {"by": "support" if staff_member is not None else "password reset"}
    if reason:
        details["reason"] = reason
    security_event_record(
        user=user,
        type=SecurityEvent.Type.ACCOUNT_UNFROZEN,
        client=client,
        actor=security_actor_of(staff_member, otherwise=SecurityEvent.Actor.USER),
        staff_member=staff_member,
        details=details,
    )
    security_change_record(user=user)
    notifications.account_unfrozen_notify(user=user)
