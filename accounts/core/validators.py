"""Password rules beyond Django's: no context words, no silent truncation, no password known from a breach."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from accounts.core.pwned_passwords import password_breach_count

# The code of the breach validator's error, which the services answer as 400 password_compromised.
PASSWORD_COMPROMISED_CODE = "password_compromised"  # noqa: S105 - an error code, not a password


class ContextPasswordValidator:
    """Refuse passwords built on the service's own name (NIST 800-63B §5.1.1.2)."""

    def validate(self, password: str, user: object = None) -> None:
        folded = password.casefold()
        words = {settings.SERVICE_NAME.casefold(), settings.SERVICE_NAME.casefold().replace(" ", "")}
        if any(word and word in folded for word in words):
            raise ValidationError(
                _("This password contains the name of the service."), code="password_has_service_name"
            )

    def get_help_text(self) -> str:
        return _("Your password cannot contain the name of the service.")


class MaximumLengthValidator:
    """Accept long passphrases but bound the work an attacker can make us do."""

    def validate(self, password: str, user: object = None) -> None:
        if len(password) > settings.PASSWORD_MAX_LENGTH:
            raise ValidationError(
                _("This password is longer than %(max)d characters.") % {"max": settings.PASSWORD_MAX_LENGTH},
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return _("Your password can be up to %(max)d characters long.") % {
            "max": settings.PASSWORD_MAX_LENGTH
        }


class PwnedPasswordValidator:
    """Refuse a password found in Have I Been Pwned's breach corpus (NIST SP 800-63B rev 4 §3.1.1.2).

    In AUTH_PASSWORD_VALIDATORS, so sign-up, change and reset in the API, the pages and the admin
    all ask it. Off with `PWNED_PASSWORDS=false`; when the range API cannot answer, the password
    is accepted (accounts/core/pwned_passwords.py).
    """

    @sensitive_variables("password")
    def validate(self, password: str, user: object = None) -> None:
        if not settings.PWNED_PASSWORDS or not password:
            return
        if password_breach_count(password):
            raise ValidationError(
                _(
                    "This password appears in a known data breach, so attackers try it first. "
                    "Choose another one."
                ),
                code=PASSWORD_COMPROMISED_CODE,
            )

    def get_help_text(self) -> str:
        return _("Your password cannot be one that appears in a known data breach.")
