"""Checking second factors: login codes, step-up, confirming a pending channel; per-account throttling.

Every code check goes through `code_check`, which locks the user row, lifts an expired
lock, refuses an account that may not authenticate or is inside a delay, runs the check
(locking the device row), and counts the outcome in the same transaction. The row lock
makes the check and the count one step, so a burst of concurrent attempts is checked one
after the other against the delay. Errors are raised only after that transaction has
committed, so a failure is always counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.core import notifications
from accounts.core.account_state import account_status_check
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.events import security_event_record
from accounts.core.login_throttles import failure_delay_seconds
from accounts.core.security_changes import security_change_record
from accounts.models import SecurityEvent, User
from otp.challenges import looks_like_step_up_token, step_up_token_redeem
from otp.methods import Channel, Method
from otp.models import CodePurpose, EmailCodeDevice, HashedCodeDevice, SmsDevice
from otp.phone_numbers import phone_obfuscate
from otp.recovery_codes import (
    RECOVERY_CODE_FORMAT,
    RECOVERY_DEVICE_NAME,
    recovery_code_digest,
    recovery_code_normalize,
)
from otp.services.mfa_reset_apply import mfa_reset_apply_if_due

SIX_DIGITS = re.compile(r"[0-9]{6}")
EventType = SecurityEvent.Type
# What a code check may change on the account: its failure streak and lock, and the date a
# channel is confirmed. Only these are written back, not the whole row.
CODE_CHECK_FIELDS = [
    "status",
    "locked_until",
    "otp_failure_count",
    "otp_last_failure_at",
    "otp_failures_notified",
    "email_verified_at",
    "phone_verified_at",
    "totp_verified_at",
]


# --- per-account throttling --------------------------------------------------------------


def otp_delay_remaining(user: User, now: datetime) -> float:
    """Seconds left before the next code may be checked: 1 s from the 3rd failure, doubling."""
    if user.otp_last_failure_at is None:
        return 0.0
    delay = failure_delay_seconds(
        user.otp_failure_count, free=settings.OTP_FAILURES_BEFORE_DELAY, cap=settings.OTP_DELAY_MAX_SECONDS
    )
    return max(0.0, (user.otp_last_failure_at + timedelta(seconds=delay) - now).total_seconds())


def _failure_count_and_record(user: User, *, now: datetime, client: Client, context: str) -> None:
    user.otp_failure_count += 1
    user.otp_last_failure_at = now
    security_event_record(
        user=user,
        type=EventType.SECOND_FACTOR_FAILED,
        client=client,
        details={"context": context, "consecutiveFailures": user.otp_failure_count},
    )


def _lock_record_notify_when_budget_spent(user: User, *, now: datetime, client: Client) -> None:
    """LOCKED after `OTP_FAILURES_BEFORE_LOCK` consecutive failures: recorded, and the user told."""
    if user.otp_failure_count < settings.OTP_FAILURES_BEFORE_LOCK:
        return
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


def _password_known_notify_once(user: User, *, context: str) -> None:
    """Login failures follow a right password: once per streak, tell the user it may be known."""
    if (
        context == "login"
        and user.otp_failure_count >= settings.OTP_FAILURES_BEFORE_NOTIFY
        and not user.otp_failures_notified
    ):
        user.otp_failures_notified = True
        notifications.second_factor_failures_notify(user=user, failures=user.otp_failure_count)


def code_check(
    *,
    user_id: int,
    client: Client,
    context: str,
    check: Callable[[User], Method | Channel | None],
    protective: bool = False,
) -> tuple[User, Method | Channel]:
    """Run `check` on the locked account and count its outcome; raise only after commit.

    `protective`: the check guards an action that only protects the account (cancelling a
    scheduled MFA reset); it does not wait out the delay that failures made, since anyone with
    the password alone can make them (SECURITY.md 26). Its own failures are counted as usual.
    """
    error: ServiceError | None = None
    with transaction.atomic():
        # A support reset that has come due takes effect first: its factors no longer count.
        user = mfa_reset_apply_if_due(User.objects.select_for_update().get(pk=user_id))
        now = timezone.now()
        user.lock_lift_if_expired(now)
        account_status_check(user, now)
        wait = 0.0 if protective else otp_delay_remaining(user, now)
        if wait > 0:
            raise ServiceError(ErrorCode.OTP_THROTTLED, retry_after=wait)
        outcome = check(user)
        if outcome is None:
            _failure_count_and_record(user, now=now, client=client, context=context)
            _lock_record_notify_when_budget_spent(user, now=now, client=client)
            _password_known_notify_once(user, context=context)
            error = ServiceError(ErrorCode.OTP_INVALID)
        else:
            user.otp_failure_count = 0
            user.otp_last_failure_at = None
            user.otp_failures_notified = False
        user.save(update_fields=CODE_CHECK_FIELDS)
    if error is not None:
        raise error
    return user, outcome  # type: ignore[return-value]


# --- what a code is checked against ----------------------------------------------------------


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


def _recovery_code_consume(user: User, code: str) -> int | None:
    """Use up `code` if it is one of the user's recovery codes: the number left, else None."""
    normalized = recovery_code_normalize(code)
    if not RECOVERY_CODE_FORMAT.fullmatch(normalized):
        return None
    device = StaticDevice.objects.select_for_update().filter(user=user, name=RECOVERY_DEVICE_NAME).first()
    if device is None or not device.verify_token(recovery_code_digest(normalized)):
        return None
    return device.token_set.count()


