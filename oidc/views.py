"""The OpenID Connect endpoints: django-oauth-toolkit's views, wired to this service's login and sessions.

- Authorization: a user not logged in goes through the account pages (password, second step,
  passkeys, trusted browsers) and comes back; an account with a second factor must have passed
  it in this browser session; an account the one account-state rule refuses is logged out
  here. `prompt=login` and `max_age` log the browser out for a fresh login, `prompt=none`
  answers `login_required` / `consent_required` to the redirect URI. Then the consent page,
  unless the application skips it or the user already allowed the same scopes.
- Token: one transaction, so the grant's session row and its tokens are written together.
- RP-initiated logout: ends the browser session and the session of the id_token's grant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.generic import View
from oauth2_provider import views as oauth2_views
from oauth2_provider.exceptions import OAuthToolkitError

from accounts.auth.browser_sessions import browser_session_current_id
from accounts.auth.sessions import session_end_quietly, session_id_parse
from accounts.core.account_state import account_refusal
from accounts.core.client import client_from
from accounts.core.errors import ServiceError
from accounts.flows import refresh as account_logout
from accounts.models import User, UserSession
from accounts.pages.forms import refusal_text
from accounts.pages.framework import PageMixin
from accounts.pages.login_steps import account_session_required, pending_login_start
from oidc import services
from oidc.models import Application, IDToken
from oidc.scopes import scope_texts

# An `amr` with one of these passed a second factor (a trusted browser counts, as at login).
SECOND_FACTOR_AMR = frozenset({"otp", "pop", "mfa", "trusted_device"})


@dataclass(frozen=True)
class BrowserLogin:
    """How this browser signed in: its session row, the factors used and when."""

    session_id: str
    amr: list[str]
    auth_time: datetime


def browser_login_of(request: HttpRequest) -> BrowserLogin | None:
    """The live session row of this logged-in browser; None before sessions existed or once it ended."""
    session_id = session_id_parse(browser_session_current_id(request))
    if session_id is None or not request.user.is_authenticated:
        return None
    session = UserSession.objects.filter(
        pk=session_id, user=request.user, kind=UserSession.Kind.BROWSER, ended_at__isnull=True
    ).first()
    if session is None or not session.is_live():
        return None
    return BrowserLogin(session_id=str(session.pk), amr=list(session.amr), auth_time=session.created_at)


def second_factor_passed(user: User, login: BrowserLogin) -> bool:
    return not user.has_second_factor or bool(SECOND_FACTOR_AMR & set(login.amr))


def browser_logout(request: HttpRequest) -> None:
    """Log this browser out and end its session row."""
    session_end_quietly(session_id=browser_session_current_id(request))
    auth_logout(request)


def _max_age_passed(request: HttpRequest, login: BrowserLogin) -> bool:
    try:
        max_age = int(request.GET["max_age"])
    except (KeyError, ValueError):
        return False
    return (timezone.now() - login.auth_time).total_seconds() > max_age


def _query_without_fresh_login(request: HttpRequest) -> str:
    """This authorization request without what asked for a fresh login, for after that login."""
    query = request.GET.copy()
    query.pop("max_age", None)
    prompt = [value for value in query.get("prompt", "").split() if value != "login"]
    if prompt:
        query["prompt"] = " ".join(prompt)
    else:
        query.pop("prompt", None)
    return f"{request.path}?{query.urlencode()}"


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


@method_decorator(never_cache, name="dispatch")
class AuthorizationView(PageMixin, oauth2_views.AuthorizationView):
    template_name = "oidc/consent.html"

    def get_login_url(self) -> str:
        return reverse("account:login")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        application = Application.objects.get(client_id=credentials["client_id"])
        if credentials.get("code_challenge_method", "S256") != "S256":
            return self._error_redirect("invalid_request", credentials, application)
        prompt = set(request.GET.get("prompt", "").split())
        refused = self._browser_refusal(request, prompt=prompt, next_url=_query_without_fresh_login(request))
        if refused is not None:
            return (
                self._error_redirect("login_required", credentials, application)
                if "none" in prompt
                else refused
            )
        self.browser_login = browser_login_of(request)
        consent_known = services.consent_covers(user=request.user, application=application, scopes=scopes)
        if application.skip_authorization or (consent_known and "consent" not in prompt):
            return self._code_issue(application, scopes=scopes, credentials=credentials)
        if "none" in prompt:
            return self._error_redirect("consent_required", credentials, application)
        response = super().get(request, *args, **kwargs)
        # The form's answer is a redirect to the application: browsers hold it to `form-action`.
        response._csp_update = {"form-action": [_origin(credentials["redirect_uri"])]}
        return response

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        fields = {name: request.POST.get(name, "") for name in self.get_form_class().base_fields}
        fields.pop("allow", None)
        next_url = f"{request.path}?{urlencode({name: value for name, value in fields.items() if value})}"
        refused = self._browser_refusal(request, prompt=set(), next_url=next_url)
        if refused is not None:
            return refused
        self.browser_login = browser_login_of(request)
        return super().post(request, *args, **kwargs)

    def _browser_refusal(
        self, request: HttpRequest, *, prompt: set[str], next_url: str
    ) -> HttpResponse | None:
        """Where to send a browser that may not authorize yet; None when it may.

        Not logged in, or a fresh login asked for: the login page. An account refused by the
        account-state rule: logged out, the login page says why. A second factor not passed
        in this session: the second step.
        """
        user = request.user
        refusal = account_refusal(user)
        if refusal is not None:
            browser_logout(request)
            messages.error(request, refusal_text(refusal))
            return redirect_to_login(next_url, self.get_login_url())
        login = browser_login_of(request)
        if login is None or "login" in prompt or _max_age_passed(request, login):
            browser_logout(request)
            return redirect_to_login(next_url, self.get_login_url())
        if not second_factor_passed(user, login):
            if "none" in prompt:
                return redirect_to_login(next_url, self.get_login_url())
            pending_login_start(request, user, next_url=next_url)
            messages.info(request, _("Confirm it is you with your second factor to continue."))
            return redirect("account:login-code")
        return None

    def _error_redirect(self, error: str, credentials: dict, application: Application) -> HttpResponse:
        """An error for the application at its (validated) redirect URI, with its `state`."""
        parameters = {"error": error}
        if credentials.get("state"):
            parameters["state"] = credentials["state"]
        separator = "&" if "?" in credentials["redirect_uri"] else "?"
        return self.redirect(credentials["redirect_uri"] + separator + urlencode(parameters), application)

    def _code_issue(self, application: Application, *, scopes: list[str], credentials: dict) -> HttpResponse:
        try:
            uri, _headers, _body, _status = self.create_authorization_response(
                request=self.request, scopes=" ".join(scopes), credentials=credentials, allow=True
            )
        except OAuthToolkitError as error:
            return self.error_response(error, application)
        return self.redirect(uri, application)

    def create_authorization_response(
        self, request: HttpRequest, scopes: str, credentials: dict, allow: bool
    ) -> tuple:
        """The code, then the consent remembered: only a request the library accepted is remembered."""
        if allow:
            credentials = {**credentials, "browser_login": self.browser_login}
        result = super().create_authorization_response(request, scopes, credentials, allow)
        application = Application.objects.get(client_id=credentials["client_id"])
        if getattr(self, "consent_given", False):
            services.consent_grant(
                user=request.user, application=application, scopes=scopes.split(), client=client_from(request)
            )
        else:
            services.consent_use(user=request.user, application=application, scopes=scopes.split())
        return result

    def form_valid(self, form: Any) -> HttpResponse:
        self.consent_given = bool(form.cleaned_data.get("allow"))
        return super().form_valid(form)

    def handle_no_permission(self) -> HttpResponse:
        """Not logged in: DOT's answer to `prompt=none`; otherwise the login page, then back here."""
        if "none" in self.request.GET.get("prompt", "").split() or self.request.method != "GET":
            return super().handle_no_permission()
        return redirect_to_login(_query_without_fresh_login(self.request), self.get_login_url())

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["scope_texts"] = scope_texts(context.get("scopes") or [])
        return context


