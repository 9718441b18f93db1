"""Support actions on an account: block, unblock, freeze, unfreeze, unlock, MFA reset, sign out,
resend verification, reopen a closed account.

Each needs a reason, is recorded in the audit trail with the staff member as actor and
tells the user by email. `staff_member=None` is an operator at the command line
(`manage.py mfa_reset`), recorded as the SYSTEM actor. Only a superuser may act on a
staff account, so support cannot lock out the people who supervise it. An MFA reset is
scheduled, not done at once (accounts.flows.mfa_resets).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.auth.revocation import tokens_revoke_all
from accounts.core import notifications
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.events import security_actor_of, security_event_record
from accounts.core.login_throttles import login_failures_forget
from accounts.flows import freezing
from accounts.flows import mfa_resets as mfa_resets_flows
from accounts.flows.closing import account_reopen_deadline
from accounts.flows.unfreezing import account_unfreeze_record
from accounts.models import MfaResetRequest, SecurityEvent, User
from otp import services as otp_services
from otp.services import mfa_reset_apply

EventType = SecurityEvent.Type
NO_CLIENT = Client()


def _reason_clean(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ServiceError(
            ErrorCode.VALIDATION_ERROR, errors={"reason": [_("Give the reason for this action.")]}
        )
    return reason


def _refusal(detail: str) -> ServiceError:
    return ServiceError(ErrorCode.VALIDATION_ERROR, detail=detail)


def _account_lock_for_change(user: User, staff_member: User | None) -> User:
    """The account's row, locked for the change, once the staff member may act on it."""
    account = User.objects.select_for_update().get(pk=user.pk)
    staff_account = account.is_staff or account.is_superuser
    if staff_account and staff_member is not None and not staff_member.is_superuser:
        raise _refusal(_("Only a superuser can act on a staff account."))
    return account


def _record(
    *,
    user: User,
    type: SecurityEvent.Type,
    staff_member: User | None,
    reason: str,
    client: Client,
    details: dict[str, Any] | None = None,
) -> None:
    security_event_record(
        user=user,
        type=type,
        client=client,
        actor=security_actor_of(staff_member),
        staff_member=staff_member,
        details={"reason": reason, **(details or {})},
    )


def _tokens_revoke(*, user: User, staff_member: User | None, reason: str, client: Client) -> None:
    tokens_revoke_all(
        user=user,
        client=client,
        actor=security_actor_of(staff_member),
        staff_member=staff_member,
        reason=reason,
    )


@transaction.atomic
def account_block(*, user: User, staff_member: User | None, reason: str, client: Client = NO_CLIENT) -> User:
    """BLOCKED until unblocked: no login, no refresh, every token issued so far refused."""
    reason = _reason_clean(reason)
    user = _account_lock_for_change(user, staff_member)
    if user.status == User.Status.BLOCKED:
        raise _refusal(_("The account is already blocked."))
    user.status, user.locked_until = User.Status.BLOCKED, None
    user.save(update_fields=["status", "locked_until"])
    _record(
        user=user, type=EventType.ACCOUNT_BLOCKED, staff_member=staff_member, reason=reason, client=client
    )
    _tokens_revoke(user=user, staff_member=staff_member, reason=reason, client=client)
    notifications.account_blocked_notify(user=user)
    return user


@transaction.atomic
def account_unblock(
    *, user: User, staff_member: User | None, reason: str, client: Client = NO_CLIENT
) -> User:
    reason = _reason_clean(reason)
    user = _account_lock_for_change(user, staff_member)
    if user.status != User.Status.BLOCKED:
        raise _refusal(_("The account is not blocked."))
    user.status = User.Status.ACTIVE
    user.save(update_fields=["status"])
    _record(
        user=user, type=EventType.ACCOUNT_UNBLOCKED, staff_member=staff_member, reason=reason, client=client
    )
    notifications.account_unblocked_notify(user=user)
    return user


@transaction.atomic
def account_freeze(*, user: User, staff_member: User | None, reason: str, client: Client = NO_CLIENT) -> User:
    """FROZEN as if its owner had frozen it (the user asked support, or support saw a takeover)."""
    reason = _reason_clean(reason)
    user = _account_lock_for_change(user, staff_member)
    if user.status == User.Status.BLOCKED:
        raise _refusal(_("The account is blocked: it cannot be frozen."))
    if user.status == User.Status.FROZEN:
        raise _refusal(_("The account is already frozen."))
    freezing.account_freeze(
        user=user, how=freezing.FreezeMethod.SUPPORT, client=client, staff_member=staff_member, reason=reason
    )
    return user


@transaction.atomic
def account_unfreeze(
    *, user: User, staff_member: User | None, reason: str, client: Client = NO_CLIENT
) -> User:
    """ACTIVE again without a password reset (support made sure who they are talking to); factors kept."""
    reason = _reason_clean(reason)
    user = _account_lock_for_change(user, staff_member)
    if user.status != User.Status.FROZEN:
        raise _refusal(_("The account is not frozen."))
    account_unfreeze_record(user=user, client=client, staff_member=staff_member, reason=reason)
    return user


