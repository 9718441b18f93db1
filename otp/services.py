"""Second factors: enrolment, one-time codes, verification with per-account throttling, step-up.

Every code check goes through `_code_check`, which locks the user row, refuses during
a delay, runs the check (locking the device row), and counts the outcome in the same
transaction. Errors are raised only after that transaction has committed, so a failure
is always counted.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from base64 import b32encode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import mfa_resets, notifications
from accounts.client import Client
from accounts.errors import ErrorCode, ServiceError
from accounts.events import security_event_record
from accounts.mail import email_send
from accounts.models import SecurityEvent, User
from accounts.throttles import failure_delay_seconds

from .models import CodePurpose, EmailCodeDevice, HashedCodeDevice, SmsDevice
from .phone_numbers import phone_obfuscate, phone_parse_mobile
from .sms_backends import SmsDeliveryError, sms_send

logger = logging.getLogger(__name__)

SIX_DIGITS = re.compile(r"[0-9]{6}")
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 10
RECOVERY_CODE_FORMAT = re.compile(rf"[{RECOVERY_ALPHABET}]{{{RECOVERY_CODE_LENGTH}}}")
RECOVERY_DEVICE_NAME = "recovery"
EventType = SecurityEvent.Type


class Channel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"
    TOTP = "TOTP"


class Method(StrEnum):
    """Second factors a user can log in or step up with."""

    TOTP = "TOTP"
    SMS = "SMS"
    RECOVERY_CODE = "RECOVERY_CODE"


@dataclass(frozen=True)
class CodeSent:
    channel: Channel
    valid_until: datetime
    validated: bool


@dataclass(frozen=True)
class TotpEnrolment:
    user: User
    secret: str
    otpauth_uri: str


# --- reading ---------------------------------------------------------------------------


def second_factor_methods(user: User) -> list[Method]:
    """The verified factors of `user`, TOTP first (SMS is a restricted authenticator)."""
    methods = []
    if user.totp_verified_at:
        methods.append(Method.TOTP)
    if user.phone_verified_at:
        methods.append(Method.SMS)
    if methods and StaticToken.objects.filter(device__user=user, device__name=RECOVERY_DEVICE_NAME).exists():
        methods.append(Method.RECOVERY_CODE)
    return methods


def recovery_codes_remaining(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__name=RECOVERY_DEVICE_NAME).count()


# --- per-account throttling --------------------------------------------------------------


def otp_delay_remaining(user: User, now: datetime) -> float:
    """Seconds left before the next code may be checked: 1 s from the 3rd failure, doubling."""
    if user.otp_last_failure_at is None:
        return 0.0
    delay = failure_delay_seconds(
        user.otp_failure_count, free=settings.OTP_FAILURES_BEFORE_DELAY, cap=settings.OTP_DELAY_MAX_SECONDS
    )
    return max(0.0, (user.otp_last_failure_at + timedelta(seconds=delay) - now).total_seconds())


def _failure_count(user: User, *, now: datetime, client: Client, context: str) -> ServiceError:
    user.otp_failure_count += 1
    user.otp_last_failure_at = now
    security_event_record(
        user=user,
        type=EventType.SECOND_FACTOR_FAILED,
        client=client,
        details={"context": context, "consecutiveFailures": user.otp_failure_count},
    )
    if user.otp_failure_count >= settings.OTP_FAILURES_BEFORE_LOCK:
        user.status = User.Status.LOCKED
        user.locked_until = now + timedelta(seconds=settings.ACCOUNT_LOCK_SECONDS)
        security_event_record(
            user=user,
            type=EventType.ACCOUNT_LOCKED,
            client=client,
            actor=SecurityEvent.Actor.SYSTEM,
            details={"consecutiveFailures": user.otp_failure_count},
        )
        notifications.account_locked_notify(user=user, until=user.locked_until)
    # Login failures follow a right password: once per streak, tell the user it may be known.
    if (
        context == "login"
        and user.otp_failure_count >= settings.OTP_FAILURES_BEFORE_NOTIFY
        and not user.otp_failures_notified
    ):
        user.otp_failures_notified = True
        notifications.second_factor_failures_notify(user=user, failures=user.otp_failure_count)
    return ServiceError(ErrorCode.OTP_INVALID)


def _code_check(
    *, user_id: int, client: Client, context: str, check: Callable[[User], Method | Channel | None]
) -> tuple[User, Method | Channel]:
    """Run `check` on the locked account and count its outcome; raise only after commit."""
    error: ServiceError | None = None
    with transaction.atomic():
        # A support reset that has come due takes effect first: its factors no longer count.
        user = mfa_resets.mfa_reset_apply_if_due(User.objects.select_for_update().get(pk=user_id))
        now = timezone.now()
        if user.status == User.Status.LOCKED and user.effective_status(now) == User.Status.ACTIVE:
            # The lock has lifted by itself: a fresh budget, not one failure from a new lock.
            user.status, user.locked_until = User.Status.ACTIVE, None
            user.otp_failure_count, user.otp_last_failure_at = 0, None
        if user.effective_status(now) == User.Status.LOCKED:
            raise ServiceError(ErrorCode.ACCOUNT_LOCKED, retry_after=user.lock_seconds_left(now))
        wait = otp_delay_remaining(user, now)
        if wait > 0:
            raise ServiceError(ErrorCode.OTP_THROTTLED, retry_after=wait)
        outcome = check(user)
        if outcome is None:
            error = _failure_count(user, now=now, client=client, context=context)
        else:
            user.otp_failure_count = 0
            user.otp_last_failure_at = None
            user.otp_failures_notified = False
        user.save()
    if error is not None:
        raise error
    return user, outcome  # type: ignore[return-value]


def _totp_matches(user: User, code: str, *, confirmed: bool = True) -> bool:
    if not SIX_DIGITS.fullmatch(code):
        return False
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=confirmed).first()
    return device is not None and device.verify_token(code)


def _side_channel_verified(
    device_model: type[HashedCodeDevice], user: User, code: str, purpose: CodePurpose
) -> HashedCodeDevice | None:
    """The (locked) device whose pending code for `purpose` is `code`, consumed; else None."""
    if not SIX_DIGITS.fullmatch(code):
        return None
    device = device_model.objects.select_for_update().filter(user=user).first()
    return device if device is not None and device.verify_token(code, purpose) else None


def recovery_code_digest(code: str) -> str:
    """Keyed hash of a recovery code, truncated to fit django-otp's StaticToken (64 bits)."""
    return salted_hmac("otp.recovery-code", code, algorithm="sha256").hexdigest()[:16]


