"""Freezing an account, and unfreezing it: the owner's emergency brake.

Anyone holding the account's freeze link, the owner (API or page) and support can freeze it:
FROZEN, every session ended and every token and trusted device revoked at once, through
`credentials_revoke_all` as logout-all and a block do. Freezing twice is a no-op, so two
clicks and a login at once leave one event. Only a password reset (accounts.flows.passwords)
or support unfreezes (accounts.flows.unfreezing); the second factors stay. Freezing also
cancels a pending change of email (accounts.flows.email_change). A BLOCKED account stays blocked: freezing must never let a reset undo a block.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import transaction
from django.utils import timezone

from accounts.auth.revocation import credentials_revoke_all
from accounts.core import notifications
from accounts.core.client import Client
from accounts.core.events import security_actor_of, security_event_record
from accounts.core.freeze_links import FreezeLink, FreezeLinkState, freeze_link_read
from accounts.flows.email_change import email_change_cancel
from accounts.models import SecurityEvent, User

EventType = SecurityEvent.Type


class FreezeMethod(StrEnum):
    """How an account was frozen, as recorded in ACCOUNT_FROZEN's details."""

    LINK = "link"
    API = "api"
    PAGE = "page"
    SUPPORT = "support"


def account_may_freeze(user: User) -> bool:
    """Whether freezing would change anything: not frozen yet, and not blocked, closed or deactivated."""
    return (
        user.is_active
        and user.closed_at is None
        and user.status not in (User.Status.FROZEN, User.Status.BLOCKED)
    )


@transaction.atomic
def account_freeze(
    *,
    user: User,
    how: FreezeMethod,
    client: Client,
    staff_member: User | None = None,
    reason: str = "",
) -> bool:
    """FROZEN: every session ends, every token and trusted device is revoked; recorded and emailed.

    False (nothing done) when it was frozen already, or is blocked or deactivated. The row
    stays locked until the commit, so a login in between waits and then finds it frozen.
    """
    account = User.objects.select_for_update().get(pk=user.pk)
    if not account_may_freeze(account):
        return False
    account.status, account.locked_until, account.frozen_at = User.Status.FROZEN, None, timezone.now()
    credentials_revoke_all(user=account, saving=["status", "locked_until", "frozen_at"])
    actor = security_actor_of(staff_member, otherwise=SecurityEvent.Actor.USER)
    email_change_cancel(user=account, client=client, actor=actor, missing_ok=True)
    details = {"how": str(how), **({"reason": reason} if reason else {})}
    security_event_record(
        user=account,
        type=EventType.ACCOUNT_FROZEN,
        client=client,
        actor=actor,
        staff_member=staff_member,
        details=details,
    )
    notifications.account_frozen_notify(user=account)
    user.status, user.frozen_at, user.token_generation = (
        account.status,
        account.frozen_at,
        account.token_generation,
    )
    return True


def account_freeze_by_link(*, token: str, client: Client) -> FreezeLink:
    """The POST of a freeze link: freezes its account if the link is valid; what the link was.

    A link found valid but beaten to it by another freeze (a second click, a race) is
    reported as used: the account is frozen either way, and recorded once.
    """
    link = freeze_link_read(token)
    if link.state != FreezeLinkState.VALID or link.user is None:
        return link
    if not account_freeze(user=link.user, how=FreezeMethod.LINK, client=client):
        return FreezeLink(FreezeLinkState.USED, link.user)
    return link
