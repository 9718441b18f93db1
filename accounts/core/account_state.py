"""The one rule deciding whether an account may authenticate, on every path that lets a user in.

Password login, every second factor, passkeys, refresh, the bearer check, the pages and the
admin all ask here. A deactivated account (`is_active = False`, set by staff) is refused
like a BLOCKED one; a FROZEN one until its owner resets the password; a LOCKED one until
its lock lifts. The status is revealed only after
the right password, so callers ask once the credentials have checked out.

A closed account (accounts.flows.closing) goes further: it behaves as an unknown email. Password
login and password reset look it up through `account_open_or_none`, before the password is
checked, so it gets the unknown email's hash check, refusal and time; any other path that
reaches it (a passkey, a token issued before) is refused as a failed login.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from accounts.core.errors import ErrorCode, ServiceError
from accounts.models import User


def account_refusal(user: User, now: datetime | None = None) -> ServiceError | None:
    """Why `user` may not authenticate now, or None when it may."""
    if user.is_closed:
        return ServiceError(ErrorCode.AUTHENTICATION_FAILED)
    now = now or timezone.now()
    status = user.effective_status(now)
    if not user.is_active or status == User.Status.BLOCKED:
        return ServiceError(ErrorCode.ACCOUNT_BLOCKED)
    if status == User.Status.FROZEN:
        return ServiceError(ErrorCode.ACCOUNT_FROZEN)
    if status == User.Status.LOCKED:
        return ServiceError(ErrorCode.ACCOUNT_LOCKED, retry_after=user.lock_seconds_left(now))
    return None


def account_status_check(user: User, now: datetime | None = None) -> None:
    """Raise the refusal of `account_refusal`: 403 account_blocked, account_frozen or account_locked."""
    refusal = account_refusal(user, now)
    if refusal is not None:
        raise refusal


def account_may_authenticate(user: User, now: datetime | None = None) -> bool:
    return account_refusal(user, now) is None


def account_open_or_none(user: User | None) -> User | None:
    """`user` unless it is closed: where an email is looked up to log in, a closed account is no account."""
    return None if user is None or user.is_closed else user
