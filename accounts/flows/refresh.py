"""Refresh-token rotation and reuse detection, and logout."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import TokenError

from accounts.auth.owner_query import refresh_owner_read_and_touch
from accounts.auth.sessions import api_session_end_quietly
from accounts.auth.tokens import (
    AMR_PASSWORD,
    IssuedTokens,
    RefreshToken,
    id_token_for,
    refresh_token_for,
    token_still_counts,
    token_subject_parse,
)
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.events import security_event_record
from accounts.models import RevokedToken, SecurityEvent, User

EventType = SecurityEvent.Type


def _refresh_token_parse(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)
    except TokenError as error:
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID) from error


def _expiry(token: RefreshToken) -> datetime:
    return datetime.fromtimestamp(token["exp"], tz=UTC)


def _refresh_token_owner(token: RefreshToken) -> User:
    """The ACTIVE owner of a current, unrevoked `token` of a live session, in one statement; else token_not_valid.

    The statement also stamps the session as used now.
    """
    subject = token_subject_parse(token)
    if subject is None:
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID)
    owner_id, session_id = subject
    family = RevokedToken.family_key(token.get("fam", ""))
    found = refresh_owner_read_and_touch(
        owner_id=owner_id, session_id=session_id, jti=token["jti"], family=family
    )
    user, token_revoked, session_live = found if found is not None else (None, True, False)
    if not token_still_counts(token, owner=user, session_live=session_live, revoked=token_revoked):
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID)
    return user


def token_refresh(*, refresh_token: str, client: Client) -> IssuedTokens:
    """A new idToken; with rotation on, also a new refreshToken, and reuse revokes the family."""
    token = _refresh_token_parse(refresh_token)
    try:
        user = _refresh_token_owner(token)
    except ServiceError:
        if settings.JWT_ROTATE_REFRESH_TOKENS:
            _rotated_token_reuse_check(token, client=client)
        raise
    amr = token.get("amr", AMR_PASSWORD)
    session_id = token["sid"]
    id_token = str(id_token_for(user, amr=amr, session_id=session_id))
    if not settings.JWT_ROTATE_REFRESH_TOKENS:
        return IssuedTokens(id_token=id_token)
    try:
        with transaction.atomic():
            RevokedToken.objects.create(
                jti=token["jti"],
                user=user,
                reason=RevokedToken.Reason.ROTATED,
                expires_at=_expiry(token),
            )
    except IntegrityError:
        # Another request rotated this token first: two holders of one token.
        _family_revoke(token, user=user, client=client)
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID) from None
    rotated = refresh_token_for(
        user, amr=amr, session_id=session_id, family=token["fam"], expires_at=token["exp"]
    )
    return IssuedTokens(id_token=id_token, refresh_token=str(rotated))


def _rotated_token_reuse_check(token: RefreshToken, *, client: Client) -> None:
    """A rotated-out token presented again revokes its whole family (RFC 9700 §4.14.2)."""
    rotated = RevokedToken.objects.filter(jti=token["jti"], reason=RevokedToken.Reason.ROTATED).first()
    if rotated is not None:
        _family_revoke(token, user=rotated.user, client=client)


def _family_revoke(token: RefreshToken, *, user: User, client: Client) -> None:
    _, created = RevokedToken.objects.get_or_create(
        jti=RevokedToken.family_key(token["fam"]),
        defaults={
            "user": user,
            "reason": RevokedToken.Reason.REUSED_FAMILY,
            "expires_at": _expiry(token),
        },
    )
    if created:
        security_event_record(user=user, type=EventType.REFRESH_TOKEN_REUSED, client=client)


def logout(*, user: User, refresh_token: str, client: Client) -> None:
    """Revoke one refresh token of the caller's and end its session."""
    token = _refresh_token_parse(refresh_token)
    if str(token["sub"]) != str(user.pk):
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID)
    owner = _refresh_token_owner(token)
    with transaction.atomic():
        _, created = RevokedToken.objects.get_or_create(
            jti=token["jti"],
            defaults={
                "user": owner,
                "reason": RevokedToken.Reason.LOGOUT,
                "expires_at": _expiry(token),
            },
        )
        if not created:
            raise ServiceError(ErrorCode.TOKEN_NOT_VALID)
        api_session_end_quietly(session_id=token["sid"])
        security_event_record(user=owner, type=EventType.LOGGED_OUT, client=client)


def session_logout_record(*, user: User, client: Client) -> None:
    """A browser session ended by its user (the API's logout revokes a refresh token instead)."""
    security_event_record(user=user, type=EventType.LOGGED_OUT, client=client, details={"session": "browser"})
