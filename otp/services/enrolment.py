"""Enrolling and removing factors: TOTP, phone, recovery codes, each behind step-up.

Adding a factor while another is verified, removing one and regenerating recovery codes
all pass step-up first. One removal path serves the user's own removal and support's
MFA reset, so both clear the same devices and dates.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.auth.trusted_devices import trusted_devices_revoke_all
from accounts.core import notifications
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.events import security_event_record
from accounts.core.security_changes import security_change_record
from accounts.models import SecurityEvent, User
from otp.methods import Method
from otp.models import CodePurpose, SmsDevice
from otp.phone_numbers import phone_obfuscate, phone_parse_mobile
from otp.recovery_codes import (
    RECOVERY_DEVICE_NAME,
    recovery_code_digest,
    recovery_code_display,
    recovery_code_new,
)
from otp.selectors import TotpEnrolment, totp_enrolment_of
from otp.services.delivery import sms_code_deliver
from otp.services.removal import FACTOR_DEVICES, factors_delete
from otp.services.verification import step_up_verify

EventType = SecurityEvent.Type


def _locked_user(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


def totp_device_create(*, user: User, otp: str | None, client: Client) -> TotpEnrolment:
    """A new, unconfirmed TOTP secret (160 bits) replacing any unconfirmed one."""
    if user.totp_verified_at:
        raise ServiceError(ErrorCode.TOTP_ALREADY_CONFIGURED)
    step_up_verify(user=user, otp=otp, client=client)
    with transaction.atomic():
        user = _locked_user(user)
        if user.totp_verified_at:
            raise ServiceError(ErrorCode.TOTP_ALREADY_CONFIGURED)
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False, tolerance=1)
        security_event_record(
            user=user, type=EventType.FACTOR_ADDED, client=client, details={"factor": Method.TOTP}
        )
    return totp_enrolment_of(device, user=user)


def sms_device_add(*, user: User, phone: str, country: str, otp: str | None, client: Client) -> User:
    """Bind a new phone (step-up when another factor is verified) and send it a code."""
    if user.phone_verified_at:
        raise ServiceError(ErrorCode.SMS_ALREADY_CONFIGURED)
    number = phone_parse_mobile(phone=phone, country=country)
    step_up_verify(user=user, otp=otp, client=client)
    with transaction.atomic():
        user = _locked_user(user)
        if user.phone_verified_at:
            raise ServiceError(ErrorCode.SMS_ALREADY_CONFIGURED)
        # The same row is kept when the pending number changes, so its resend cool-down holds.
        device = SmsDevice.objects.filter(user=user).first() or SmsDevice(user=user, name="Phone")
        device.number = number
        device.confirmed = False
        device.user = user
        device.save()
        sms_code_deliver(device=device, purpose=CodePurpose.VERIFY)
        security_event_record(
            user=user,
            type=EventType.FACTOR_ADDED,
            client=client,
            details={"factor": Method.SMS, "phone": phone_obfuscate(number)},
        )
    return user


def recovery_codes_generate(*, user: User, otp: str | None, client: Client) -> list[str]:
    """Ten new recovery codes, replacing the old ones; only their keyed hashes are stored."""
    if not user.has_second_factor:
        raise ServiceError(ErrorCode.MFA_NOT_ENABLED)
    step_up_verify(user=user, otp=otp, client=client)
    codes = [recovery_code_new() for _ in range(settings.RECOVERY_CODE_COUNT)]
    with transaction.atomic():
        user = _locked_user(user)
        if not user.has_second_factor:
            raise ServiceError(ErrorCode.MFA_NOT_ENABLED)
        device, _ = StaticDevice.objects.get_or_create(
            user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
        )
        device.token_set.all().delete()
        StaticToken.objects.bulk_create(
            StaticToken(device=device, token=recovery_code_digest(code)) for code in codes
        )
        security_event_record(
            user=user, type=EventType.RECOVERY_CODES_GENERATED, client=client, details={"count": len(codes)}
        )
        notifications.recovery_codes_generated_notify(user=user)
    return [recovery_code_display(code) for code in codes]


# --- removal (step-up first) ---------------------------------------------------------------


def _factor_remove(
    *, user: User, otp: str | None, client: Client, method: Method, not_configured: ErrorCode
) -> User:
    """Remove one factor, pending or verified (step-up first); recovery codes go with the last one."""
    device_model, _ = FACTOR_DEVICES[method]
    if not device_model.objects.filter(user=user).exists():
        raise ServiceError(not_configured)
    step_up_verify(user=user, otp=otp, client=client)
    with transaction.atomic():
        user = _locked_user(user)
        factors_delete(user, [method])
        factor_removal_record_and_notify(user=user, method=method, client=client)
    return user


def factor_removal_record_and_notify(
    *, user: User, method: Method, client: Client, passkey: str = ""
) -> None:
    """What follows the user's removal of any factor, in its transaction: trusted devices stop
    counting (they stood in for a factor that may be this one), recorded, and the user told."""
    trusted_devices_revoke_all(user=user)
    details = {"factor": method, "passkey": passkey} if passkey else {"factor": method}
    security_event_record(user=user, type=EventType.FACTOR_REMOVED, client=client, details=details)
    security_change_record(user=user)
    notifications.factor_removed_notify(user=user, factor=method, passkey=passkey)


def totp_device_delete(*, user: User, otp: str | None, client: Client) -> User:
    return _factor_remove(
        user=user, otp=otp, client=client, method=Method.TOTP, not_configured=ErrorCode.TOTP_NOT_CONFIGURED
    )


def sms_device_delete(*, user: User, otp: str | None, client: Client) -> User:
    return _factor_remove(
        user=user, otp=otp, client=client, method=Method.SMS, not_configured=ErrorCode.SMS_NOT_CONFIGURED
    )
