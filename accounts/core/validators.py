"""Password rules beyond Django's: no context words, no silent truncation."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


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
