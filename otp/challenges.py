"""Ceremony challenges and step-up tokens, held in the cache: random, bound, expiring, single use.

Single use rests on `cache.delete` answering True to one caller only (Redis `DEL` returns
the number of keys it removed), so two requests racing with one challenge or token get
one success between them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from accounts.core.errors import ErrorCode, ServiceError

CHALLENGE_BYTES = 32
STEP_UP_TOKEN_BYTES = 32
# What `secrets.token_urlsafe(32)` gives: told apart from codes before any lookup.
STEP_UP_TOKEN_LENGTH = 43
CHALLENGE_ID_MAX_LENGTH = 64


class Purpose(StrEnum):
    """What a challenge was issued for; it is accepted for that purpose only."""

    REGISTER = "register"
    LOGIN = "login"
    SECOND_FACTOR = "second-factor"
    STEP_UP = "step-up"


@dataclass(frozen=True)
class Challenge:
    challenge_id: str
    challenge: bytes


def _challenge_key(challenge_id: str) -> str:
    return f"webauthn:challenge:{challenge_id}"


def challenge_issue(*, purpose: Purpose, user_id: int | None) -> Challenge:
    """A fresh challenge for one ceremony of `purpose`, bound to `user_id` when it is known."""
    challenge = Challenge(
        challenge_id=secrets.token_urlsafe(24), challenge=secrets.token_bytes(CHALLENGE_BYTES)
    )
    cache.set(
        _challenge_key(challenge.challenge_id),
        {"challenge": challenge.challenge, "user": user_id, "purpose": str(purpose)},
        timeout=settings.WEBAUTHN_CHALLENGE_SECONDS,
    )
    return challenge


def challenge_consume(*, challenge_id: str, purpose: Purpose, user_id: int | None) -> bytes:
    """The challenge under `challenge_id`, spent; unknown, expired, spent or not ours: 400."""
    if not challenge_id or len(challenge_id) > CHALLENGE_ID_MAX_LENGTH:
        raise ServiceError(ErrorCode.CHALLENGE_INVALID)
    key = _challenge_key(challenge_id)
    stored = cache.get(key)
    # Spent whatever follows: a challenge shown to the wrong ceremony is not kept for another try.
    if stored is None or not cache.delete(key):
        raise ServiceError(ErrorCode.CHALLENGE_INVALID)
    if stored["purpose"] != purpose or stored["user"] != user_id:
        raise ServiceError(ErrorCode.CHALLENGE_INVALID)
    return stored["challenge"]


# --- step-up tokens ------------------------------------------------------------------------


@dataclass(frozen=True)
class StepUpToken:
    token: str
    valid_until: datetime


def _step_up_key(token: str) -> str:
    # Keyed by a hash: what the cache holds cannot be replayed as `x-otp`.
    return "webauthn:step-up:" + hashlib.sha256(token.encode()).hexdigest()


def step_up_token_issue(*, user_id: int) -> StepUpToken:
    token = secrets.token_urlsafe(STEP_UP_TOKEN_BYTES)
    seconds = settings.WEBAUTHN_STEP_UP_TOKEN_SECONDS
    cache.set(_step_up_key(token), user_id, timeout=seconds)
    return StepUpToken(token=token, valid_until=timezone.now() + timedelta(seconds=seconds))


def looks_like_step_up_token(value: str) -> bool:
    return len(value) == STEP_UP_TOKEN_LENGTH


def step_up_token_redeem(*, user_id: int, token: str) -> bool:
    """Accept a step-up token of `user_id` once; another user's token stays unspent."""
    if not looks_like_step_up_token(token):
        return False
    key = _step_up_key(token)
    if cache.get(key) != user_id:
        return False
    return bool(cache.delete(key))
