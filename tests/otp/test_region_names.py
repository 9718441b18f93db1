"""The phone form's region names are libphonenumber's, without loading its geocoding data at import."""

from __future__ import annotations

import subprocess
import sys

from otp.forms import region_name
from otp.phone_numbers import SUPPORTED_COUNTRIES
from otp.region_names import REGION_NAMES

# Regions libphonenumber supports but has no English name for.
NAMES_MISSING_UPSTREAM = {"AC": "Ascension Island", "TA": "Tristan da Cunha", "XK": "Kosovo"}


def _upstream_name(region: str) -> str:
    from phonenumbers.geodata.locale import LOCALE_DATA

    names = LOCALE_DATA.get(region, {})
    name = names.get("en", "")
    if name.startswith("*"):  # `*xx` points at language xx
        name = names.get(name[1:], "")
    return name or NAMES_MISSING_UPSTREAM[region]


def test_every_supported_region_has_libphonenumbers_english_name() -> None:
    assert set(REGION_NAMES) == set(SUPPORTED_COUNTRIES)
    assert {region: region_name(region) for region in SUPPORTED_COUNTRIES} == {
        region: _upstream_name(region) for region in SUPPORTED_COUNTRIES
    }
    assert region_name("ES") == "Spain"
    assert region_name("CI") == "Côte d'Ivoire"


def test_the_forms_do_not_load_the_geocoding_data() -> None:
    code = (
        "import django, os, sys; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings.test'; django.setup(); "
        "import otp.forms, config.urls; sys.exit('phonenumbers.geodata' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0  # noqa: S603


def test_the_country_list_follows_the_pages_language() -> None:
    from django.utils import translation

    from otp.forms import country_choices
    from otp.region_names import REGION_NAMES_ES

    assert set(REGION_NAMES_ES) == set(SUPPORTED_COUNTRIES)
    with translation.override("es"):
        spanish = dict(country_choices())
    with translation.override("en"):
        english = dict(country_choices())
    assert (spanish["ES"], english["ES"]) == ("España (+34)", "Spain (+34)")
    assert spanish["DE"] == "Alemania (+49)" and spanish[""] != english[""]
