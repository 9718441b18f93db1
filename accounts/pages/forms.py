"""Forms of the account pages: input checks only; the rules live in the services they feed."""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.input_limits import CODE_MAX_LENGTH, EMAIL_MAX_LENGTH, PASSWORD_INPUT_MAX_LENGTH
from accounts.models import User
from otp.services import Method


def wait_text(seconds: int) -> str:
    """`42 seconds`, `3 minutes`, `1 hour 5 minutes`: a wait as people read it."""
    if seconds < 60:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    hours, minutes = divmod(minutes, 60)
    text = ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    if not minutes:
        return text
    return f"{text} {ngettext('%(count)d minute', '%(count)d minutes', minutes) % {'count': minutes}}"


def refusal_text(error: ServiceError) -> str:
    """The service's reason, with the wait when it gave one (throttles, locks)."""
    if error.retry_after is None:
        return str(error.detail)
    return gettext("%(reason)s Try again in %(wait)s.") % {
        "reason": error.detail,
        "wait": wait_text(error.retry_after),
    }


def code_widget(method: str | None = None) -> forms.TextInput:
    """A one-time code input: a numeric keypad for 6 digits, letters for a recovery code."""
    attrs = {"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}
    if method == Method.RECOVERY_CODE:
        attrs.update(inputmode="text", placeholder="xxxxx-xxxxx")
    else:
        attrs.update(inputmode="numeric", placeholder="123456")
    return forms.TextInput(attrs=attrs)


def password_field(*, label: str, autocomplete: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        max_length=PASSWORD_INPUT_MAX_LENGTH,
        help_text=help_text,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


class PageForm(forms.Form):
    """A form of the pages: shows a service refusal, and puts the focus where the user must act."""

    # Field names the services use in `ServiceError.errors`, mapped to this form's fields.
    service_fields: dict[str, str] = {}

    def focus(self) -> None:
        """Autofocus the first field with an error, else the first field."""
        fields = self.visible_fields()
        target = next((field for field in fields if field.errors), fields[0] if fields else None)
        for field in fields:
            field.field.widget.attrs.pop("autofocus", None)
        if target is not None:
            target.field.widget.attrs["autofocus"] = True

    def add_service_error(self, error: ServiceError) -> None:
        if not error.errors:
            self.add_error(None, refusal_text(error))
            return
        for name, messages in error.errors.items():
            self.add_error(self.service_fields.get(name), messages)


class SignupForm(PageForm):
    email = forms.EmailField(
        label=_("Email"),
        max_length=EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = password_field(
        label=_("Password"),
        autocomplete="new-password",
        help_text=_("At least 8 characters. A few unrelated words make a strong, memorable passphrase."),
    )
    service_fields = {"password": "password"}


class LoginForm(PageForm):
    email = forms.EmailField(
        label=_("Email"),
        max_length=EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "username"}),
    )
    password = password_field(label=_("Password"), autocomplete="current-password")


class CodeForm(PageForm):
    """A 6-digit code sent by email or SMS, or shown by an authenticator app."""

    code = forms.CharField(label=_("Code"), max_length=CODE_MAX_LENGTH, widget=code_widget())

    def __init__(self, *args: Any, label: str = "Code", help_text: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].label = label
        self.fields["code"].help_text = help_text


METHOD_LABELS = {
    Method.WEBAUTHN: (_("Passkey"), _("Confirm with your passkey: your fingerprint, face or screen lock.")),
    Method.TOTP: (_("Code from your authenticator app"), _("The 6-digit code the app shows now.")),
    Method.SMS: (_("Code we texted you"), _("The 6-digit code in the text message.")),
    Method.RECOVERY_CODE: (_("Recovery code"), _("One of the codes you saved; each works once.")),
}


class SecondFactorForm(PageForm):
    """The code of the login's second step, for the method the user picked."""

    code = forms.CharField(max_length=CODE_MAX_LENGTH)
    trust_device = forms.BooleanField(
        required=False, help_text=_("Only on a browser you alone use. Your password is still asked.")
    )

    def __init__(self, *args: Any, method: Method, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        label, help_text = METHOD_LABELS[method]
        field = self.fields["code"]
        field.label, field.help_text = label, help_text
        field.widget = code_widget(method)
        self.fields["trust_device"].label = ngettext(
            "Trust this browser for %(days)d day",
            "Trust this browser for %(days)d days",
            settings.TRUSTED_DEVICE_DAYS,
        ) % {"days": settings.TRUSTED_DEVICE_DAYS}


class StepUpForm(PageForm):
    """Confirms a sensitive change with a code from a factor the user has already verified.

    Users without a verified factor need none, so they get no field; the service decides.
    """

    def __init__(self, *args: Any, user: User, method: Method, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user.has_second_factor and method == Method.WEBAUTHN:
            # Filled by static/js/passkeys.js with the token of a passkey step-up.
            self.fields["otp"] = forms.CharField(
                required=False,
                max_length=CODE_MAX_LENGTH,
                widget=forms.HiddenInput(
                    attrs={
                        "data-passkey-step-up": "",
                        "data-options-url": reverse("account:passkey-step-up-options"),
                        "data-url": reverse("account:passkey-step-up"),
                    }
                ),
            )
        elif user.has_second_factor:
            label, help_text = METHOD_LABELS[method]
            self.fields["otp"] = forms.CharField(
                label=label, help_text=help_text, max_length=CODE_MAX_LENGTH, widget=code_widget(method)
            )

    @property
    def otp(self) -> str | None:
        return self.cleaned_data.get("otp") or None


class PasswordChangeForm(StepUpForm):
    current_password = password_field(label=_("Current password"), autocomplete="current-password")
    new_password = password_field(
        label=_("New password"), autocomplete="new-password", help_text=_("At least 8 characters.")
    )
    service_fields = {"newPassword": "new_password"}

    def add_service_error(self, error: ServiceError) -> None:
        if error.code == ErrorCode.AUTHENTICATION_FAILED:
            self.add_error("current_password", _("The current password is not correct."))
            return
        super().add_service_error(error)


class PasswordResetForm(PageForm):
    email = forms.EmailField(
        label=_("Email"),
        max_length=EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class PasswordResetConfirmForm(PageForm):
    new_password = password_field(
        label=_("New password"), autocomplete="new-password", help_text=_("At least 8 characters.")
    )
    service_fields = {"newPassword": "new_password"}

    def add_service_error(self, error: ServiceError) -> None:
        if error.code == ErrorCode.TOKEN_NOT_VALID:
            self.add_error(
                None,
                _(
                    "This link does not work any more: it was used already, has expired or is incomplete. "
                    "Ask for a new one."
                ),
            )
            return
        super().add_service_error(error)


class AntiPhishingCodeForm(StepUpForm):
    """The code every genuine email shows; the service checks it (4 to 20 ASCII letters and digits)."""

    anti_phishing_code = forms.CharField(
        label=_("Anti-phishing code"),
        max_length=40,
        strip=False,
        help_text=_("4 to 20 letters (A-Z, a-z) and digits. Pick a word nobody could guess."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    service_fields = {"code": "anti_phishing_code"}


class ConfirmForm(PageForm):
    """A confirmation step with nothing to fill in: the button is the answer."""
