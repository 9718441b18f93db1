"""Account pages for the account's life: change the email, download your data, close the account.

Thin like every page: a form, one service (the API's), a message and a redirect.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.generic import View

from accounts.auth.browser_sessions import browser_session_current_id, browser_session_touch
from accounts.core.client import client_from
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.input_limits import EMAIL_MAX_LENGTH
from accounts.flows import closing, data_export, email_change
from accounts.models import email_obfuscate
from accounts.pages.forms import CodeForm, StepUpForm, password_field
from accounts.pages.framework import ServiceFormView, StepUpMixin, code_sent_text, page_decorators
from accounts.pages.login_steps import account_session_required, verified_session_required
from otp.services import Channel, CodeSent


class PasswordConfirmedForm(StepUpForm):
    """A sensitive change confirmed with the password (and a step-up code when a factor is verified)."""

    password = password_field(label=_("Your password"), autocomplete="current-password")

    def add_service_error(self, error: ServiceError) -> None:
        if error.code == ErrorCode.AUTHENTICATION_FAILED:
            self.add_error("password", _("The password is not correct."))
            return
        super().add_service_error(error)


class EmailChangeForm(PasswordConfirmedForm):
    new_email = forms.EmailField(
        label=_("New email"),
        max_length=EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    field_order = ["new_email", "password", "otp"]
    service_fields = {"newEmail": "new_email"}


class AccountCloseForm(PasswordConfirmedForm):
    confirm = forms.BooleanField(
        label=_("I understand: every session ends now, and the account is deleted for good later."),
    )


@method_decorator([*page_decorators, verified_session_required], name="dispatch")
class EmailChangeView(StepUpMixin, ServiceFormView):
    form_class = EmailChangeForm
    template_name = "account/email_change.html"
    success_url = reverse_lazy("account:email-change-confirm")

    def perform(self, form: EmailChangeForm) -> None:
        user = email_change.email_change_request(
            user=self.request.user,
            new_email=form.cleaned_data["new_email"],
            password=form.cleaned_data["password"],
            otp=form.otp,
            client=client_from(self.request),
        )
        # The same words whether or not the address has an account: no enumeration.
        sent = CodeSent(channel=Channel.EMAIL, valid_until=user.pending_email_until, validated=False)
        messages.success(self.request, code_sent_text(sent, email_obfuscate(user.pending_email)))


@method_decorator([*page_decorators, account_session_required], name="dispatch")
class EmailChangeConfirmView(ServiceFormView):
    form_class = CodeForm
    template_name = "account/email_change_confirm.html"
    success_message = _("Your email is changed. Everywhere else you need to log in again.")

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not request.user.email_change_pending():
            messages.info(request, _("No change of email is pending."))
            return redirect("account:security")
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "label": _("Code sent to the new address")}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["pending_email"] = email_obfuscate(self.request.user.pending_email)
        return context

    def perform(self, form: CodeForm) -> None:
        user = email_change.email_change_confirm(
            user=self.request.user,
            code=form.cleaned_data["code"],
            client=client_from(self.request),
            keep_session=browser_session_current_id(self.request),
        )
        # This session stays (as after a password change); every other one has ended.
        update_session_auth_hash(self.request, user)
        browser_session_touch(self.request)


@method_decorator([never_cache, account_session_required], name="dispatch")
class EmailChangeCancelView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        if email_change.email_change_cancel(user=request.user, client=client_from(request), missing_ok=True):
            messages.success(request, _("The change of email is cancelled."))
        return redirect("account:security")


@method_decorator([*page_decorators, verified_session_required], name="dispatch")
class DataExportView(StepUpMixin, ServiceFormView):
    form_class = StepUpForm
    template_name = "account/data_export.html"

    def perform(self, form: StepUpForm) -> HttpResponse:
        document = data_export.account_data_export(
            user=self.request.user, otp=form.otp, client=client_from(self.request)
        )
        filename = data_export.account_data_export_filename(self.request.user)
        return HttpResponse(
            data_export.account_data_json(document),
            content_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


@method_decorator([*page_decorators, verified_session_required], name="dispatch")
class AccountCloseView(StepUpMixin, ServiceFormView):
    form_class = AccountCloseForm
    template_name = "account/account_close.html"
    success_url = reverse_lazy("account:login")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {
            **super().get_context_data(**kwargs),
            "retention_days": settings.ACCOUNT_CLOSED_RETENTION_DAYS,
        }

    def perform(self, form: AccountCloseForm) -> None:
        closing.account_close(
            user=self.request.user,
            password=form.cleaned_data["password"],
            otp=form.otp,
            client=client_from(self.request),
        )
        auth_logout(self.request)
        messages.success(self.request, _("Your account is closed. We sent you an email about it."))
