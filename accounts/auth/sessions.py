"""Sessions: one row per login (API or browser); starting, ending and purging them.

Every login path calls `session_start`: the API's through `tokens_for_login`, the pages'
through `browser_session_start` (accounts/auth/browser_sessions.py). Ending a session refuses
its tokens at once: the bearer check and refresh read the row in the one query that
loads the user. Ending a browser session deletes its Django session, so it is logged out
at once.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.events import security_event_record
from accounts.core.user_agents import device_label
from accounts.models import SecurityEvent, User, UserSession

Kind = UserSession.Kind


def session_start(
    *,
    user: User,
    kind: UserSession.Kind,
    amr: list[str],
    client: Client,
    expires_at: datetime,
    session_key: str = "",
    session_id: uuid.UUID | None = None,
    device: str | None = None,
) -> UserSession:
    """Open the session of one login, labelled `device` or else from the client's User-Agent.

    An application's grant (kind `oidc`) names its id beforehand: its id_token's `sid` is signed
    before the row is written, in the same transaction.
    """
    session = session_new(
        user=user,
        kind=kind,
        amr=amr,
        client=client,
        expires_at=expires_at,
        session_key=session_key,
        session_id=session_id,
        device=device,
    )
    session.save(force_insert=True)
    return session


def session_new(
    *,
    user: User,
    kind: UserSession.Kind,
    amr: list[str],
    client: Client,
    expires_at: datetime,
    session_key: str = "",
    session_id: uuid.UUID | None = None,
    device: str | None = None,
) -> UserSession:
    """The row `session_start` writes, not saved yet (the API login writes it with its other rows)."""
    now = timezone.now()
    return UserSession(
        id=session_id or uuid.uuid4(),
        user=user,
        kind=kind,
        amr=amr,
        created_at=now,
        last_used_at=now,
        ip=client.ip,
        user_agent=client.user_agent,
        device=device if device is not None else device_label(client.user_agent),
        expires_at=expires_at,
        session_key=session_key,
    )


def session_id_parse(value: object) -> uuid.UUID | None:
    """A session id from a token claim or a URL; None when it is not one."""
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def sessions_live_of(*, user: User, now: datetime | None = None) -> QuerySet[UserSession]:
    """The user's sessions that still count, newest first (ended and expired ones are never shown)."""
    return UserSession.objects.live(now).filter(user=user).order_by("-created_at")


def _django_sessions_delete(keys: list[str]) -> None:
    """Log the browser sessions with these keys out at once, whatever the session engine."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store(session_key=key).delete()


def _sessions_end(sessions: QuerySet[UserSession]) -> int:
    """End every session of `sessions` that is not ended yet; the number ended."""
    live = sessions.filter(ended_at__isnull=True)
    keys = [key for key in live.filter(kind=Kind.BROWSER).values_list("session_key", flat=True) if key]
    ended = live.update(ended_at=timezone.now())
    _django_sessions_delete(keys)
    return ended


def session_end(*, user: User, session_id: object, client: Client) -> None:
    """End one session of the user's (`DELETE /auth/sessions/{id}`); another's or unknown: not_found."""
    parsed = session_id_parse(session_id)
    sessions = sessions_live_of(user=user).filter(pk=parsed) if parsed else UserSession.objects.none()
    session = sessions.first()
    if session is None or not _sessions_end(UserSession.objects.filter(pk=session.pk)):
        raise ServiceError(ErrorCode.NOT_FOUND)
    security_event_record(
        user=user,
        type=SecurityEvent.Type.SESSION_ENDED,
        client=client,
        details={"session": str(session.pk), "kind": session.kind, "device": session.device},
    )


def session_end_quietly(*, session_id: object) -> None:
    """End a session its own holder left (logout, a re-verified browser): the caller records the event."""
    parsed = session_id_parse(session_id)
    if parsed is not None:
        _sessions_end(UserSession.objects.filter(pk=parsed))


def api_session_end_quietly(*, session_id: object) -> None:
    """End an API session its holder logged out of: one UPDATE, as no browser needs logging out."""
    parsed = session_id_parse(session_id)
    if parsed is not None:
        UserSession.objects.filter(pk=parsed, kind=Kind.API, ended_at__isnull=True).update(
            ended_at=timezone.now()
        )


def sessions_end_others(*, user: User, current_id: object, client: Client) -> int:
    """End every session of the user but `current_id` (`DELETE /auth/sessions`)."""
    ended = sessions_end_all(user=user, except_id=current_id)
    if ended:
        security_event_record(
            user=user,
            type=SecurityEvent.Type.SESSION_ENDED,
            client=client,
            details={"sessions": ended, "others": True},
        )
    return ended


def sessions_end_all(*, user: User, except_id: object = None) -> int:
    """End every session of the user (logout-all, password change or reset, block, MFA reset)."""
    sessions = UserSession.objects.filter(user=user)
    parsed = session_id_parse(except_id) if except_id is not None else None
    if parsed is not None:
        sessions = sessions.exclude(pk=parsed)
    return _sessions_end(sessions)


def sessions_purge(*, now: datetime | None = None, keep_ended_for: timedelta = timedelta(0)) -> int:
    """Delete the rows of expired sessions and of sessions ended `keep_ended_for` ago; the number deleted."""
    now = now or timezone.now()
    deleted, _ = UserSession.objects.filter(
        Q(expires_at__lte=now) | Q(ended_at__lte=now - keep_ended_for)
    ).delete()
    return deleted
