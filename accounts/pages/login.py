"""Sign-up, the two-step login and logout pages."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView, View

from accounts import selectors
from accounts.api.throttles import RegisterRateThrottle
from accounts.auth.browser_sessions import (
    browser_session_current_id,
    trusted_device_cookie,
    trusted_device_cookie_set,
)
from accounts.auth.sessions import session_end_quietly
from accounts.auth.trusted_devices import trusted_device_create
from accounts.core.client import client_from
from accounts.core.errors import ServiceError
from accounts.flows import login as login_flows
from accounts.flows import refresh as refresh_flows
from accounts.flows import registration as registration_flows
from accounts.pages.forms import (
    LoginForm,
    SecondFactorForm,
    SignupForm,
    refusal_text,
)
from accounts.pages.framework import (
    PageMixin,
    RateLimitedFormMixin,
    ServiceFormView,
    code_method_chosen,
    code_method_context,
    code_sent_text,
    page_decorators,
    safe_next,
)
from accounts.pages.login_steps import (
    PENDING_LOGIN_SESSION_KEY,
    login_complete,
    pending_login_start,
    pending_login_user,
)
from otp import services as otp_services
from otp.services import Method

# --- sign-up, login, logout -------------------------------------------------------------------


@method_decorator(page_decorators, name="dispatch")
class SignupView(RateLimitedFormMixin, ServiceFormView):
    form_class = SignupForm
    template_name = "account/signup.html"
    throttle_class = RegisterRateThrottle
    success_url = reverse_lazy("account:login")
    success_message = _("Check your inbox: we sent a code to verify your email. Log in to enter it.")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            return redirect("account:security")
        return super().get(request, *args, **kwargs)

    def perform(self, form: SignupForm) -> None:
        registration_flows.user_register(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            client=client_from(self.request),
        )


@method_decorator(page_decorators, name="dispatch")
class LoginView(ServiceFormView):
    form_class = LoginForm
    template_name = "account/login.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            return redirect(safe_next(request) or "account:security")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "next": safe_next(self.request)}

    def perform(self, form: LoginForm) -> HttpResponse:
        user = login_flows.login_password_verify(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            client=client_from(self.request),
        )
        token = trusted_device_cookie(self.request)
        if login_flows.login_trusted_device_use(
            user=user, device_token=token, client=client_from(self.request)
        ):
            return login_complete(
                self.request, user, method=None, next_url=safe_next(self.request), trusted_device=True
            )
        if user.has_second_factor:
            pending_login_start(self.request, user, next_url=safe_next(self.request))
            return redirect("account:login-code")
        return login_complete(self.request, user, method=None, next_url=safe_next(self.request))


@method_decorator(page_decorators, name="dispatch")
class LoginCodeView(ServiceFormView):
    """The second step of a login, and of re-verifying a session before a factor changes."""

    form_class = SecondFactorForm
    template_name = "account/login_code.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.pending_user = pending_login_user(request)
        if self.pending_user is None:
            messages.error(
                request, _("Enter your email and password first. A login not finished in time starts over.")
            )
            return redirect("account:login")
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict[str, Any]:
        method = code_method_chosen(self.request, self.pending_user)
        return {**super().get_form_kwargs(), "method": method}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        method = code_method_chosen(self.request, self.pending_user)
        context.update(
            code_method_context(
                self.request, self.pending_user, method=method, sms_send_url=reverse("account:login-code-sms")
            )
        )
        return context

    def perform(self, form: SecondFactorForm) -> HttpResponse:
        method = login_flows.login_second_factor(
            user=self.pending_user,
            otp=form.cleaned_data["code"],
            otp_method=None,
            client=client_from(self.request),
        )
        next_url = self.request.session.pop(PENDING_LOGIN_SESSION_KEY)["next"]
        response = login_complete(self.request, self.pending_user, method=method, next_url=next_url)
        if form.cleaned_data.get("trust_device") and method is not None:
            trusted = trusted_device_create(user=self.pending_user, client=client_from(self.request))
            trusted_device_cookie_set(response, trusted.token)
        return response


@method_decorator(never_cache, name="dispatch")
class LoginCodeSmsView(View):
    """Text the login code to the verified phone of the user half logged in."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        user = pending_login_user(request)
        if user is None:
            messages.error(
                request, _("Enter your email and password first. A login not finished in time starts over.")
            )
            return redirect("account:login")
        try:
            sent = otp_services.login_sms_code_send(user=user)
        except ServiceError as error:
            messages.error(request, refusal_text(error))
        else:
            messages.success(request, code_sent_text(sent, selectors.phone_masked(user) or "your phone"))
        return redirect(f"{reverse('account:login-code')}?method={Method.SMS}")


@method_decorator(never_cache, name="dispatch")
class LogoutView(PageMixin, TemplateView):
    template_name = "account/logout.html"

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            refresh_flows.session_logout_record(user=request.user, client=client_from(request))
            session_end_quietly(session_id=browser_session_current_id(request))
        auth_logout(request)
        messages.success(request, _("You are logged out."))
        return redirect("account:login")
