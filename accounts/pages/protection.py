"""Account protection pages: the freeze link, "Freeze my account", and the anti-phishing code.

The freeze link works without a login. Opening it (GET) only shows what its button would do,
because mail scanners open links; the button (POST) freezes. A used, expired or altered link
gets a page that says which, and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from accounts.api.serializers import email_obfuscate
from accounts.core.client import client_from
from accounts.core.freeze_links import FreezeLink, FreezeLinkState, freeze_link_read
from accounts.flows.anti_phishing import anti_phishing_code_remove, anti_phishing_code_set
from accounts.flows.freezing import FreezeMethod, account_freeze, account_freeze_by_link
from accounts.pages.forms import AntiPhishingCodeForm, ConfirmForm, StepUpForm
from accounts.pages.framework import PageMixin, ServiceFormView, StepUpMixin, page_decorators
from accounts.pages.login_steps import account_session_required, verified_session_required

# The answer's status for each state of a link: the confirmation page, or why it does nothing.
LINK_STATUS = {
    FreezeLinkState.VALID: 200,
    FreezeLinkState.USED: 410,
    FreezeLinkState.EXPIRED: 410,
    FreezeLinkState.INVALID: 400,
}


def _account_frozen_leave(request: HttpRequest) -> HttpResponse:
    """This browser's session ended with the others: log it out and say what comes next."""
    auth_logout(request)
    messages.success(
        request,
        gettext("Your account is frozen: every session is signed out. To use it again, reset your password."),
    )
    return redirect("account:login")


@method_decorator(page_decorators, name="dispatch")
class FreezeLinkView(PageMixin, TemplateView):
    """`/account/freeze/<token>/` from a security email: GET asks, POST freezes."""

    template_name = "account/freeze_link.html"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        return self._page(request, freeze_link_read(token), token=token)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        link = account_freeze_by_link(token=token, client=client_from(request))
        if link.state != FreezeLinkState.VALID:
            return self._page(request, link, token=token)
        if request.user.is_authenticated and request.user.pk == getattr(link.user, "pk", None):
            auth_logout(request)
        return self._page(request, link, token=token, frozen=True)

    def _page(
        self, request: HttpRequest, link: FreezeLink, *, token: str, frozen: bool = False
    ) -> HttpResponse:
        context = self.get_context_data(
            state=str(link.state),
            frozen=frozen,
            token=token,
            email=email_obfuscate(link.user.email) if link.user is not None else "",
        )
        return TemplateResponse(request, self.template_name, context, status=LINK_STATUS[link.state])


@method_decorator([*page_decorators, account_session_required], name="dispatch")
class AccountFreezeView(ServiceFormView):
    """ "Freeze my account" on the security page, after a confirmation step (no code: it only protects)."""

    form_class = ConfirmForm
    template_name = "account/freeze.html"

    def perform(self, form: ConfirmForm) -> HttpResponse:
        account_freeze(user=self.request.user, how=FreezeMethod.PAGE, client=client_from(self.request))
        return _account_frozen_leave(self.request)


@method_decorator([*page_decorators, verified_session_required], name="dispatch")
class AntiPhishingCodeView(StepUpMixin, ServiceFormView):
    form_class = AntiPhishingCodeForm
    template_name = "account/anti_phishing_code.html"
    success_message = _("Your anti-phishing code is saved. Every email we send you shows it at the top.")

    def perform(self, form: AntiPhishingCodeForm) -> None:
        anti_phishing_code_set(
            user=self.request.user,
            code=form.cleaned_data["anti_phishing_code"],
            otp=form.otp,
            client=client_from(self.request),
        )


@method_decorator([*page_decorators, verified_session_required], name="dispatch")
class AntiPhishingCodeRemoveView(StepUpMixin, ServiceFormView):
    form_class = StepUpForm
    template_name = "account/anti_phishing_code_remove.html"
    success_message = _("Your anti-phishing code is removed: our emails no longer show one.")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.anti_phishing_code:
            messages.info(request, gettext("You have no anti-phishing code."))
            return redirect("account:security")
        return super().get(request, *args, **kwargs)

    def perform(self, form: StepUpForm) -> None:
        anti_phishing_code_remove(user=self.request.user, otp=form.otp, client=client_from(self.request))
