"""The password of a login checked against known breaches, at most once per recheck period.

Sign-up, change and reset refuse a breached password (accounts.core.validators). A password chosen
before it leaked is found at login: the right password is checked against the range API, the
account flagged (`passwordCompromised` in the profile, a notice on the security page) and the
user emailed once for that password. Within the recheck period a login's only cost is comparing a
date the row it loaded already holds (`password_checked_at`). When a check is due it runs in the
request, bounded by `PWNED_PASSWORDS_TIMEOUT_SECONDS` (and nothing at all while the range API is
in its back-off): not as a task, because a task's arguments are stored, and an unsalted SHA-1 of
a password must never be.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.core import notifications
from accounts.core.client import Client
from accounts.core.events import security_event_record
from accounts.core.pwned_passwords import password_sha1, sha1_breach_count
from accounts.models import SecurityEvent, User


def _recheck_cutoff(now: datetime) -> datetime:
    return now - timedelta(days=settings.PWNED_PASSWORDS_RECHECK_DAYS)


def password_breach_check_due(user: User, now: datetime | None = None) -> bool:
    """Whether a login of `user` should check the password: never, or not within the recheck period."""
    if not settings.PWNED_PASSWORDS:
        return False
    checked = user.password_checked_at
    return checked is None or checked <= _recheck_cutoff(now or timezone.now())


@sensitive_variables("password")
def password_breach_check_if_due(*, user: User, password: str, client: Client) -> None:
    """At login, with the right `password`: check it when it is due (of its SHA-1, 5 characters leave)."""
    if not password_breach_check_due(user):
        return
    password_breach_recheck(
        user_id=user.pk, sha1=password_sha1(password), password_hash=user.password, client=client
    )


def password_breach_recheck(*, user_id: int, sha1: str, password_hash: str, client: Client) -> bool | None:
    """Check the password whose SHA-1 is `sha1`, if it is still the account's (`password_hash`).

    Two logins at once check it once: the first claims the check by stamping `password_checked_at`.
    A failure of the range API leaves it unchecked (the next login tries again). A breached password
    is flagged, recorded and emailed once. Whether it is breached; None when it was not checked.
    """
    now = timezone.now()
    due = Q(password_checked_at__isnull=True) | Q(password_checked_at__lte=_recheck_cutoff(now))
    if not User.objects.filter(due, pk=user_id, password=password_hash).update(password_checked_at=now):
        return None
    count = sha1_breach_count(sha1)
    if count is None:
        User.objects.filter(pk=user_id, password_checked_at=now).update(password_checked_at=None)
        return None
    if count:
        _password_compromised_flag(user_id=user_id, password_hash=password_hash, now=now, client=client)
    return bool(count)


@transaction.atomic
def _password_compromised_flag(*, user_id: int, password_hash: str, now: datetime, client: Client) -> None:
    flagged = User.objects.filter(
        pk=user_id, password=password_hash, password_compromised_at__isnull=True
    ).update(password_compromised_at=now)
    if not flagged:
        return  # flagged already for this password, or the password changed meanwhile
    user = User.objects.get(pk=user_id)
    security_event_record(
        user=user,
        type=SecurityEvent.Type.PASSWORD_COMPROMISED,
        client=client,
        actor=SecurityEvent.Actor.SYSTEM,
    )
    notifications.password_compromised_notify(user=user)


def password_breach_fields_clear(user: User) -> list[str]:
    """A new password: neither checked at login nor flagged yet. The changed fields, for the caller to save."""
    user.password_checked_at = None
    user.password_compromised_at = None
    return ["password_checked_at", "password_compromised_at"]
