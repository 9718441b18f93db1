"""Forms of the second-factor pages; the phone number itself is checked by `otp.phone_numbers`."""

from __future__ import annotations

import functools
import unicodedata

import phonenumbers
from django import forms
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.core.input_limits import PHONE_INPUT_MAX_LENGTH
from accounts.pages.forms import StepUpForm
from otp.phone_numbers import SUPPORTED_COUNTRIES
from otp.region_names import REGION_NAMES, REGION_NAMES_ES

REGION_NAMES_BY_LANGUAGE = {"en": REGION_NAMES, "es": REGION_NAMES_ES}


def region_name(region: str, language: str = "en") -> str:
    """The name of a region in `language` (otp/region_names.py, from libphonenumber's own data)."""
    return REGION_NAMES_BY_LANGUAGE.get(language, REGION_NAMES).get(region, region)


@functools.cache
def _country_choices_in(language: str) -> list[tuple[str, str]]:
    choices = [
        (region, f"{region_name(region, language)} (+{phonenumbers.country_code_for_region(region)})")
        for region in SUPPORTED_COUNTRIES
    ]
    by_name = sorted(choices, key=lambda choice: unicodedata.normalize("NFKD", choice[1]).casefold())
    return [("", gettext("Choose a country")), *by_name]


def country_choices() -> list[tuple[str, str]]:
    """Every supported region as `Spain (+34)` (`España (+34)`), sorted by name, in the page's language."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    return _country_choices_in(language.split("-")[0])


class PhoneAddForm(StepUpForm):
    country = forms.ChoiceField(
        label=_("Country"), choices=country_choices, widget=forms.Select(attrs={"autocomplete": "country"})
    )
    phone = forms.CharField(
        label=_("Mobile number"),
        max_length=PHONE_INPUT_MAX_LENGTH,
        help_text=_("As you would dial it in that country, e.g. 612 34 56 78 in Spain."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel-national", "inputmode": "tel"}),
    )
