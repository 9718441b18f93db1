"""The steps of a page login kept in the session: the pending user, the second step, the verified session."""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp import login as otp_login

from accounts import selectors
from accounts.auth.browser_sessions import (
    browser_session_key_cycle,
    browser_session_start,
    device_cookie_of,
    device_cookie_set,
)
from accounts.core.account_state import account_status_check
from accounts.core.client import client_from
from accounts.core.errors import ServiceError
from accounts.flows import login as login_flows
from accounts.models import User
from accounts.pages.forms import (
    refusal_text,
)
from accounts.pages.framework import ViewFunction
from otp.services import Method

PENDING_LOGIN_SESSION_KEY = "account_pending_login"


def pending_login_start(request: HttpRequest, user: User, *, next_url: str) -> None:
    """The password step passed (or a session must be verified again): remember who is half
    logged in, under a fresh session key that the browser's session row follows.

    A logged-in session whose row has ended meanwhile is logged out instead: nothing to verify.
    """
    if not browser_session_key_cycle(request):
        auth_logout(request)
        return
    request.session[PENDING_LOGIN_SESSION_KEY] = {
        "user": user.pk,
        "started": timezone.now().timestamp(),
        "next": next_url,
    }


def pending_login_user(request: HttpRequest) -> User | None:
    """The user between the password and the second factor, if that step has not timed out."""
    pending = request.session.get(PENDING_LOGIN_SESSION_KEY)
    if pending is None:
        return None
    if timezone.now().timestamp() - pending["started"] > settings.LOGIN_SECOND_STEP_SECONDS:
        del request.session[PENDING_LOGIN_SESSION_KEY]
        return None
    return User.objects.filter(pk=pending["user"]).first()


def session_verify_with(request: HttpRequest, method: Method) -> None:
    """Mark the session verified by the device behind `method` (django-otp's `is_verified()`)."""
    device = selectors.second_factor_device(request.user, method)
    if device is not None:
        otp_login(request, device)


def login_complete(
    request: HttpRequest,
    user: User,
    *,
    method: Method | None,
    next_url: str,
    trusted_device: bool = False,
    passwordless: bool = False,
) -> HttpResponse:
    """Both steps passed (or a passkey alone): record the login, open a fresh session, verified by
    the factor used. A login on a trusted device is not verified: changing a factor still asks
    for a code. The browser keeps (or gets) its device cookie, so it is known next time."""
    device_cookie = device_cookie_of(request)
    # One transaction with the session, as every login (accounts.flows.login.login_record).
    with transaction.atomic():
        amr = login_flows.login_record(
            user=user,
            method=method,
            client=client_from(request),
            trusted_device=trusted_device,
            passwordless=passwordless,
            device_cookie=device_cookie,
        )
        auth_login(request, user)
        if method is not None:
            session_verify_with(request, method)
        browser_session_start(request, user, amr=amr)
    if not next_url and not user.email_verified:
        response = redirect("account:email-verify")
    else:
        response = redirect(next_url or "account:security")
    device_cookie_set(response, device_cookie)
    return response


def account_session_required(view: ViewFunction) -> ViewFunction:
    """A logged-in, ACTIVE account. A session of a BLOCKED, FROZEN or LOCKED one ends here."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            account_status_check(request.user)
        except ServiceError as refusal:
            auth_logout(request)
            messages.error(request, refusal_text(refusal))
            return redirect("account:login")
        return view(request, *args, **kwargs)

    return wrapper


def verified_session_required(view: ViewFunction) -> ViewFunction:
    """Pages that change factors: a user with a verified factor must have passed it in this session."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.has_second_factor and not request.user.is_verified():
            pending_login_start(request, request.user, next_url=request.get_full_path())
            messages.info(request, _("Confirm it is you with your second factor to continue."))
            return redirect("account:login-code")
        return view(request, *args, **kwargs)

    return account_session_required(wrapper)
