"""Second-factor pages: authenticator app, phone, recovery codes. Same services as the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import segno
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.generic import View

from accounts import selectors
from accounts.core.client import client_from
from accounts.core.errors import ServiceError
from accounts.pages.forms import CodeForm, StepUpForm, refusal_text
from accounts.pages.framework import ServiceFormView, StepUpMixin, code_sent_text, page_decorators, safe_next
from accounts.pages.login_steps import session_verify_with, verified_session_required
from otp import services
from otp.forms import PhoneAddForm
from otp.services import Channel, Method

factor_page_decorators = [*page_decorators, verified_session_required]


def qr_code_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code, drawn on the server (no script, no image request)."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=2, title="QR code for your authenticator app")
    return mark_safe(svg)  # noqa: S308 - segno's own markup; the URI is encoded in the path, not echoed


def secret_grouped(secret: str) -> str:
    """`JBSWY3DPEHPK3PXP` -> `JBSW Y3DP EHPK 3PXP`: easier to type; apps ignore the spaces."""
    return " ".join(secret[index : index + 4] for index in range(0, len(secret), 4))


# --- authenticator app (TOTP) -----------------------------------------------------------------


@method_decorator(factor_page_decorators, name="dispatch")
class TotpStartView(StepUpMixin, ServiceFormView):
    """Create a new secret; the user then scans it and confirms it on `TotpSetupView`."""

    form_class = StepUpForm
    template_name = "account/totp_start.html"
    success_url = reverse_lazy("account:totp")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.totp_verified_at:
            messages.info(
                request, _("An authenticator app is already set up. Remove it first to set up another.")
            )
            return redirect("account:security")
        return super().get(request, *args, **kwargs)

    def perform(self, form: StepUpForm) -> None:
        services.totp_device_create(user=self.request.user, otp=form.otp, client=client_from(self.request))


@method_decorator(factor_page_decorators, name="dispatch")
class TotpSetupView(ServiceFormView):
    """Show the pending secret (QR code and text) and confirm it with a code from the app."""

    form_class = CodeForm
    template_name = "account/totp_setup.html"
    success_message = _("Your authenticator app is set up. Now save recovery codes in case you lose it.")

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.enrolment = selectors.totp_enrolment_pending(request.user)
        if self.enrolment is None:
            return redirect("account:security" if request.user.totp_verified_at else "account:totp-start")
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict[str, Any]:
        return {
            **super().get_form_kwargs(),
            "label": _("Code from the app"),
            "help_text": _("After adding the account, the app shows a 6-digit code."),
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["qr_code"] = qr_code_svg(self.enrolment.otpauth_uri)
        context["secret"] = secret_grouped(self.enrolment.secret)
        return context

    def perform(self, form: CodeForm) -> None:
        services.channel_confirm(
            user=self.request.user,
            channel=Channel.TOTP,
            code=form.cleaned_data["code"],
            client=client_from(self.request),
        )
        if not self.request.user.is_verified():
            session_verify_with(self.request, Method.TOTP)


@method_decorator(factor_page_decorators, name="dispatch")
class TotpRemoveView(StepUpMixin, ServiceFormView):
    form_class = StepUpForm
    template_name = "account/totp_remove.html"
    success_message = _("The authenticator app is removed.")

    def perform(self, form: StepUpForm) -> None:
        services.totp_device_delete(user=self.request.user, otp=form.otp, client=client_from(self.request))


# --- phone (SMS) ---------------------------------------------------------------------------


@method_decorator(factor_page_decorators, name="dispatch")
class PhoneAddView(StepUpMixin, ServiceFormView):
    form_class = PhoneAddForm
    template_name = "account/phone_add.html"
    success_url = reverse_lazy("account:phone-verify")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.phone_verified_at:
            messages.info(request, _("A verified phone is already set up. Remove it first to add another."))
            return redirect("account:security")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {
            **super().get_context_data(**kwargs),
            "pending_phone": selectors.phone_masked(self.request.user),
        }

    def perform(self, form: PhoneAddForm) -> None:
        services.sms_device_add(
            user=self.request.user,
            phone=form.cleaned_data["phone"],
            country=form.cleaned_data["country"],
            otp=form.otp,
            client=client_from(self.request),
        )
        messages.success(
            self.request,
            _("We sent a code to %(phone)s.") % {"phone": selectors.phone_masked(self.request.user)},
        )


@method_decorator(factor_page_decorators, name="dispatch")
class PhoneVerifyView(ServiceFormView):
    form_class = CodeForm
    template_name = "account/phone_verify.html"
    success_message = _("Your phone is verified. You can now log in with a code sent to it.")

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.phone = selectors.sms_device_of(request.user)
        if self.phone is None:
            return redirect("account:phone-add")
        if self.phone.confirmed:
            return redirect("account:security")
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "label": _("Code from the text message")}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "phone": selectors.phone_masked(self.request.user)}

    def perform(self, form: CodeForm) -> None:
        services.channel_confirm(
            user=self.request.user,
            channel=Channel.SMS,
            code=form.cleaned_data["code"],
            client=client_from(self.request),
        )
        if not self.request.user.is_verified():
            session_verify_with(self.request, Method.SMS)


@method_decorator([never_cache, verified_session_required], name="dispatch")
class PhoneCodeSendView(View):
    """Text a code: the verification code of a pending phone, or a step-up code for a verified one."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            sent = services.sms_code_send(user=request.user)
        except ServiceError as error:
            messages.error(request, refusal_text(error))
        else:
            messages.success(
                request, code_sent_text(sent, selectors.phone_masked(request.user) or "your phone")
            )
        return redirect(safe_next(request) or "account:phone-verify")


@method_decorator(factor_page_decorators, name="dispatch")
class PhoneRemoveView(StepUpMixin, ServiceFormView):
    form_class = StepUpForm
    template_name = "account/phone_remove.html"
    success_message = _("Your phone is removed.")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {
            **super().get_context_data(**kwargs),
            "phone_number": selectors.phone_masked(self.request.user),
        }

    def perform(self, form: StepUpForm) -> None:
        services.sms_device_delete(user=self.request.user, otp=form.otp, client=client_from(self.request))


# --- recovery codes ----------------------------------------------------------------------------


def recovery_codes_text(codes: list[str], *, email: str) -> str:
    lines = [
        _("%(service)s recovery codes for %(email)s") % {"service": settings.SERVICE_NAME, "email": email},
        _("Generated %(when)s UTC. Each code works once.") % {"when": f"{timezone.now():%Y-%m-%d %H:%M}"},
        "",
        *codes,
        "",
    ]
    return "\n".join(lines)


@method_decorator(factor_page_decorators, name="dispatch")
class RecoveryCodesView(StepUpMixin, ServiceFormView):
    """Generate new codes (step-up) and show them once, with a download that stores nothing."""

    form_class = StepUpForm
    template_name = "account/recovery_codes.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["remaining"] = services.recovery_codes_remaining(self.request.user)
        return context

    def perform(self, form: StepUpForm) -> HttpResponse:
        codes = services.recovery_codes_generate(
            user=self.request.user, otp=form.otp, client=client_from(self.request)
        )
        text = recovery_codes_text(codes, email=self.request.user.email)
        return render(
            self.request,
            "account/recovery_codes_new.html",
            {
                "service_name": settings.SERVICE_NAME,
                "codes": codes,
                # The codes exist only in this page: the download is a data: URL, nothing is kept.
                "download_url": "data:text/plain;charset=utf-8," + quote(text),
            },
        )
