"""Recovery codes: their format, how they are normalised as typed, and their keyed hash."""

from __future__ import annotations

import re
import secrets

from django.utils.crypto import salted_hmac

RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 10
RECOVERY_CODE_FORMAT = re.compile(rf"[{RECOVERY_ALPHABET}]{{{RECOVERY_CODE_LENGTH}}}")
RECOVERY_DEVICE_NAME = "recovery"


def recovery_code_new() -> str:
    return "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))


def recovery_code_display(code: str) -> str:
    """`abcdefghjk` -> `abcde-fghjk`, as the user is shown it."""
    return f"{code[:5]}-{code[5:]}"


def recovery_code_normalize(code: str) -> str:
    """The code as stored, whatever case, dashes or spaces the user typed it with."""
    return code.strip().lower().replace("-", "").replace(" ", "")


def recovery_code_digest(code: str) -> str:
    """Keyed hash of a recovery code, truncated to fit django-otp's StaticToken (64 bits)."""
    return salted_hmac("otp.recovery-code", code, algorithm="sha256").hexdigest()[:16]