def _recovery_code_normalize(code: str) -> str:
    return code.strip().lower().replace("-", "").replace(" ", "")


def _recovery_code_matches(user: User, code: str, client: Client) -> bool:
    normalized = _recovery_code_normalize(code)
    if not RECOVERY_CODE_FORMAT.fullmatch(normalized):
        return False
    device = StaticDevice.objects.select_for_update().filter(user=user, name=RECOVERY_DEVICE_NAME).first()
    if device is None or not device.verify_token(recovery_code_digest(normalized)):
        return False
    remaining = device.token_set.count()
    security_event_record(
        user=user, type=EventType.RECOVERY_CODE_USED, client=client, details={"remaining": remaining}
    )
    notifications.recovery_code_used_notify(user=user, remaining=remaining)
    return True


def _any_factor_matches(user: User, code: str, *, sms_purpose: CodePurpose, client: Client) -> Method | None:
    if user.totp_verified_at and _totp_matches(user, code):
        return Method.TOTP
    if user.phone_verified_at and _side_channel_verified(SmsDevice, user, code, sms_purpose):
        return Method.SMS
    if user.has_second_factor and _recovery_code_matches(user, code, client):
        return Method.RECOVERY_CODE
    return None


def login_second_factor_verify(*, user: User, code: str, client: Client) -> Method:
    """Check the `x-otp` of a login: a TOTP code, the SMS login code or a recovery code."""
    _, method = _code_check(
        user_id=user.pk,
        client=client,
        context="login",
        check=lambda locked: _any_factor_matches(locked, code, sms_purpose=CodePurpose.LOGIN, client=client),
    )
    return Method(method)


