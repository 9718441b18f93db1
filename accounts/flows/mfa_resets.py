"""Scheduled support MFA resets: created and cancelled (API.md "Support MFA reset with a delay").

The owner can always cancel (SECURITY.md 26): with a code (step-up that does not wait out the
delay others' failures made), or without logging in, by the single-use signed link of the
"a reset is scheduled" email. The link names the reset it was made for and its request time,
so it works only while that very reset is pending and not yet due: once used (cancelled),
applied or expired, and for any later reset, it is refused; an altered one fails its signature.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
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
# Keeps these signatures apart from every other use of SECRET_KEY.
CANCEL_LINK_SALT = "accounts.mfa-reset.cancel-link"


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
        user=user,
        requested_by=requester_role(requested_by),
        due_at=reset.due_at,
        cancel_token=mfa_reset_cancel_token_make(reset),
    )
    return reset


def mfa_reset_cancel_token_make(reset: MfaResetRequest) -> str:
    """The signed token of the email's cancel link, bound to this reset and its request time."""
    return signing.dumps(
        {"reset": reset.pk, "requested": reset.requested_at.isoformat()}, salt=CANCEL_LINK_SALT
    )


def _cancel_link_refused() -> ServiceError:
    return ServiceError(
        ErrorCode.TOKEN_NOT_VALID,
        status=400,
        detail=_(
            "This link cannot be used: it was already used, the reset is no longer pending, or it is not valid."
        ),
    )


def _is_reset_of_token(reset: MfaResetRequest | None, claims: object, now: datetime) -> bool:
    return (
        reset is not None
        and isinstance(claims, dict)
        and reset.state == State.PENDING
        and reset.requested_at.isoformat() == claims.get("requested")
        and reset.due_at > now
    )


def mfa_reset_of_cancel_link(*, token: str) -> MfaResetRequest:
    """The pending, not yet due reset the link was made for (the confirmation page; changes nothing)."""
    try:
        claims = signing.loads(token, salt=CANCEL_LINK_SALT)
    except signing.BadSignature:
        raise _cancel_link_refused() from None
    reset_id = claims.get("reset") if isinstance(claims, dict) else None
    reset = (
        MfaResetRequest.objects.filter(pk=reset_id).select_related("user").first()
        if isinstance(reset_id, int)
        else None
    )
    if not _is_reset_of_token(reset, claims, timezone.now()):
        raise _cancel_link_refused()
    return reset


def mfa_reset_cancel_by_link(*, token: str, client: Client) -> User:
    """The POST of the email's link: the owner stops the reset without logging in.

    Nothing but the signed link is asked: it reached the owner's inbox, and cancelling only
    protects the account. Used, expired (the reset came due: it is applied first), for another
    reset or altered: refused, and nothing changes.
    """
    reset = mfa_reset_of_cancel_link(token=token)
    mfa_reset_apply_if_due(reset.user)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=reset.user_id)
        pending = mfa_reset_pending_of(locked)
        if (
            pending is None
            or pending.pk != reset.pk
            or not _is_reset_of_token(pending, {"requested": reset.requested_at.isoformat()}, timezone.now())
        ):
            raise _cancel_link_refused()
        mfa_reset_request_cancel(
            reset=pending, user=locked, staff_member=None, reason="", client=client, via="link"
        )
    return locked


def mfa_reset_request_cancel(
    *,
    reset: MfaResetRequest,
    user: User,
    staff_member: User | None,
    reason: str,
    client: Client,
    via: str = "",
) -> None:
    """Cancel the pending `reset` of the (locked) `user`: by the user (no staff member) or by staff.

    `via`: how, when not the usual way of the caller (`link`: the email's cancel link).
    """
    reset.state, reset.cancelled_at = State.CANCELLED, timezone.now()
    reset.cancelled_by, reset.cancel_reason = staff_member or user, reason
    reset.save(update_fields=["state", "cancelled_at", "cancelled_by", "cancel_reason"])
    user.mfa_reset_due_at = None
    user.save(update_fields=["mfa_reset_due_at"])
    details = {
        "dueAt": reset.due_at.isoformat(),
        **({"reason": reason} if reason else {}),
        **({"via": via} if via else {}),
    }
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
    # A right code is not refused for the delay that someone with the password alone can make.
    otp_services.protective_step_up_verify(user=user, otp=otp, client=client)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        reset = mfa_reset_pending_of(locked)
        if reset is None:
            raise ServiceError(ErrorCode.NOT_FOUND, detail=_("No reset of your second factors is scheduled."))
        mfa_reset_request_cancel(reset=reset, user=locked, staff_member=None, reason="", client=client)
    return locked
