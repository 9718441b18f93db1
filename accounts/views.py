"""Account pages: sign-up, two-step login, logout, email verification, the security page, passwords.

Views are thin: a form is validated, one service does the work, then a message and a
redirect; a refusal shows the service's reason on the form. The pages and the API share
every rule (throttles, step-up, notifications, events) because they call the same services.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView, TemplateView, View
from django_otp import login as otp_login
from rest_framework.throttling import SimpleRateThrottle

from otp import services as otp_services
from otp.services import Channel, CodeSent, Method

from . import selectors, services
from .browser_sessions import (
    browser_session_current_id,
    browser_session_start,
    browser_session_touch,
    device_cookie_of,
    device_cookie_set,
    trusted_device_cookie,
    trusted_device_cookie_set,
)
from .client import client_from
from .errors import ServiceError
from .forms import (
    CodeForm,
    LoginForm,
    PageForm,
    PasswordChangeForm,
    PasswordResetConfirmForm,
    PasswordResetForm,
    SecondFactorForm,
    SignupForm,
    refusal_text,
    wait_text,
)
from .models import User
from .sessions import session_end_quietly
from .throttles import PasswordResetRateThrottle, RegisterRateThrottle
from .trusted_devices import trusted_device_create

PENDING_LOGIN_SESSION_KEY = "account_pending_login"
# Every page may show account data or take a secret: none is cached, every POST parameter is hidden
# from error reports.
page_decorators = [never_cache, sensitive_post_parameters()]

ViewFunction = Callable[..., HttpResponse]

# --- helpers shared by the account and factor pages ------------------------------------------


def safe_next(request: HttpRequest) -> str:
    """The `next` URL of the request when it stays on this site, else an empty string."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else ""


def code_sent_text(sent: CodeSent, destination: str) -> str:
    valid_for = math.ceil((sent.valid_until - timezone.now()).total_seconds())
    return gettext("We sent a code to %(destination)s. It works for %(wait)s.") % {
        "destination": destination,
        "wait": wait_text(valid_for),
    }


def pending_login_start(request: HttpRequest, user: User, *, next_url: str) -> None:
    """The password step passed: remember who is half logged in, under a fresh session key."""
    request.session.cycle_key()
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
    # One transaction with the session, as every login (services.login_record).
    with transaction.atomic():
        amr = services.login_record(
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
            services.account_status_check(request.user)
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


def code_method_chosen(request: HttpRequest, user: User) -> Method:
    """The factor whose code a form asks for: `?method=` if the user has it, else the first (TOTP)."""
    methods = otp_services.second_factor_methods(user)
    requested = request.GET.get("method")
    if requested in methods:
        return Method(requested)
    return methods[0] if methods else Method.TOTP


def code_method_context(request: HttpRequest, user: User, *, method: Method, sms_send_url: str) -> dict:
    """For `account/_code_methods.html`: the other factors to switch to, and where to ask for an SMS."""
    return {
        "code_method": method,
        "other_methods": [other for other in otp_services.second_factor_methods(user) if other != method],
        "phone": selectors.phone_masked(user),
        "sms_send_url": sms_send_url,
    }


class PageMixin:
    """What every page's template needs besides its own context."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["service_name"] = settings.SERVICE_NAME
        return context


class ServiceFormView(PageMixin, FormView):
    """Validate the form, let `perform` make the page's one service call, then message and redirect.

    A `ServiceError` is shown on the form, answered with the error's status (and
    `Retry-After` for throttles), as the API would answer it.
    """

    success_url = reverse_lazy("account:security")
    success_message = ""

    def perform(self, form: PageForm) -> HttpResponse | None:
        """Call the service; return a response to override the redirect to `success_url`."""
        raise NotImplementedError

    def form_valid(self, form: PageForm) -> HttpResponse:
        try:
            response = self.perform(form)
        except ServiceError as error:
            form.add_service_error(error)
            return self.refusal_response(form, status=error.status, retry_after=error.retry_after)
        if self.success_message:
            messages.success(self.request, self.success_message)
        return response or HttpResponseRedirect(self.get_success_url())

    def refusal_response(self, form: PageForm, *, status: int, retry_after: int | None) -> HttpResponse:
        response = self.form_invalid(form)
        response.status_code = status
        if retry_after:
            response["Retry-After"] = str(retry_after)
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["form"].focus()
        return context


class StepUpMixin:
    """Forms that carry a step-up code (the API's `x-otp`) from the factor picked with `?method=`."""

    def code_method(self) -> Method:
        return code_method_chosen(self.request, self.request.user)

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "user": self.request.user, "method": self.code_method()}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if self.request.user.has_second_factor:
            send_url = f"{reverse('account:phone-code')}?next={self.request.get_full_path()}"
            context.update(
                code_method_context(
                    self.request, self.request.user, method=self.code_method(), sms_send_url=send_url
                )
            )
        return context


