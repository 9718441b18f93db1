"""Phone numbers: parse to E.164 with libphonenumber, mobile only, and obfuscate for display."""

from __future__ import annotations

import re

import phonenumbers
from django.conf import settings
from phonenumbers import PhoneNumberType

from accounts.core.errors import ErrorCode, ServiceError

# The `country` enum of the API: every region libphonenumber supports (245, AC ... ZW).
SUPPORTED_COUNTRIES: list[str] = sorted(phonenumbers.SUPPORTED_REGIONS)

MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
# Digits and the separators people type between them; anything else is not a number to search.
PHONE_SEARCH_TEXT = re.compile(r"[+(]?[0-9][0-9 ()./-]{4,30}")


def phone_parse_mobile(*, phone: str, country: str) -> str:
    """The E.164 form of a mobile number typed as the user would, `country` as default region."""
    try:
        number = phonenumbers.parse(phone, country)
    except phonenumbers.NumberParseException as error:
        raise ServiceError(ErrorCode.PHONE_INVALID) from error
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise ServiceError(ErrorCode.PHONE_INVALID)
    region = phonenumbers.region_code_for_number(number)
    allowed = settings.SMS_ALLOWED_COUNTRIES
    if allowed and region not in allowed:
        raise ServiceError(ErrorCode.COUNTRY_NOT_ALLOWED)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_search_forms(text: str) -> list[str]:
    """E.164 candidates for a number as someone might type it into a search box.

    With `+` or `00` the calling code is given; otherwise each of `PHONE_SEARCH_REGIONS` is
    tried, so "612345678" may be Spanish or French. Only valid mobile numbers are kept:
    every stored number is one (`phone_parse_mobile`). Text that is not a phone number
    (letters, an email, a few digits) gives no candidate.
    """
    text = text.strip()
    if not PHONE_SEARCH_TEXT.fullmatch(text):
        return []
    international = text.startswith(("+", "00"))
    cleaned = "+" + text[2:] if text.startswith("00") else text
    candidates = []
    for region in [None] if international else settings.PHONE_SEARCH_REGIONS:
        try:
            number = phonenumbers.parse(cleaned, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in MOBILE_TYPES:
            candidates.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return list(dict.fromkeys(candidates))


def phone_obfuscate(e164: str) -> str:
    """`+34612345678` -> `+34*******78`: the calling code and the last two digits."""
    try:
        calling_code = str(phonenumbers.parse(e164).country_code)
    except phonenumbers.NumberParseException:
        calling_code = ""
    national = e164[1 + len(calling_code) :]
    return f"+{calling_code}{'*' * max(len(national) - 2, 0)}{national[-2:]}"