@method_decorator(transaction.atomic, name="post")
class TokenView(oauth2_views.TokenView):
    """The code exchange and refresh: the grant's session row and its tokens in one transaction."""


class RevokeTokenView(oauth2_views.RevokeTokenView):
    pass


class UserInfoView(oauth2_views.UserInfoView):
    pass


@method_decorator(never_cache, name="dispatch")
class LogoutView(PageMixin, oauth2_views.RPInitiatedLogoutView):
    """RP-initiated logout: this browser is logged out, and the grant its id_token_hint names ends."""

    template_name = "oidc/logout_confirm.html"

    def validate_logout_request_user(
        self, id_token_hint: str | None, client_id: str | None
    ) -> IDToken | None:
        self.hinted_id_token = super().validate_logout_request_user(id_token_hint, client_id)
        return self.hinted_id_token

    def do_logout(
        self,
        application: Application | None = None,
        post_logout_redirect_uri: str | None = None,
        state: str | None = None,
        token_user: User | None = None,
    ) -> HttpResponse:
        hinted = getattr(self, "hinted_id_token", None)
        if hinted is not None and hinted.session_id is not None:
            session_end_quietly(session_id=hinted.session_id)
        if self.request.user.is_authenticated:
            account_logout.session_logout_record(user=self.request.user, client=client_from(self.request))
            session_end_quietly(session_id=browser_session_current_id(self.request))
        return super().do_logout(application, post_logout_redirect_uri, state, token_user)


@method_decorator([never_cache, account_session_required], name="dispatch")
class ConnectedAppRemoveView(View):
    """ "Remove access" on the security page."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, consent_id: str) -> HttpResponse:
        try:
            services.app_access_remove(user=request.user, consent_id=consent_id, client=client_from(request))
        except ServiceError as error:
            messages.error(request, refusal_text(error))
        else:
            messages.success(request, _("The application no longer has access to your account."))
        return redirect("account:security")