class RateLimitedFormMixin:
    """Sign-up and password reset share the API's per-IP budget: its throttle, the same cache keys."""

    throttle_class: type[SimpleRateThrottle]

    def form_valid(self, form: PageForm) -> HttpResponse:
        throttle = self.throttle_class()
        if not throttle.allow_request(self.request, None):
            wait = math.ceil(throttle.wait() or 60)
            form.add_error(
                None,
                gettext("Too many requests from your network. Try again in %(wait)s.")
                % {"wait": wait_text(wait)},
            )
            return self.refusal_response(form, status=429, retry_after=wait)
        return super().form_valid(form)


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
        services.user_register(
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
        user = services.login_password_verify(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            client=client_from(self.request),
        )
        token = trusted_device_cookie(self.request)
        if services.login_trusted_device_use(user=user, device_token=token, client=client_from(self.request)):
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
        method = services.login_second_factor(
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
class LanguageView(View):
    """The language menu: the pages' language (a cookie), and for a logged-in user the language
    of what is sent to them too (notifications, support actions)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        language = request.POST.get("language", "")
        response = redirect(safe_next(request) or "account:security")
        if language not in dict(settings.LANGUAGES):
            return response
        if request.user.is_authenticated:
            services.user_language_set(user=request.user, language=language)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=365 * 24 * 60 * 60,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
        return response


@method_decorator(never_cache, name="dispatch")
class LogoutView(PageMixin, TemplateView):
    template_name = "account/logout.html"

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            services.session_logout_record(user=request.user, client=client_from(request))
            session_end_quietly(session_id=browser_session_current_id(request))
        auth_logout(request)
        messages.success(request, _("You are logged out."))
        return redirect("account:login")


# --- the security page and the email ---------------------------------------------------------


@method_decorator([never_cache, account_session_required], name="dispatch")
class SecurityView(PageMixin, TemplateView):
    template_name = "account/security.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["summary"] = selectors.security_summary(
            self.request.user,
            current_session_id=browser_session_current_id(self.request),
            current_device_token=trusted_device_cookie(self.request),
        )
        return context


@method_decorator([*page_decorators, account_session_required], name="dispatch")
class EmailVerifyView(ServiceFormView):
    form_class = CodeForm
    template_name = "account/email_verify.html"
    success_message = _("Your email is verified.")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.email_verified:
            messages.info(request, _("Your email is already verified."))
            return redirect("account:security")
        return super().get(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "label": _("Code from the email")}

    def perform(self, form: CodeForm) -> None:
        otp_services.channel_confirm(
            user=self.request.user,
            channel=Channel.EMAIL,
            code=form.cleaned_data["code"],
            client=client_from(self.request),
        )


@method_decorator([never_cache, account_session_required], name="dispatch")
class EmailCodeSendView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            sent = otp_services.email_verification_code_send(user=request.user)
        except ServiceError as error:
            messages.error(request, refusal_text(error))
        else:
            messages.success(request, code_sent_text(sent, request.user.email))
        return redirect("account:email-verify")


# --- passwords --------------------------------------------------------------------------------


@method_decorator([*page_decorators, verified_session_required], name="dispatch")
class PasswordChangeView(StepUpMixin, ServiceFormView):
    form_class = PasswordChangeForm
    template_name = "account/password_change.html"
    success_message = _("Your password is changed. Everywhere else you need to log in again.")

    def perform(self, form: PasswordChangeForm) -> None:
        user = services.password_change(
            user=self.request.user,
            current_password=form.cleaned_data["current_password"],
            new_password=form.cleaned_data["new_password"],
            otp=form.otp,
            client=client_from(self.request),
            keep_session=browser_session_current_id(self.request),
        )
        # This session stays (under a new key, which its row follows); every other one has ended.
        update_session_auth_hash(self.request, user)
        browser_session_touch(self.request)


@method_decorator(page_decorators, name="dispatch")
class PasswordResetView(RateLimitedFormMixin, ServiceFormView):
    form_class = PasswordResetForm
    template_name = "account/password_reset.html"
    throttle_class = PasswordResetRateThrottle
    success_url = reverse_lazy("account:login")

    def perform(self, form: PasswordResetForm) -> None:
        services.password_reset_request(email=form.cleaned_data["email"], client=client_from(self.request))
        minutes = settings.PASSWORD_RESET_TIMEOUT // 60
        messages.success(
            self.request,
            gettext(
                "If an account has this email, we sent it a link to choose a new password. "
                "The link works once, for %(wait)s."
            )
            % {"wait": wait_text(minutes * 60)},
        )


@method_decorator(page_decorators, name="dispatch")
class PasswordResetConfirmView(ServiceFormView):
    form_class = PasswordResetConfirmForm
    template_name = "account/password_reset_confirm.html"
    success_url = reverse_lazy("account:login")
    success_message = _("Your password is reset. Log in with it.")

    def perform(self, form: PasswordResetConfirmForm) -> None:
        services.password_reset_confirm(
            uid=self.kwargs["uidb64"],
            token=self.kwargs["token"],
            new_password=form.cleaned_data["new_password"],
            client=client_from(self.request),
        )
