"""Phone numbers: the E.164 candidates staff search with, typed as a user would say them."""

from __future__ import annotations

import pytest
from pytest_django import Settings

from otp.phone_numbers import phone_search_forms

pytestmark = pytest.mark.usefixtures("_es_and_us_searched")


@pytest.fixture
def _es_and_us_searched(settings: Settings) -> None:
    settings.PHONE_SEARCH_REGIONS = ["ES", "US"]


@pytest.mark.parametrize(
    "typed",
    ["+34 612 34 56 78", "+34612345678", "0034612345678", "0034 612-34-56-78", "612345678", "612 34 56 78"],
)
def test_a_spanish_mobile_in_every_usual_form_gives_its_e164(typed: str) -> None:
    assert phone_search_forms(typed) == ["+34612345678"]


@pytest.mark.parametrize("typed", ["(202) 555-0143", "202.555.0143", "+1 (202) 555-0143", "1 202 555 0143"])
def test_a_us_number_in_every_usual_form_gives_its_e164(typed: str) -> None:
    assert phone_search_forms(typed) == ["+12025550143"]


def test_an_international_prefix_of_the_searched_regions_is_understood() -> None:
    assert phone_search_forms("011 34 612 34 56 78") == ["+34612345678"]


def test_a_national_number_of_several_regions_gives_each_candidate(settings: Settings) -> None:
    settings.PHONE_SEARCH_REGIONS = ["ES", "FR"]

    assert phone_search_forms("612345678") == ["+34612345678", "+33612345678"]


def test_the_regions_come_from_the_setting(settings: Settings) -> None:
    settings.PHONE_SEARCH_REGIONS = ["US"]

    assert phone_search_forms("612345678") == []
    assert phone_search_forms("+34 612 34 56 78") == ["+34612345678"]


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "+",
        "00",
        "12",
        "12345",
        "ana@example.com",
        "user612345678@example.com",
        "1-800-FLOWERS",
        "ana",
    ],
)
def test_text_that_is_not_a_phone_number_gives_no_candidate(typed: str) -> None:
    assert phone_search_forms(typed) == []


def test_only_mobile_numbers_are_candidates_as_only_mobiles_are_stored() -> None:
    assert phone_search_forms("+34 91 123 45 67") == []  # a Madrid landline
