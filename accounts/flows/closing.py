"""Closing an account, and deleting it for good once support can no longer reopen it (SECURITY.md 32).

Closing ends everything at once (every session, token and trusted device, a pending email change)
and from then on the account is an unknown email (accounts.account_state). For
`ACCOUNT_CLOSED_RETENTION_DAYS` support may reopen it (accounts.flows.support.account_reopen); after
that `manage.py accounts_purge_closed` deletes the user with its devices, passkeys and sessions,
and keeps its security events without anything personal, so the email can sign up again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.auth.revocation import tokens_revoke_all
from accounts.core import notifications
from accounts.core.client import Client
from accounts.core.events import security_event_record
from accounts.flows.email_change import email_change_cancel
from accounts.flows.passwords import password_recheck
from accounts.models import SecurityEvent, User
from otp import services as otp_services

EventType = SecurityEvent.Type


def account_close(*, user: User, password: str, otp: str | None, client: Client) -> None:
    """`POST /auth/me/close`: the password and step-up, then the account is closed and everything ends."""
    password_recheck(user=user, password=password, client=client)
    otp_services.step_up_verify(user=user, otp=otp, client=client)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.closed_at = timezone.now()
        locked.save(update_fields=["closed_at"])
        email_change_cancel(user=locked, client=client, actor=SecurityEvent.Actor.SYSTEM, missing_ok=True)
        security_event_record(user=locked, type=EventType.ACCOUNT_CLOSED, client=client)
        tokens_revoke_all(user=locked, client=client, reason="account closed")
        notifications.account_closed_notify(
            user=locked, retention_days=settings.ACCOUNT_CLOSED_RETENTION_DAYS
        )
    user.closed_at = locked.closed_at


def account_reopen_deadline(user: User) -> datetime | None:
    """Until when support may reopen a closed account; None for an open one."""
    if user.closed_at is None:
        return None
    return user.closed_at + timedelta(days=settings.ACCOUNT_CLOSED_RETENTION_DAYS)


def accounts_purge_closed(*, now: datetime | None = None) -> int:
    """Delete every account closed more than the retention period ago; how many were deleted.

    One account per transaction, its row locked and its closure checked again there: a second
    run at the same time skips or finds nothing, an account reopened meanwhile stays, and running
    it again deletes nothing more (idempotent).
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.ACCOUNT_CLOSED_RETENTION_DAYS)
    candidates = list(User.objects.filter(closed_at__lte=cutoff).order_by("pk").values_list("pk", flat=True))
    return sum(_account_purge(user_id=user_id, cutoff=cutoff) for user_id in candidates)


@transaction.atomic
def _account_purge(*, user_id: int, cutoff: datetime) -> bool:
    user = User.objects.select_for_update(skip_locked=True).filter(pk=user_id, closed_at__lte=cutoff).first()
    if user is None:
        return False
    # The trail stays, for what happened when; nothing in it says who any more.
    SecurityEvent.objects.filter(user_id=user_id).update(
        user=None, ip_address=None, user_agent="", details={}
    )
    user.delete()  # with its devices, passkeys, sessions, trusted devices, revoked tokens and resets
    return True
