"""Removing factors without step-up: the devices and dates of some methods, or every factor at once.

One removal path serves the user's own removal (`otp.services.enrolment`, after step-up) and
support's MFA reset (`otp.services.mfa_reset_apply`), so both clear the same devices and dates.
"""

from __future__ import annotations

from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from otp.methods import Method
from otp.models import SmsDevice, WebAuthnDevice
from otp.recovery_codes import RECOVERY_DEVICE_NAME

# Each removable factor: its device model and the user field holding its verification date.
FACTOR_DEVICES: dict[Method, tuple[type[TOTPDevice] | type[SmsDevice], str]] = {
    Method.TOTP: (TOTPDevice, "totp_verified_at"),
    Method.SMS: (SmsDevice, "phone_verified_at"),
}


def factors_delete(user: User, methods: list[Method]) -> list[str]:
    """Delete the devices of `methods` from the locked `user` and clear their verification dates.

    Recovery codes exist only beside a verified factor, so they go with the last one.
    Returns the names of what had something to delete.
    """
    removed: list[str] = []
    fields = []
    for method in methods:
        device_model, verified_field = FACTOR_DEVICES[method]
        if device_model.objects.filter(user=user).delete()[0] or getattr(user, verified_field):
            removed.append(method)
        setattr(user, verified_field, None)
        fields.append(verified_field)
    if recovery_codes_drop_if_no_factor(user):
        removed.append("RECOVERY_CODES")
    user.save(update_fields=fields)
    return removed


def recovery_codes_drop_if_no_factor(user: User) -> bool:
    """Recovery codes exist only beside a verified factor: they go with the last one."""
    if user.has_second_factor:
        return False
    return StaticDevice.objects.filter(user=user, name=RECOVERY_DEVICE_NAME).delete()[0] > 0


def factors_remove_all(*, user: User) -> list[str]:
    """Every factor of the locked `user` goes, pending or verified, with the recovery codes
    (support's MFA reset). The caller records and notifies; returns what was removed."""
    passkeys_deleted = WebAuthnDevice.objects.filter(user=user).delete()[0]
    user.passkey_count = 0
    user.save(update_fields=["passkey_count"])
    removed = factors_delete(user, list(FACTOR_DEVICES))
    return [Method.WEBAUTHN, *removed] if passkeys_deleted else removed
