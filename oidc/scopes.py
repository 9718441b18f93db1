"""What each scope lets an application know, as the consent page and the security page say it."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

SCOPE_TEXTS: dict[str, Promise] = {
    "openid": _("Who you are on this service (an identifier, not your email)"),
    "email": _("Your email address, and whether you confirmed it"),
    "profile": _("Your language"),
    "offline_access": _("Stay signed in when you are not using it"),
}


def scope_texts(scopes: list[str]) -> list[Promise]:
    """The texts of `scopes`, in the order of SCOPE_TEXTS; unknown scopes say nothing."""
    return [text for scope, text in SCOPE_TEXTS.items() if scope in scopes]
