"""The security page, the language, and email verification."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView, View

from accounts import selectors
from accounts.auth.browser_sessions import (
    browser_session_current_id,
    trusted_device_cookie,
)
from accounts.core.client import client_from
from accounts.core.errors import ServiceError
from accounts.flows import registration as registration_flows
from accounts.pages.forms import (
    CodeForm,
    refusal_text,
)
from accounts.pages.framework import PageMixin, ServiceFormView, code_sent_text, page_decorators, safe_next
from accounts.pages.login_steps import account_session_required
from otp import services as otp_services
from otp.services import Channel


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
            registration_flows.user_language_set(user=request.user, language=language)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=365 * 24 * 60 * 60,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
        return response


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
