"""Scheduled support MFA resets: created and cancelled (API.md "Support MFA reset with a delay")."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.core import notifications
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.events import security_actor_of, security_event_record
from accounts.models import MfaResetRequest, SecurityEvent, User
from otp import services as otp_services
from otp.services.mfa_reset_apply import mfa_reset_apply_if_due, mfa_reset_pending_of

EventType = SecurityEvent.Type
Actor = SecurityEvent.Actor
State = MfaResetRequest.State

# Who asked or cancelled, as the emails name them (in the user's language): a role, never a name.
ROLE_SUPPORT, ROLE_OPERATOR, ROLE_USER = "support", "operator", "user"


def requester_role(staff_member: User | None) -> str:
    return ROLE_SUPPORT if staff_member is not None else ROLE_OPERATOR


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
        actor=security_actor_of(requested_by),
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
        actor=security_actor_of(staff_member, otherwise=Actor.USER),
        staff_member=staff_member,
        details=details,
    )
    notifications.mfa_reset_cancelled_notify(
        user=user, cancelled_by=ROLE_USER if staff_member is None else ROLE_SUPPORT
    )


def mfa_reset_cancel_by_owner(*, user: User, otp: str | None, client: Client) -> User:
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
