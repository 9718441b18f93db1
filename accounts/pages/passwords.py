"""Password pages: change (step-up), reset request and reset confirmation."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.api.throttles import PasswordResetRateThrottle
from accounts.auth.browser_sessions import (
    browser_session_current_id,
    browser_session_touch,
)
from accounts.core.client import client_from
from accounts.flows import passwords as passwords_flows
from accounts.pages.forms import (
    PasswordChangeForm,
    PasswordResetConfirmForm,
    PasswordResetForm,
    wait_text,
)
from accounts.pages.framework import RateLimitedFormMixin, ServiceFormView, StepUpMixin, page_decorators
from accounts.pages.login_steps import verified_session_required

# --- passwords --------------------------------------------------------------------------------


@method_decorator([*page_decorators, verified_session_required], name="dispatch")
class PasswordChangeView(StepUpMixin, ServiceFormView):
    form_class = PasswordChangeForm
    template_name = "account/password_change.html"
    success_message = _("Your password is changed. Everywhere else you need to log in again.")

    def perform(self, form: PasswordChangeForm) -> None:
        user = passwords_flows.password_change(
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
        passwords_flows.password_reset_request(
            email=form.cleaned_data["email"], client=client_from(self.request)
        )
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
        passwords_flows.password_reset_confirm(
            uid=self.kwargs["uidb64"],
            token=self.kwargs["token"],
            new_password=form.cleaned_data["new_password"],
            client=client_from(self.request),
        )