@transaction.atomic
def account_unlock(*, user: User, staff_member: User | None, reason: str, client: Client = NO_CLIENT) -> User:
    """Lift a lock and clear every failure count and delay, of second factors and passwords."""
    reason = _reason_clean(reason)
    user = _account_lock_for_change(user, staff_member)
    if user.status == User.Status.BLOCKED:
        raise _refusal(_("The account is blocked: unblock it instead."))
    was_locked = user.effective_status() == User.Status.LOCKED
    user.save(update_fields=user.lock_lift())
    login_failures_forget(email=user.email)
    _record(
        user=user,
        type=EventType.ACCOUNT_UNLOCKED,
        staff_member=staff_member,
        reason=reason,
        client=client,
        details={"wasLocked": was_locked},
    )
    notifications.account_unlocked_notify(user=user)
    return user


@transaction.atomic
def mfa_reset_schedule(
    *, user: User, staff_member: User | None, reason: str, client: Client = NO_CLIENT
) -> User:
    """For a user who lost every factor: remove TOTP, phone, passkeys and recovery codes, after a delay.

    Nothing changes until `SUPPORT_MFA_RESET_DELAY_SECONDS` have passed; the user is told
    at once and may cancel it. Then the factors go and every session ends; the user logs
    in with the password alone and sets up a factor again.
    """
    reason = _reason_clean(reason)
    user = _account_lock_for_change(user, staff_member)
    mfa_resets_flows.mfa_reset_request_create(
        user=user, requested_by=staff_member, reason=reason, client=client
    )
    return user


def _pending_reset(user: User) -> MfaResetRequest:
    reset = mfa_reset_apply.mfa_reset_pending_of(user)
    if reset is None:
        raise _refusal(_("No reset of this account's second factors is scheduled."))
    return reset


@transaction.atomic
def mfa_reset_cancel_by_support(
    *, user: User, staff_member: User | None, reason: str, client: Client = NO_CLIENT
) -> User:
    """Stop the account's scheduled MFA reset; the user is told."""
    reason = _reason_clean(reason)
    user = _account_lock_for_change(user, staff_member)
    mfa_resets_flows.mfa_reset_request_cancel(
        reset=_pending_reset(user), user=user, staff_member=staff_member, reason=reason, client=client
    )
    return user


@transaction.atomic
def mfa_reset_now(*, user: User, staff_member: User | None, reason: str, client: Client = NO_CLIENT) -> User:
    """Apply the account's scheduled MFA reset at once, without waiting (its own permission)."""
    reason = _reason_clean(reason)
    user = _account_lock_for_change(user, staff_member)
    mfa_reset_apply.mfa_reset_request_apply(
        reset=_pending_reset(user), user=user, staff_member=staff_member, reason=reason, client=client
    )
    return user


@transaction.atomic
def tokens_revoke(*, user: User, staff_member: User | None, reason: str, client: Client = NO_CLIENT) -> User:
    """Sign the account out everywhere: every refresh token and idToken issued so far is refused."""
    reason = _reason_clean(reason)
    user = _account_lock_for_change(user, staff_member)
    _tokens_revoke(user=user, staff_member=staff_member, reason=reason, client=client)
    notifications.tokens_revoked_notify(user=user)
    return user


@transaction.atomic
def email_verification_resend(
    *, user: User, staff_member: User | None, reason: str, client: Client = NO_CLIENT
) -> User:
    """A new email verification code, under the same cool-down as the user's own resend.

    The email carrying the code is the user's notification.
    """
    reason = _reason_clean(reason)
    user = _account_lock_for_change(user, staff_member)
    otp_services.email_verification_code_send(user=user)
    _record(
        user=user,
        type=EventType.EMAIL_VERIFICATION_SENT,
        staff_member=staff_member,
        reason=reason,
        client=client,
    )
    return user


@transaction.atomic
def account_reopen(*, user: User, staff_member: User | None, reason: str, client: Client = NO_CLIENT) -> User:
    """Open a closed account again, within `ACCOUNT_CLOSED_RETENTION_DAYS` of its closing; the user is told.

    Its sessions and tokens stay ended: the user logs in again with the password.
    """
    reason = _reason_clean(reason)
    user = _account_lock_for_change(user, staff_member)
    if user.closed_at is None:
        raise _refusal(_("The account is not closed."))
    if account_reopen_deadline(user) <= timezone.now():
        raise _refusal(_("The account was closed too long ago to reopen: it is due for deletion."))
    closed_at = user.closed_at
    user.closed_at = None
    user.save(update_fields=["closed_at"])
    _record(
        user=user,
        type=EventType.ACCOUNT_REOPENED,
        staff_member=staff_member,
        reason=reason,
        client=client,
        details={"closedAt": closed_at.isoformat()},
    )
    notifications.account_reopened_notify(user=user)
    return user
