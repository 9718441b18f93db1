"""Sending one-time codes by SMS and email, within the resend cool-downs and the SMS budget.

SMS spend is bounded (SMS pumping): a resend cool-down per device and per user, and daily
caps per user, per number and overall. A refusal or a gateway outage refunds the budget.
An SMS code is sent in the request (the user waits for it; 503 when the gateway is down); an
email code is a task of the request's transaction (accounts/core/tasks.py), retried while the
SMTP server is down, and made by that task so no code in clear is ever stored, not even in the queue.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task

from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.mail import email_send
from accounts.core.tasks import delivery_run, task_enqueue
from accounts.models import User
from config.cache import cache_step_atomic
from config.metrics import sms_refused_count, sms_sent_count
from otp.methods import Channel
from otp.models import CodePurpose, EmailCodeDevice, HashedCodeDevice, SmsDevice
from otp.sms_backends import SmsDeliveryError, sms_send

SMS_BUDGET_MEMORY_SECONDS = 2 * 24 * 60 * 60


@dataclass(frozen=True)
class CodeSent:
    channel: Channel
    valid_until: datetime
    validated: bool


def _seconds_to_next_utc_day(now: datetime) -> float:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


# Count one message against every cap at once; over a cap, nothing stays counted. One round
# trip to Redis, atomic across workers; `_counters_spend_locally` is the same for a local cache.
COUNTERS_SPEND_LUA = """
local ttl = tonumber(ARGV[#ARGV])
for index, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ttl) end
  if count > tonumber(ARGV[index]) then
    for spent = 1, index do redis.call('DECR', KEYS[spent]) end
    return index
  end
end
return 0
"""


def _counters_spend_locally(caps: list[tuple[str, int]]) -> int:
    """`COUNTERS_SPEND_LUA` with Django's cache API, for a cache that lives in this process."""
    for index, (key, cap) in enumerate(caps, start=1):
        cache.add(key, 0, timeout=SMS_BUDGET_MEMORY_SECONDS)
        if cache.incr(key) > cap:
            for spent, _ in caps[:index]:
                cache.decr(spent)
            return index
    return 0


def _counters_spend(caps: list[tuple[str, int]]) -> str | None:
    """Add one to every counter of `caps` if none would pass its cap: None; else nothing is
    added and the answer is the key of the cap reached."""
    over = cache_step_atomic(
        COUNTERS_SPEND_LUA,
        keys=[key for key, _ in caps],
        args=[*(cap for _, cap in caps), SMS_BUDGET_MEMORY_SECONDS],
        locally=lambda: _counters_spend_locally(caps),
    )
    return caps[over - 1][0] if over else None


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
    reached = _counters_spend(caps)
    if reached is not None:
        sms_refused_count(cap=reached.split(":")[1])
        raise ServiceError(ErrorCode.OTP_ATTEMPTS_EXHAUSTED, retry_after=_seconds_to_next_utc_day(now))
    return [key for key, _ in caps]


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


def sms_code_deliver(*, device: SmsDevice, purpose: CodePurpose) -> CodeSent:
    """Send a code to `device` (locked by the caller's transaction); a gateway failure is 503."""
    now = timezone.now()
    _cooldown_check(device)
    _sms_user_cooldown_check(user_id=device.user_id, now=now)
    spent = _sms_budget_spend(user=device.user, number=device.number, now=now)
    code = device.code_generate(purpose=purpose)
    with translation.override(device.user.language):
        body = _("%(code)s is your %(service)s code. It expires in %(minutes)d minutes.") % {
            "code": code,
            "service": settings.SERVICE_NAME,
            "minutes": settings.OTP_CODE_VALIDITY_SECONDS // 60,
        }
    try:
        sms_send(to=device.number, body=body)
    except SmsDeliveryError as error:
        _sms_budget_refund(spent)
        raise ServiceError(ErrorCode.SMS_UNAVAILABLE) from error
    sms_sent_count(purpose=purpose)
    cache.set(
        _sms_last_sent_key(device.user_id), now.timestamp(), timeout=settings.SMS_RESEND_COOLDOWN_SECONDS + 1
    )
    return CodeSent(channel=Channel.SMS, valid_until=device.valid_until, validated=device.confirmed)


@transaction.atomic
def email_verification_code_send(*, user: User) -> CodeSent:
    """Email a verification code once the transaction commits (sign-up and resend share the
    cool-down, which starts now). The code is valid at least until the answer's `valid_until`."""
    if user.email_verified:
        raise ServiceError(ErrorCode.CHANNEL_ALREADY_VERIFIED)
    device = _email_code_device_locked(user)
    _cooldown_check(device)
    device.cooldown_set()
    task_enqueue(email_verification_code_deliver, delivery_id=str(uuid.uuid4()), user_id=user.pk)
    valid_until = timezone.now() + timedelta(seconds=settings.OTP_CODE_VALIDITY_SECONDS)
    return CodeSent(channel=Channel.EMAIL, valid_until=valid_until, validated=False)


@task()
def email_verification_code_deliver(*, delivery_id: str, user_id: int, attempt: int = 1) -> str:
    """The task behind `email_verification_code_send`: a fresh code, stored (hashed) only with
    the email that carries it, in one transaction. Nothing is sent once the email is verified."""

    def send() -> None:
        device = (
            EmailCodeDevice.objects.select_for_update().select_related("user").filter(user_id=user_id).first()
        )
        if device is None or device.user.email_verified:
            return
        code = device.code_generate(purpose=CodePurpose.VERIFY)
        email_send(
            to=device.user.email,
            language=device.user.language,
            template="verification_code",
            context={"code": code, "minutes": settings.OTP_CODE_VALIDITY_SECONDS // 60},
            anti_phishing_code=device.user.anti_phishing_code,
        )

    return delivery_run(
        task=email_verification_code_deliver,
        arguments={"delivery_id": delivery_id, "user_id": user_id, "attempt": attempt},
        kind="verification_code",
        send=send,
    )


def _email_code_device_locked(user: User) -> EmailCodeDevice:
    # Insert-if-missing, then lock: two first requests at once meet on one row (rather than
    # one failing on the unique user), and the second then meets the cool-down.
    EmailCodeDevice.objects.bulk_create(
        [EmailCodeDevice(user=user, name="Email", confirmed=False)], ignore_conflicts=True
    )
    return EmailCodeDevice.objects.select_for_update().get(user=user)


@transaction.atomic
def email_change_code_send(*, user: User, new_email: str, deliver: bool) -> datetime:
    """Email a code confirming `new_email` once the transaction commits; until when the change may be confirmed.

    The user's email code device holds it, HMAC'd and bound to its purpose, made by the task that
    sends it (so it is never stored in clear, not even in the task). The resend cool-down is the
    email verification's. Any code sent before is discarded now: it proved another address.
    `deliver=False` takes the same steps and sends nothing, for an address that cannot be given
    (its owner is told instead, by the caller).
    """
    device = _email_code_device_locked(user)
    _cooldown_check(device)
    device.cooldown_set(commit=False)
    device.token, device.purpose, device.valid_until = None, "", timezone.now()
    device.save()
    if deliver:
        task_enqueue(
            email_change_code_deliver, delivery_id=str(uuid.uuid4()), user_id=user.pk, new_email=new_email
        )
    return timezone.now() + timedelta(seconds=settings.OTP_CODE_VALIDITY_SECONDS)


@task()
def email_change_code_deliver(*, delivery_id: str, user_id: int, new_email: str, attempt: int = 1) -> str:
    """The task behind `email_change_code_send`: a fresh code, stored (hashed) only with the email that
    carries it. Nothing is sent once the change is no longer pending for `new_email`."""

    def send() -> None:
        device = (
            EmailCodeDevice.objects.select_for_update().select_related("user").filter(user_id=user_id).first()
        )
        if device is None or device.user.email_change_pending() != new_email:
            return
        code = device.code_generate(purpose=CodePurpose.EMAIL_CHANGE)
        email_send(
            to=new_email,
            language=device.user.language,
            template="email_change_code",
            context={"code": code, "minutes": settings.OTP_CODE_VALIDITY_SECONDS // 60},
            anti_phishing_code=device.user.anti_phishing_code,
        )

    return delivery_run(
        task=email_change_code_deliver,
        arguments={
            "delivery_id": delivery_id,
            "user_id": user_id,
            "new_email": new_email,
            "attempt": attempt,
        },
        kind="email_change_code",
        send=send,
    )


def email_change_code_discard(*, user: User) -> None:
    """The pending email-change code of `user` no longer works (the change was cancelled)."""
    EmailCodeDevice.objects.filter(user=user, purpose=CodePurpose.EMAIL_CHANGE).update(
        token=None, purpose="", valid_until=timezone.now()
    )


@transaction.atomic
def sms_code_send(*, user: User) -> CodeSent:
    """`GET /auth/otp/code?method=SMS`: verify a pending phone, or a step-up code for a verified one."""
    device = SmsDevice.objects.select_for_update().select_related("user").filter(user=user).first()
    if device is None:
        raise ServiceError(ErrorCode.METHOD_NOT_ALLOWED, detail=_("No phone is set up."))
    purpose = CodePurpose.STEP_UP if device.confirmed else CodePurpose.VERIFY
    return sms_code_deliver(device=device, purpose=purpose)


@transaction.atomic
def login_sms_code_send(*, user: User) -> CodeSent:
    device = (
        SmsDevice.objects.select_for_update().select_related("user").filter(user=user, confirmed=True).first()
    )
    if device is None:
        raise ServiceError(ErrorCode.METHOD_NOT_ALLOWED)
    return sms_code_deliver(device=device, purpose=CodePurpose.LOGIN)


def verification_code_send(*, user: User, channel: Channel) -> CodeSent:
    if channel == Channel.EMAIL:
        return email_verification_code_send(user=user)
    return sms_code_send(user=user)