def _recovery_code_use_record_notify(user: User, *, remaining: int, client: Client) -> None:
    security_event_record(
        user=user, type=EventType.RECOVERY_CODE_USED, client=client, details={"remaining": remaining}
    )
    notifications.recovery_code_used_notify(user=user, remaining=remaining)


def _factor_matching(
    user: User, code: str, *, sms_purpose: CodePurpose, methods: list[Method] | None, client: Client
) -> Method | None:
    """The verified factor (among `methods`, or any) that `code` is a fresh code of; a recovery
    code used is recorded and the user told."""

    def allowed(method: Method) -> bool:
        return methods is None or method in methods

    if allowed(Method.TOTP) and user.totp_verified_at and _totp_matches(user, code):
        return Method.TOTP
    if (
        allowed(Method.SMS)
        and user.phone_verified_at
        and _side_channel_verified(SmsDevice, user, code, sms_purpose)
    ):
        return Method.SMS
    if allowed(Method.RECOVERY_CODE) and user.has_second_factor:
        remaining = _recovery_code_consume(user, code)
        if remaining is not None:
            _recovery_code_use_record_notify(user, remaining=remaining, client=client)
            return Method.RECOVERY_CODE
    return None


def login_second_factor_verify(
    *, user: User, code: str, client: Client, method: Method | None = None
) -> Method:
    """Check the `x-otp` of a login: a TOTP code, the SMS login code or a recovery code.

    With `method`, only that factor is tried (the login's `otpMethod`).
    """
    methods = [method] if method is not None else None
    _, matched = code_check(
        user_id=user.pk,
        client=client,
        context="login",
        check=lambda locked: _factor_matching(
            locked, code, sms_purpose=CodePurpose.LOGIN, methods=methods, client=client
        ),
    )
    return Method(matched)


def step_up_verify(*, user: User, otp: str | None, client: Client) -> None:
    """The one rule for sensitive changes (API.md "Second factors and step-up").

    A user with a verified factor must send a fresh code from it: a TOTP code, the latest
    step-up SMS code, an unused recovery code or the token of a passkey step-up. Missing or
    wrong is refused and counted. Call it before, not inside, the transaction of the change
    it guards.
    """
    if not user.has_second_factor:
        return
    code_check(
        user_id=user.pk,
        client=client,
        context="step-up",
        check=lambda locked: _step_up_factor_matching(locked, otp, client=client) if otp else None,
    )


