"""Unfreezing: a FROZEN account ACTIVE again, by its owner's password reset or by support.

Apart from accounts.freezing, which revokes through accounts.services, so that the password
reset there can call it.
"""

from __future__ import annotations

from . import notifications
from .client import Client
from .events import security_event_record
from .models import SecurityEvent, User
from .security_changes import security_change_record


def account_unfreeze_record(
    *, user: User, client: Client, staff_member: User | None = None, reason: str = ""
) -> None:
    """ACTIVE again after a FROZEN spell: the caller holds the row lock and saves the status.

    Recorded, emailed, and a security change (platforms hold withdrawals after it).
    """
    user.status = User.Status.ACTIVE
    user.save(update_fields=["status"])
    actor = SecurityEvent.Actor.STAFF if staff_member is not None else SecurityEvent.Actor.USER
    details = {"by": "support" if staff_member is not None else "password reset"}
    if reason:
        details["reason"] = reason
    security_event_record(
        user=user,
        type=SecurityEvent.Type.ACCOUNT_UNFROZEN,
        client=client,
        actor=actor,
        staff_member=staff_member,
        details=details,
    )
    security_change_record(user=user)
    notifications.account_unfrozen_notify(user=user)
