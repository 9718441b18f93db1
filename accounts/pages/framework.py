"""The page kit every account and factor page uses: form views calling one service, step-up, rate limits, safe redirects."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView
from rest_framework.throttling import SimpleRateThrottle

from accounts import selectors
from accounts.core.errors import ServiceError
from accounts.models import User
from accounts.pages.forms import (
    PageForm,
    wait_text,
)
from otp import services as otp_services
from otp.services import CodeSent, Method

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
