"""Applying support's MFA reset once it is due: every factor removed, everything revoked, the user told."""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from accounts.auth import revocation
from accounts.core import notifications
from accounts.core.client import Client
from accounts.core.events import security_actor_of, security_event_record
from accounts.core.security_changes import security_change_record
from accounts.models import MfaResetRequest, SecurityEvent, User
from otp.services.removal import factors_remove_all

EventType = SecurityEvent.Type
Actor = SecurityEvent.Actor
State = MfaResetRequest.State

NO_CLIENT = Client()


def mfa_reset_pending_of(user: User) -> MfaResetRequest | None:
    return MfaResetRequest.objects.filter(user=user, state=State.PENDING).first()


def mfa_reset_is_due(user: User, now: datetime | None = None) -> bool:
    """From the row alone: a pending reset whose time has come."""
    due_at = user.mfa_reset_due_at
    return due_at is not None and due_at <= (now or timezone.now())


def mfa_reset_request_apply(
    *, reset: MfaResetRequest, user: User, staff_member: User | None, reason: str, client: Client
) -> list[str]:
    """Take the reset into effect on the (locked) `user`: factors removed, signed out everywhere.

    `staff_member` is who applied it before its time ("reset now"); None when it came due.
    Returns the factors removed.
    """
    removed = factors_remove_all(user=user)
    reset.state, reset.done_at = State.DONE, timezone.now()
    reset.save(update_fields=["state", "done_at"])
    user.mfa_reset_due_at = None
    user.save(update_fields=["mfa_reset_due_at"])
    actor = security_actor_of(staff_member)
    security_event_record(
        user=user,
        type=EventType.MFA_RESET,
        client=client,
        actor=actor,
        staff_member=staff_member,
        details={"reason": reason, "removed": removed, "requestedAt": reset.requested_at.isoformat()},
    )
    revocation.tokens_revoke_all(
        user=user, client=client, actor=actor, staff_member=staff_member, reason=reason
    )
    security_change_record(user=user)
    notifications.mfa_reset_notify(user=user)
    return removed


def mfa_reset_apply_if_due(user: User) -> User:
    """`user` as it is now: when its reset has come due, applied first (and the user row reloaded).

    Callers go on with the returned user. Costs nothing but a comparison until a reset is due.
    """
    now = timezone.now()
    if not mfa_reset_is_due(user, now):
        return user
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        reset = mfa_reset_pending_of(locked)
        # Applied or cancelled by someone else since `user` was read: nothing left to do.
        if reset is not None and reset.due_at <= now:
            mfa_reset_request_apply(
                reset=reset, user=locked, staff_member=None, reason=reset.reason, client=NO_CLIENT
            )
    return locked


def mfa_resets_apply_due() -> int:
    """Apply every reset that is due (`manage.py mfa_resets_apply`); how many were applied.

    Safe to run from cron, twice at once, or while users log in: each account is taken
    under its row lock, and on PostgreSQL an account locked by someone else is skipped
    (that login or code check is applying it, or the next sweep will).
    """
    applied = 0
    due_user_ids = MfaResetRequest.objects.filter(
        state=State.PENDING, due_at__lte=timezone.now()
    ).values_list("user_id", flat=True)
    skip_locked = connection.features.has_select_for_update_skip_locked
    for user_id in list(due_user_ids):
        with transaction.atomic():
            locked = User.objects.select_for_update(skip_locked=skip_locked).filter(pk=user_id).first()
            if locked is None:
                continue
            reset = mfa_reset_pending_of(locked)
            if reset is None or reset.due_at > timezone.now():
                continue
            mfa_reset_request_apply(
                reset=reset, user=locked, staff_member=None, reason=reset.reason, client=NO_CLIENT
            )
            applied += 1
    return applied
