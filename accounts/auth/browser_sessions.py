"""Browser sessions: the session row of a page login, kept current by a middleware at most once a minute.

The row knows the Django session key, so that ending it deletes the Django session and the
browser is logged out at its very next request. Every change of the key tells the row at
once (`browser_session_key_cycle`, and the login's `browser_session_start`); a change made
anywhere else is seen by the middleware at the next request, which compares the key with the
one the row was last told (kept in the session: no query while the key stays the same).

Also the pages' two cookies, HttpOnly, SameSite=Lax, Secure when the session cookie is
(production): the trusted-device cookie, read at the next page login, and the long-lived
device cookie by which a browser is known to the users who logged in with it (accounts.auth.new_devices).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.auth.new_devices import COOKIE_MAX_LENGTH, device_cookie_new
from accounts.auth.sessions import session_end_quietly, session_id_parse, session_start
from accounts.core.client import client_from
from accounts.models import User, UserSession

# In the Django session: the id of its row, when the row was last stamped and the key it knows.
BROWSER_SESSION_KEY = "account_session"


def browser_session_current_id(request: HttpRequest) -> str | None:
    """The id of the session row of this browser, if it logged in since sessions exist."""
    marker = request.session.get(BROWSER_SESSION_KEY)
    return marker["id"] if marker else None


def browser_session_start(request: HttpRequest, user: User, *, amr: list[str]) -> UserSession:
    """After `auth_login`: the row of this browser login, under the new Django session key.

    A session re-verified with a second factor logs in again: it gets a fresh key (Django's
    login keeps the key of a session already logged in as the same user), and its old row ends
    with the old key.
    """
    previous = browser_session_current_id(request)
    if previous is not None:
        request.session.cycle_key()
        session_end_quietly(session_id=previous)
    if request.session.session_key is None:
        request.session.save()
    session = session_start(
        user=user,
        kind=UserSession.Kind.BROWSER,
        amr=amr,
        client=client_from(request),
        expires_at=request.session.get_expiry_date(),
        session_key=request.session.session_key,
    )
    request.session[BROWSER_SESSION_KEY] = {
        "id": str(session.pk),
        "touched": timezone.now().timestamp(),
        "key": request.session.session_key,
    }
    return session


def browser_session_touch(request: HttpRequest) -> bool:
    """Stamp this browser's row as used now (and its current Django key); False if the row has ended.

    A browser logged in before sessions existed has no row, and nothing to stamp.
    """
    marker = request.session.get(BROWSER_SESSION_KEY)
    if marker is None:
        return True
    now = timezone.now()
    touched = (
        UserSession.objects.live(now)
        .filter(pk=session_id_parse(marker["id"]))
        .update(last_used_at=now, ip=client_from(request).ip, session_key=request.session.session_key or "")
    )
    request.session[BROWSER_SESSION_KEY] = {
        **marker,
        "touched": now.timestamp(),
        "key": request.session.session_key,
    }
    return bool(touched)


def browser_session_key_cycle(request: HttpRequest) -> bool:
    """A fresh Django session key for this browser, its row told at once; False if the row has ended."""
    request.session.cycle_key()
    return browser_session_touch(request)


def trusted_device_cookie(request: HttpRequest) -> str | None:
    return request.COOKIES.get(settings.TRUSTED_DEVICE_COOKIE_NAME)


def trusted_device_cookie_set(response: HttpResponse, token: str) -> None:
    response.set_cookie(
        settings.TRUSTED_DEVICE_COOKIE_NAME,
        token,
        max_age=settings.TRUSTED_DEVICE_DAYS * 24 * 60 * 60,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def device_cookie_of(request: HttpRequest) -> str:
    """This browser's device cookie, or a new value when it has none (or not one of ours)."""
    value = request.COOKIES.get(settings.DEVICE_COOKIE_NAME, "")
    return value if 0 < len(value) <= COOKIE_MAX_LENGTH else device_cookie_new()


def device_cookie_set(response: HttpResponse, value: str) -> None:
    response.set_cookie(
        settings.DEVICE_COOKIE_NAME,
        value,
        max_age=settings.DEVICE_COOKIE_DAYS * 24 * 60 * 60,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


class BrowserSessionMiddleware:
    """After AuthenticationMiddleware: stamps the browser's session row at most once a minute,
    and at once when the session key is not the one the row knows.

    A row found ended (signed out from elsewhere while this Django session survived, e.g.
    under a key changed since) logs this browser out.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Only browsers with a session cookie: API requests never load a session for this.
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            self._session_check(request)
        return self.get_response(request)

    def _session_check(self, request: HttpRequest) -> None:
        marker = request.session.get(BROWSER_SESSION_KEY)
        if marker is None or not request.user.is_authenticated:
            return
        key_known = marker.get("key") == request.session.session_key
        if (
            key_known
            and timezone.now().timestamp() - marker["touched"] < settings.BROWSER_SESSION_TOUCH_SECONDS
        ):
            return
        if not browser_session_touch(request):
            auth_logout(request)
