"""The pages that cancel a reset of the second factors scheduled by support.

Logged in, with step-up as everywhere (`MfaResetCancelView`); or from the email's link, without
a login (`MfaResetCancelLinkView`): opening it shows a confirmation and changes nothing (mail
scanners open links), its button cancels.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View

from accounts.core.client import client_from
from accounts.core.errors import ServiceError
from accounts.flows.mfa_resets import (
    mfa_reset_cancel_by_link,
    mfa_reset_cancel_by_owner,
    mfa_reset_of_cancel_link,
)
from accounts.pages.forms import StepUpForm, refusal_text
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


@method_decorator(page_decorators, name="dispatch")
class MfaResetCancelLinkView(View):
    """`/account/mfa-reset/cancel/<token>/`, the "This wasn't me" link of the scheduling email."""

    template_name = "account/mfa_reset_cancel_link.html"

    def _page(self, request: HttpRequest, *, status: int = 200, **context: Any) -> HttpResponse:
        return TemplateResponse(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            reset = mfa_reset_of_cancel_link(token=token)
        except ServiceError as refusal:
            return self._page(request, status=refusal.status, refusal=refusal_text(refusal))
        return self._page(request, due_at=reset.due_at)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            mfa_reset_cancel_by_link(token=token, client=client_from(request))
        except ServiceError as refusal:
            return self._page(request, status=refusal.status, refusal=refusal_text(refusal))
        return self._page(request, cancelled=True)
