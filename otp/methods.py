"""The vocabulary of second factors: the channels codes go to and the methods users prove themselves with."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """What `POST /auth/otp/code` confirms and `GET /auth/otp/code` sends to."""

    EMAIL = "EMAIL"
    SMS = "SMS"
    TOTP = "TOTP"


class Method(StrEnum):
    """Second factors a user can log in or step up with, in the order they are offered."""

    TOTP = "TOTP"
    SMS = "SMS"
    RECOVERY_CODE = "RECOVERY_CODE"


METHOD_CHOICES: list[str] = [method.value for method in Method]
