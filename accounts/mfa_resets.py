"""Scheduled support MFA resets: created, cancelled, and applied once due (API.md "Support MFA reset with a delay").

A reset asked of support waits `SUPPORT_MFA_RESET_DELAY_SECONDS`, so an attacker who talked
support into it is found out by the owner's email before it happens. It is applied by
whatever comes first after its due time: the password step of a login, a second-factor
check (`otp.services.verification._code_check`), a read of the profile, or
`manage.py mfa_resets_apply`.

Every change takes the user row's lock first and keeps `User.mfa_reset_due_at` equal to
the due time of the account's PENDING request, so the hot paths decide from the row they
already hold, with no query until a reset is due.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from otp import services as otp_services

from . import notifications
from . import services as account_services
from .client import Client
from .errors import ErrorCode, ServiceError
from .events import security_event_record
from .models import MfaResetRequest, SecurityEvent, User
from .security_changes import security_change_record

EventType = SecurityEvent.Type
Actor = SecurityEvent.Actor
State = MfaResetRequest.State
NO_CLIENT = Client()
# Who asked or cancelled, as the emails name them (in the user's language): a role, never a name.
ROLE_SUPPORT, ROLE_OPERATOR, ROLE_USER = "support", "operator", "user"


def requester_role(staff_member: User | None) -> str:
    return ROLE_SUPPORT if staff_member is not None else ROLE_OPERATOR


def _actor(staff_member: User | None) -> SecurityEvent.Actor:
    return Actor.STAFF if staff_member is not None else Actor.SYSTEM


def mfa_reset_pending_of(user: User) -> MfaResetRequest | None:
    return MfaResetRequest.objects.filter(user=user, state=State.PENDING).first()


def mfa_reset_is_due(user: User, now: datetime | None = None) -> bool:
    """From the row alone: a pending reset whose time has come."""
    due_at = user.mfa_reset_due_at
    return due_at is not None and due_at <= (now or timezone.now())


def mfa_reset_request_create(
    *, user: User, requested_by: User | None, reason: str, client: Client
) -> MfaResetRequest:
    """Schedule the reset of the (locked) account's factors; records it and emails the user at once.

    Nothing else changes until it is due.
    """
    if not user.has_second_factor:
        raise ServiceError(ErrorCode.VALIDATION_ERROR, detail=_("The account has no second factor to reset."))
    if user.mfa_reset_due_at is not None:
        raise ServiceError(
            ErrorCode.VALIDATION_ERROR,
            detail=_("A reset of this account's second factors is already scheduled."),
        )
    now = timezone.now()
    reset = MfaResetRequest.objects.create(
        user=user,
        requested_by=requested_by,
        requested_at=now,
        due_at=now + timedelta(seconds=settings.SUPPORT_MFA_RESET_DELAY_SECONDS),
        reason=reason,
    )
    user.mfa_reset_due_at = reset.due_at
    user.save(update_fields=["mfa_reset_due_at"])
    security_event_record(
        user=user,
        type=EventType.MFA_RESET_SCHEDULED,
        client=client,
        actor=_actor(requested_by),
        staff_member=requested_by,
        details={"reason": reason, "dueAt": reset.due_at.isoformat()},
    )
    notifications.mfa_reset_scheduled_notify(
        user=user, requested_by=requester_role(requested_by), due_at=reset.due_at
    )
    return reset


def mfa_reset_request_cancel(
    *, reset: MfaResetRequest, user: User, staff_member: User | None, reason: str, client: Client
) -> None:
    """Cancel the pending `reset` of the (locked) `user`: by the user (no staff member) or by staff."""
    reset.state, reset.cancelled_at = State.CANCELLED, timezone.now()
    reset.cancelled_by, reset.cancel_reason = staff_member or user, reason
    reset.save(update_fields=["state", "cancelled_at", "cancelled_by", "cancel_reason"])
    user.mfa_reset_due_at = None
    user.save(update_fields=["mfa_reset_due_at"])
    details = {"dueAt": reset.due_at.isoformat(), **({"reason": reason} if reason else {})}
    security_event_record(
        user=user,
        type=EventType.MFA_RESET_CANCELLED,
        client=client,
        actor=Actor.STAFF if staff_member is not None else Actor.USER,
        staff_member=staff_member,
        details=details,
    )
    notifications.mfa_reset_cancelled_notify(
        user=user, cancelled_by=ROLE_USER if staff_member is None else ROLE_SUPPORT
    )


def mfa_reset_request_apply(
    *, reset: MfaResetRequest, user: User, staff_member: User | None, reason: str, client: Client
) -> list[str]:
    """Take the reset into effect on the (locked) `user`: factors removed, signed out everywhere.

    `staff_member` is who applied it before its time ("reset now"); None when it came due.
    Returns the factors removed.
    """
    removed = otp_services.factors_remove_all(user=user)
    reset.state, reset.done_at = State.DONE, timezone.now()
    reset.save(update_fields=["state", "done_at"])
    user.mfa_reset_due_at = None
    user.save(update_fields=["mfa_reset_due_at"])
    actor = Actor.STAFF if staff_member is not None else Actor.SYSTEM
    security_event_record(
        user=user,
        type=EventType.MFA_RESET,
        client=client,
        actor=actor,
        staff_member=staff_member,
        details={"reason": reason, "removed": removed, "requestedAt": reset.requested_at.isoformat()},
    )
    account_services.tokens_revoke_all(
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


def mfa_reset_cancel(*, user: User, otp: str | None, client: Client) -> User:
    """`DELETE /auth/me/mfa-reset`: the user stops the pending reset, with step-up.

    State before code: nothing pending (or already applied) is 404 before any code is checked.
    """
    user = mfa_reset_apply_if_due(user)
    if user.mfa_reset_due_at is None:
        raise ServiceError(ErrorCode.NOT_FOUND, detail=_("No reset of your second factors is scheduled."))
    otp_services.step_up_verify(user=user, otp=otp, client=client)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        reset = mfa_reset_pending_of(locked)
        if reset is None:
            raise ServiceError(ErrorCode.NOT_FOUND, detail=_("No reset of your second factors is scheduled."))
        mfa_reset_request_cancel(reset=reset, user=locked, staff_member=None, reason="", client=client)
    return locked
