"""The support admin site: behind a second factor when `ADMIN_REQUIRE_OTP`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.sites import AdminSite
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_otp.admin import OTPAdminSite

from accounts.admin.lists import lookups_allow_listed
from accounts.core.account_state import account_may_authenticate
from accounts.core.client import client_from
from accounts.core.errors import ErrorCode, ServiceError
from accounts.flows import login as login_flows
from accounts.models import User
from accounts.selectors import second_factor_device
from otp import services as otp_services

# --- the site: a second factor for staff ----------------------------------------------------


class AdminLoginForm(AdminAuthenticationForm):
    """Email, password and, when `ADMIN_REQUIRE_OTP`, a code from the staff member's own factor."""

    otp_token = forms.CharField(
        label="Code",
        required=False,
        max_length=32,
        help_text="From your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not settings.ADMIN_REQUIRE_OTP:
            del self.fields["otp_token"]

    def clean(self) -> dict[str, Any]:
        email, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not email or not password:
            return self.cleaned_data
        client = client_from(self.request)
        try:
            user = login_flows.login_password_verify(email=email, password=password, client=client)
            if not user.is_staff:
                # The same answer as a wrong password: the admin does not confirm passwords.
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(user)
            method = self._second_factor_verify(user) if settings.ADMIN_REQUIRE_OTP else None
        except ServiceError as error:
            if error.code == ErrorCode.AUTHENTICATION_FAILED:
                raise self.get_invalid_login_error() from error
            raise ValidationError(error.detail, code=str(error.code)) from error
        login_flows.login_record(user=user, method=method, client=client)
        if method is not None:
            # Picked up by django-otp when Django logs the user in: the session is verified.
            user.otp_device = second_factor_device(user, method)
        self.user_cache = user
        return self.cleaned_data

    def _second_factor_verify(self, user: User) -> otp_services.Method:
        if not user.has_second_factor:
            raise ValidationError(
                "Set up an authenticator app on your account before using the admin.",
                code=ErrorCode.MFA_NOT_ENABLED,
            )
        code = self.cleaned_data.get("otp_token", "").strip()
        if not code:
            raise ValidationError(
                "Enter the code from your authenticator app, or a recovery code.", code=ErrorCode.OTP_REQUIRED
            )
        return otp_services.login_second_factor_verify(user=user, code=code, client=client_from(self.request))


class SupportAdminSite(OTPAdminSite):
    """django-otp's admin site, whose second-factor rule `ADMIN_REQUIRE_OTP` may relax locally."""

    site_header = "Support"
    login_form = AdminLoginForm
    login_template = "admin/accounts/login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        if request.user.is_authenticated and not account_may_authenticate(request.user):
            return False
        if settings.ADMIN_REQUIRE_OTP:
            return super().has_permission(request)
        return AdminSite.has_permission(self, request)

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        super().register(model_or_iterable, lookups_allow_listed(admin_class or admin.ModelAdmin), **options)

    def password_change(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Staff change their password on the account pages, with step-up, audit trail and email."""
        return redirect("account:password-change")


# Every app registers on the default site; giving it this class keeps those registrations, and
# those made before (Django's own, django-otp's) get the allow-list too.