def protective_step_up_verify(*, user: User, otp: str | None, client: Client) -> None:
    """Step-up for an action that only protects the account (cancelling a scheduled MFA reset).

    As `step_up_verify`, but a right code is not refused for the delay that others' failures
    made: someone who knows only the password can make every code wait, and must not keep the
    owner from protecting the account. A wrong or missing code is refused and counted.
    """
    if not user.has_second_factor:
        return
    code_check(
        user_id=user.pk,
        client=client,
        context="step-up",
        check=lambda locked: _step_up_factor_matching(locked, otp, client=client) if otp else None,
        protective=True,
    )


def _step_up_factor_matching(user: User, code: str, *, client: Client) -> Method | None:
    """A step-up `x-otp`: a code of any factor, or the single-use token of a passkey step-up."""
    if user.passkey_count and looks_like_step_up_token(code):
        return Method.WEBAUTHN if step_up_token_redeem(user_id=user.pk, token=code) else None
    return _factor_matching(user, code, sms_purpose=CodePurpose.STEP_UP, methods=None, client=client)


# --- confirming a new email address ---------------------------------------------------------


def email_change_code_verify(
    *, user: User, code: str, client: Client, change: Callable[[User], object]
) -> User:
    """Check the code sent to a new email address and, when it is right, run `change` on the locked
    account in the same transaction; counted like every code (403 otp_invalid when wrong).

    `change` makes the email change (accounts.flows.email_change): code and change commit together.
    """

    def check(locked: User) -> Channel | None:
        if not _side_channel_verified(EmailCodeDevice, locked, code, CodePurpose.EMAIL_CHANGE):
            return None
        change(locked)
        return Channel.EMAIL

    changed, _ = code_check(user_id=user.pk, client=client, context="email-change", check=check)
    return changed


# --- confirming channels ------------------------------------------------------------------


def pending_factors_drop_and_record(user: User, *, keep: Method, client: Client) -> None:
    """A factor was just verified: every other factor still pending goes, recorded.

    A factor started while the account had none needed no step-up; confirming it later,
    once MFA is on, would add a second factor without one.
    """
    pending = [
        (Method.TOTP, TOTPDevice.objects.filter(user=user, confirmed=False)),
        (Method.SMS, SmsDevice.objects.filter(user=user, confirmed=False)),
    ]
    for method, devices in pending:
        if method != keep and devices.delete()[0]:
            security_event_record(
                user=user,
                type=EventType.FACTOR_REMOVED,
                client=client,
                actor=SecurityEvent.Actor.SYSTEM,
                details={"factor": method, "pending": True, "because": f"{keep} was verified"},
            )


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
    phone = phone_obfuscate(device.number)
    security_event_record(
        user=user,
        type=EventType.FACTOR_VERIFIED,
        client=client,
        details={"factor": Method.SMS, "phone": phone},
    )
    pending_factors_drop_and_record(user, keep=Method.SMS, client=client)
    security_change_record(user=user, at=user.phone_verified_at)
    notifications.factor_added_notify(user=user, factor=Method.SMS, phone=phone)
    return Channel.SMS


def _totp_confirm(user: User, code: str, client: Client) -> Channel | None:
    if not _totp_matches(user, code, confirmed=False):
        return None
    TOTPDevice.objects.filter(user=user).update(confirmed=True)
    user.totp_verified_at = timezone.now()
    security_event_record(
        user=user, type=EventType.FACTOR_VERIFIED, client=client, details={"factor": Method.TOTP}
    )
    pending_factors_drop_and_record(user, keep=Method.TOTP, client=client)
    security_change_record(user=user, at=user.totp_verified_at)
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
    confirmed_user, _ = code_check(
        user_id=user.pk,
        client=client,
        context=f"confirm-{channel.lower()}",
        check=lambda locked: confirm(locked, code, client),
    )
    return confirmed_user