def step_up_verify(*, user: User, otp: str | None, client: Client) -> None:
    """The one rule for sensitive changes (API.md "Second factors and step-up").

    A user with a verified factor must send a fresh code from it: a TOTP code, the latest
    step-up SMS code or an unused recovery code. Missing or wrong is refused and counted.
    Call it before, not inside, the transaction of the change it guards.
    """
    if not user.has_second_factor:
        return
    _code_check(
        user_id=user.pk,
        client=client,
        context="step-up",
        check=lambda locked: (
            _any_factor_matches(locked, otp, sms_purpose=CodePurpose.STEP_UP, client=client) if otp else None
        ),
    )


# --- sending codes --------------------------------------------------------------------------


def _seconds_to_next_utc_day(now: datetime) -> float:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


def _sms_budget_spend(*, user: User, number: str, now: datetime) -> list[str]:
    """Count one SMS against the daily caps per user, per number and overall (SMS pumping).

    Returns the counters spent, to refund if the message is not sent after all: a refusal
    or a gateway outage must not use up anyone's budget.
    """
    day = now.strftime("%Y-%m-%d")
    caps = [
        (f"sms-sent:user:{user.pk}:{day}", settings.SMS_MAX_PER_USER_PER_DAY),
        (f"sms-sent:number:{number}:{day}", settings.SMS_MAX_PER_NUMBER_PER_DAY),
        (f"sms-sent:all:{day}", settings.SMS_MAX_PER_DAY),
    ]
    spent: list[str] = []
    for key, cap in caps:
        cache.add(key, 0, timeout=2 * 24 * 60 * 60)
        spent.append(key)
        if cache.incr(key) > cap:
            _sms_budget_refund(spent)
            raise ServiceError(ErrorCode.OTP_ATTEMPTS_EXHAUSTED, retry_after=_seconds_to_next_utc_day(now))
    return spent


def _sms_budget_refund(spent: list[str]) -> None:
    for key in spent:
        # A counter evicted while the gateway was tried has nothing left to refund.
        with contextlib.suppress(ValueError):
            cache.decr(key)


def _cooldown_check(device: HashedCodeDevice) -> None:
    allowed, info = device.generate_is_allowed()
    if not allowed:
        wait = (info["next_generation_at"] - timezone.now()).total_seconds() if info else None
        raise ServiceError(ErrorCode.OTP_ATTEMPTS_EXHAUSTED, retry_after=wait)


def _sms_last_sent_key(user_id: int) -> str:
    return f"sms-last-sent:user:{user_id}"


def _sms_user_cooldown_check(*, user_id: int, now: datetime) -> None:
    """The resend cool-down held per user as well as per device: removing the phone and
    adding it again (a new device row) must not send the next code at once."""
    last_sent_at = cache.get(_sms_last_sent_key(user_id))
    if last_sent_at is not None:
        wait = last_sent_at + settings.SMS_RESEND_COOLDOWN_SECONDS - now.timestamp()
        if wait > 0:
            raise ServiceError(ErrorCode.OTP_ATTEMPTS_EXHAUSTED, retry_after=wait)


def _sms_code_deliver(*, device: SmsDevice, purpose: CodePurpose) -> CodeSent:
    """Send a code to `device` (locked by the caller's transaction); a gateway failure is 503."""
    now = timezone.now()
    _cooldown_check(device)
    _sms_user_cooldown_check(user_id=device.user_id, now=now)
    spent = _sms_budget_spend(user=device.user, number=device.number, now=now)
    code = device.code_generate(purpose=purpose)
    body = f"{code} is your {settings.SERVICE_NAME} code. It expires in {settings.OTP_CODE_VALIDITY_SECONDS // 60} minutes."
    try:
        sms_send(to=device.number, body=body)
    except SmsDeliveryError as error:
        _sms_budget_refund(spent)
        raise ServiceError(ErrorCode.SMS_UNAVAILABLE) from error
    cache.set(
        _sms_last_sent_key(device.user_id), now.timestamp(), timeout=settings.SMS_RESEND_COOLDOWN_SECONDS + 1
    )
    return CodeSent(channel=Channel.SMS, valid_until=device.valid_until, validated=device.confirmed)


