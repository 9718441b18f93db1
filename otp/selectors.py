"""Reading second-factor state: the verified methods, recovery codes left, a pending TOTP enrolment."""

from __future__ import annotations

from base64 import b32encode
from dataclasses import dataclass

from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from otp.methods import Method
from otp.recovery_codes import RECOVERY_DEVICE_NAME


@dataclass(frozen=True)
class TotpEnrolment:
    user: User
    secret: str
    otpauth_uri: str


def second_factor_methods(user: User) -> list[Method]:
    """The verified factors of `user`: passkeys (phishing-resistant) first, then TOTP, then SMS
    (a restricted authenticator)."""
    methods = []
    if user.passkey_count:
        methods.append(Method.WEBAUTHN)
    if user.totp_verified_at:
        methods.append(Method.TOTP)
    if user.phone_verified_at:
        methods.append(Method.SMS)
    if methods and recovery_codes_remaining(user):
        methods.append(Method.RECOVERY_CODE)
    return methods


def recovery_codes_remaining(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__name=RECOVERY_DEVICE_NAME).count()


def totp_enrolment_of(device: TOTPDevice, *, user: User) -> TotpEnrolment:
    """What an authenticator app needs: the base32 secret and the otpauth:// URI."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return TotpEnrolment(user=user, secret=secret, otpauth_uri=device.config_url)
