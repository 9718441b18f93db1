"""The one place that sets `User.security_changed_at`: the platform's signal to hold withdrawals.

A change that could hand the account to someone else calls `security_change_record`: password
changed or reset, email changed, a factor added, removed or reset, the account unfrozen, the
anti-phishing code set, changed or removed. Nothing else does. The profile shows it as
`lastSecurityChangeDate` and idTokens carry it as `security_changed_at` (accounts/tokens.py).
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from accounts.models import User


def security_change_record(*, user: User, at: datetime | None = None) -> datetime:
    """Stamp `user` (the row and the instance) as changed in a security-relevant way at `at` (now)."""
    at = at or timezone.now()
    user.security_changed_at = at
    User.objects.filter(pk=user.pk).update(security_changed_at=at)
    return at