@transaction.atomic
def email_verification_code_send(*, user: User) -> CodeSent:
    """Email a verification code (sign-up and resend share the cool-down)."""
    if user.email_verified:
        raise ServiceError(ErrorCode.CHANNEL_ALREADY_VERIFIED)
    # Insert-if-missing, then lock: two first requests at once meet on one row (rather than
    # one failing on the unique user), and the second then meets the cool-down.
    EmailCodeDevice.objects.bulk_create(
        [EmailCodeDevice(user=user, name="Email", confirmed=False)], ignore_conflicts=True
    )
    device = EmailCodeDevice.objects.select_for_update().get(user=user)
    _cooldown_check(device)
    code = device.code_generate(purpose=CodePurpose.VERIFY)
    email_send(
        to=user.email,
        template="verification_code",
        context={"code": code, "minutes": settings.OTP_CODE_VALIDITY_SECONDS // 60},
    )
    return CodeSent(channel=Channel.EMAIL, valid_until=device.valid_until, validated=False)


@transaction.atomic
def sms_code_send(*, user: User) -> CodeSent:
    """`GET /auth/otp/code?method=SMS`: verify a pending phone, or a step-up code for a verified one."""
    device = SmsDevice.objects.select_for_update().select_related("user").filter(user=user).first()
    if device is None:
        raise ServiceError(ErrorCode.METHOD_NOT_ALLOWED, detail="No phone is set up.")
    purpose = CodePurpose.STEP_UP if device.confirmed else CodePurpose.VERIFY
    return _sms_code_deliver(device=device, purpose=purpose)


@transaction.atomic
def login_sms_code_send(*, user: User) -> CodeSent:
    device = (
        SmsDevice.objects.select_for_update().select_related("user").filter(user=user, confirmed=True).first()
    )
    if device is None:
        raise ServiceError(ErrorCode.METHOD_NOT_ALLOWED)
    return _sms_code_deliver(device=device, purpose=CodePurpose.LOGIN)


def verification_code_send(*, user: User, channel: Channel) -> CodeSent:
    if channel == Channel.EMAIL:
        return email_verification_code_send(user=user)
    return sms_code_send(user=user)


# --- confirming channels ------------------------------------------------------------------


def _email_confirm(user: User, code: str, client: Client) -> Channel | None:
    if not _side_channel_verified(EmailCodeDevice, user, code, CodePurpose.VERIFY):
        return None
    user.email_verified_at = timezone.now()
    security_event_record(user=user, type=EventType.EMAIL_VERIFIED, client=client)
    return Channel.EMAIL


def _phone_confirm(user: User, code: str, client: Client) -> Channel | None:
    device = _side_channel_verified(SmsDevice, user, code, CodePurpose.VERIFY)
    if device is None:
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    user.phone_verified_at = timezone.now()
    security_event_record(
        user=user,
        type=EventType.FACTOR_VERIFIED,
        client=client,
        details={"factor": Method.SMS, "phone": phone_obfuscate(device.number)},
    )
    notifications.factor_added_notify(user=user, factor=Method.SMS, phone=phone_obfuscate(device.number))
    return Channel.SMS


def _totp_confirm(user: User, code: str, client: Client) -> Channel | None:
    if not _totp_matches(user, code, confirmed=False):
        return None
    TOTPDevice.objects.filter(user=user).update(confirmed=True)
    user.totp_verified_at = timezone.now()
    security_event_record(
        user=user, type=EventType.FACTOR_VERIFIED, client=client, details={"factor": Method.TOTP}
    )
    notifications.factor_added_notify(user=user, factor=Method.TOTP)
    return Channel.TOTP


def _channel_state_check(user: User, channel: Channel) -> None:
    """State before code: 400 when there is nothing pending to confirm on `channel`."""
    if channel == Channel.EMAIL:
        verified, configured = user.email_verified, True
    elif channel == Channel.SMS:
        verified = user.phone_verified_at is not None
        configured = verified or SmsDevice.objects.filter(user=user).exists()
    else:
        verified = user.totp_verified_at is not None
        configured = verified or TOTPDevice.objects.filter(user=user).exists()
    if verified:
        raise ServiceError(ErrorCode.CHANNEL_ALREADY_VERIFIED)
    if not configured:
        raise ServiceError(ErrorCode.CHANNEL_NOT_CONFIGURED)


def channel_confirm(*, user: User, channel: Channel, code: str, client: Client) -> User:
    """`POST /auth/otp/code`: the code sent to (or shown by) a pending channel verifies it."""
    _channel_state_check(user, channel)
    confirm = {Channel.EMAIL: _email_confirm, Channel.SMS: _phone_confirm, Channel.TOTP: _totp_confirm}[
        channel
    ]
    confirmed_user, _ = _code_check(
        user_id=user.pk,
        client=client,
        context=f"confirm-{channel.lower()}",
        check=lambda locked: confirm(locked, code, client),
    )
    return confirmed_user


# --- enrolling and removing factors ----------------------------------------------------------


def _recovery_codes_drop_if_no_factor(user: User) -> None:
    """Recovery codes exist only beside a verified TOTP or phone."""
    if not user.has_second_factor:
        StaticDevice.objects.filter(user=user, name=RECOVERY_DEVICE_NAME).delete()


def _locked_user(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


def totp_enrolment_of(device: TOTPDevice, *, user: User) -> TotpEnrolment:
    """What an authenticator app needs: the base32 secret and the otpauth:// URI."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return TotpEnrolment(user=user, secret=secret, otpauth_uri=device.config_url)


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


def _factor_remove(
    *,
    user: User,
    otp: str | None,
    client: Client,
    method: Method,
    device_model: type[TOTPDevice] | type[SmsDevice],
    verified_field: str,
    not_configured: ErrorCode,
) -> User:
    """Remove one factor, pending or verified (step-up first); recovery codes go with the last one."""
    if not device_model.objects.filter(user=user).exists():
        raise ServiceError(not_configured)
    step_up_verify(user=user, otp=otp, client=client)
    with transaction.atomic():
        user = _locked_user(user)
        device_model.objects.filter(user=user).delete()
        setattr(user, verified_field, None)
        _recovery_codes_drop_if_no_factor(user)
        user.save(update_fields=[verified_field])
        security_event_record(
            user=user, type=EventType.FACTOR_REMOVED, client=client, details={"factor": method}
        )
        notifications.factor_removed_notify(user=user, factor=method)
    return user


def totp_device_delete(*, user: User, otp: str | None, client: Client) -> User:
    return _factor_remove(
        user=user,
        otp=otp,
        client=client,
        method=Method.TOTP,
        device_model=TOTPDevice,
        verified_field="totp_verified_at",
        not_configured=ErrorCode.TOTP_NOT_CONFIGURED,
    )


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
        _sms_code_deliver(device=device, purpose=CodePurpose.VERIFY)
        security_event_record(
            user=user,
            type=EventType.FACTOR_ADDED,
            client=client,
            details={"factor": Method.SMS, "phone": phone_obfuscate(number)},
        )
    return user


def sms_device_delete(*, user: User, otp: str | None, client: Client) -> User:
    return _factor_remove(
        user=user,
        otp=otp,
        client=client,
        method=Method.SMS,
        device_model=SmsDevice,
        verified_field="phone_verified_at",
        not_configured=ErrorCode.SMS_NOT_CONFIGURED,
    )


def factors_remove_all(*, user: User, client: Client) -> list[str]:
    """Remove every factor of `user`, pending or verified, and clear their verified dates.

    Support's MFA reset: the caller holds the user row locked, records and notifies.
    Returns the names of the factors that were there.
    """
    removed = []
    for factor, devices in [
        ("TOTP", TOTPDevice.objects.filter(user=user)),
        ("SMS", SmsDevice.objects.filter(user=user)),
        ("RECOVERY_CODES", StaticDevice.objects.filter(user=user)),
    ]:
        deleted, _ = devices.delete()
        if deleted:
            removed.append(factor)
    user.totp_verified_at, user.phone_verified_at = None, None
    user.save(update_fields=["totp_verified_at", "phone_verified_at"])
    return removed


def _recovery_code_new() -> str:
    return "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))


def recovery_codes_generate(*, user: User, otp: str | None, client: Client) -> list[str]:
    """Ten new recovery codes, replacing the old ones; only their keyed hashes are stored."""
    if not user.has_second_factor:
        raise ServiceError(ErrorCode.MFA_NOT_ENABLED)
    step_up_verify(user=user, otp=otp, client=client)
    codes = [_recovery_code_new() for _ in range(settings.RECOVERY_CODE_COUNT)]
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
    return [f"{code[:5]}-{code[5:]}" for code in codes]
