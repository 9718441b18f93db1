"""The "This wasn't me: freeze my account" link of every security email: signed, single use, dated.

The link carries the user's id and when it was made, signed with the secret key (Django's
signing, its own salt), and expires after `FREEZE_LINK_DAYS`. It is single use without a
table of used links: freezing stamps `User.frozen_at`, and a link made before the last freeze
is spent. Nothing is stored until it is used, so an email can carry one for free.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.core import signing
from django.urls import reverse

from accounts.models import User

SALT = "accounts.freeze-link"
# A link of ours is about 80 characters; anything much longer is not one.
TOKEN_MAX_LENGTH = 200


class FreezeLinkState(StrEnum):
    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True)
class FreezeLink:
    state: FreezeLinkState
    user: User | None = None


def freeze_link_token(user: User) -> str:
    """A token for `user`'s freeze link, made now."""
    return signing.dumps({"u": user.pk, "t": time.time_ns() // 1000}, salt=SALT, compress=False)


def freeze_link_url(user: User) -> str:
    """The absolute URL of a fresh freeze link for `user`, for an email."""
    path = reverse("account:freeze-link", kwargs={"token": freeze_link_token(user)})
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def freeze_link_read(token: str) -> FreezeLink:
    """What `token` is: valid (with its user), used (the account froze since), expired or invalid."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return FreezeLink(FreezeLinkState.INVALID)
    try:
        payload = signing.loads(token, salt=SALT, max_age=timedelta(days=settings.FREEZE_LINK_DAYS))
    except signing.SignatureExpired:
        return FreezeLink(FreezeLinkState.EXPIRED)
    except signing.BadSignature:
        return FreezeLink(FreezeLinkState.INVALID)
    try:
        user_id, issued_us = int(payload["u"]), int(payload["t"])
    except (KeyError, TypeError, ValueError):
        return FreezeLink(FreezeLinkState.INVALID)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return FreezeLink(FreezeLinkState.INVALID)
    if freeze_link_spent(user, issued_us=issued_us):
        return FreezeLink(FreezeLinkState.USED, user)
    return FreezeLink(FreezeLinkState.VALID, user)


def freeze_link_spent(user: User, *, issued_us: int) -> bool:
    """Whether a link made at `issued_us` (microseconds since the epoch) is spent by a later freeze."""
    if user.frozen_at is None:
        return False
    return issued_us <= int(user.frozen_at.timestamp() * 1_000_000)
