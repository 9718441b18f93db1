"""The page that cancels a reset of the second factors scheduled by support (step-up as everywhere)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.core.client import client_from
from accounts.flows.mfa_resets import mfa_reset_cancel_by_owner
from accounts.pages.forms import StepUpForm
from accounts.pages.framework import ServiceFormView, StepUpMixin, page_decorators
from accounts.pages.login_steps import verified_session_required


@method_decorator([*page_decorators, verified_session_required], name="dispatch")
class MfaResetCancelView(StepUpMixin, ServiceFormView):
    form_class = StepUpForm
    template_name = "account/mfa_reset_cancel.html"
    success_message = _("The reset is cancelled: your second factors stay as they are.")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.mfa_reset_due_at is None:
            messages.info(request, gettext("No reset of your second factors is scheduled."))
            return redirect("account:security")
        return super().get(request, *args, **kwargs)

    def perform(self, form: StepUpForm) -> None:
        mfa_reset_cancel_by_owner(user=self.request.user, otp=form.otp, client=client_from(self.request))
