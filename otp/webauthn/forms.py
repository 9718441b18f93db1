"""The passkey add form: a name, and the step-up code when another factor is verified."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.pages.forms import StepUpForm
from otp.webauthn.registration import NAME_MAX_LENGTH


class PasskeyAddForm(StepUpForm):
    name = forms.CharField(
        label=_("Name"),
        max_length=NAME_MAX_LENGTH,
        required=False,
        help_text=_(
            "To tell your passkeys apart, e.g. “Work laptop”. Leave it empty for a name from your browser."
        ),
    )
