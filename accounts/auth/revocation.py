"""Revoking everything a user holds: tokens, sessions and trusted devices, in one function.

`credentials_revoke_all` is the rule; `tokens_revoke_all` is it as an operation of its own
(logout-all, support, an applied MFA reset), recorded. A password change or reset revokes
through the rule too, keeping the session that made the change.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import F

from accounts.auth.sessions import sessions_end_all
from accounts.auth.trusted_devices import (
    trusted_devices_revoke_all,
)
from accounts.core.client import Client
from accounts.core.events import security_event_record
from accounts.models import SecurityEvent, User

EventType = SecurityEvent.Type


def credentials_revoke_all(*, user: User, keep_session: object = None, saving: Sequence[str] = ()) -> None:
    """Every refresh token and idToken issued so far stops working (the user's token generation
    moves on, saved with the fields `saving` in one UPDATE), every session but `keep_session`
    ends, and no device is trusted any more."""
    user.token_generation = F("token_generation") + 1
    user.save(update_fields=[*saving, "token_generation"])
    user.refresh_from_db(fields=["token_generation"])
    sessions_end_all(user=user, except_id=keep_session)
    trusted_devices_revoke_all(user=user)


def tokens_revoke_all(
    *,
    user: User,
    client: Client,
    actor: SecurityEvent.Actor = SecurityEvent.Actor.USER,
    staff_member: User | None = None,
    reason: str = "",
) -> None:
    """`credentials_revoke_all`, recorded as TOKENS_REVOKED with who did it and why."""
    credentials_revoke_all(user=user)
    details = {"reason": reason} if reason else {}
    security_event_record(
        user=user,
        type=EventType.TOKENS_REVOKED,
        client=client,
        actor=actor,
        staff_member=staff_member,
        details=details,
    )
