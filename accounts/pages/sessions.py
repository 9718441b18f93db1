"""Pages of sessions and trusted devices: sign out one session or all others, stop trusting a device."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.decorators import method_decorator
from django.utils.translation import gettext, ngettext
from django.views.decorators.cache import never_cache
from django.views.generic import View

from accounts.auth import sessions, trusted_devices
from accounts.auth.browser_sessions import browser_session_current_id
from accounts.core.client import client_from
from accounts.core.errors import ServiceError
from accounts.pages.forms import refusal_text
from accounts.pages.login_steps import account_session_required


@method_decorator([never_cache, account_session_required], name="dispatch")
class SessionEndView(View):
    """ "Sign out" on one session of the security page (this one included)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, session_id: str) -> HttpResponse:
        this_one = session_id == browser_session_current_id(request)
        try:
            sessions.session_end(user=request.user, session_id=session_id, client=client_from(request))
        except ServiceError as error:
            messages.error(request, refusal_text(error))
            return redirect("account:security")
        if this_one:
            return redirect("account:login")
        messages.success(request, gettext("That session is signed out."))
        return redirect("account:security")


@method_decorator([never_cache, account_session_required], name="dispatch")
class SessionsEndOthersView(View):
    """ "Sign out everywhere else": every session but this browser's."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        ended = sessions.sessions_end_others(
            user=request.user, current_id=browser_session_current_id(request), client=client_from(request)
        )
        messages.success(
            request,
            ngettext(
                "Signed out of %(count)d other session.", "Signed out of %(count)d other sessions.", ended
            )
            % {"count": ended},
        )
        return redirect("account:security")


@method_decorator([never_cache, account_session_required], name="dispatch")
class TrustedDeviceRemoveView(View):
    """ "Remove" on a trusted device: the next login there asks for the second factor again."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, device_id: str) -> HttpResponse:
        try:
            trusted_devices.trusted_device_remove(
                user=request.user, device_id=device_id, client=client_from(request)
            )
        except ServiceError as error:
            messages.error(request, refusal_text(error))
        else:
            messages.success(
                request, gettext("That device is no longer trusted: it will ask for your code again.")
            )
        return redirect("account:security")
