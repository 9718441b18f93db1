"""Wrong-password throttling, kept in the cache (Redis in production).

Failures are counted per submitted email, whether or not an account has it, so a delay
reveals nothing; and per client IP, counting failures only, so many users behind one
address are not refused. Neither ever locks an account nor touches the second-factor
budget. If the cache is down, the error propagates (503): throttles never switch off.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .errors import ErrorCode, ServiceError


def _email_keys(email: str) -> tuple[str, str]:
    key = "login-failures:email:" + hashlib.sha256(email.encode()).hexdigest()
    return f"{key}:count", f"{key}:last"


def _ip_key(ip: str, now: float) -> tuple[str, float]:
    window = settings.LOGIN_IP_WINDOW_SECONDS
    bucket = int(now // window)
    return f"login-failures:ip:{ip}:{bucket}", (bucket + 1) * window


def failure_delay_seconds(failures: int, *, free: int, cap: int) -> float:
    """No delay for the first `free` failures, then 1 s doubling with each failure, capped."""
    if failures <= free:
        return 0.0
    return float(min(2 ** min(failures - free - 1, 32), cap))


def login_throttle_check(*, email: str, ip: str | None) -> None:
    """Refuse, with the wait, a login attempt that comes too soon after failures."""
    now = time.time()
    count_key, last_key = _email_keys(email)
    state = cache.get_many([count_key, last_key])
    if last_key in state:
        failures, last_failure_at = state.get(count_key, 0), state[last_key]
        delay = failure_delay_seconds(
            failures, free=settings.LOGIN_FAILURES_BEFORE_DELAY, cap=settings.LOGIN_DELAY_MAX_SECONDS
        )
        if last_failure_at + delay > now:
            raise ServiceError(ErrorCode.LOGIN_THROTTLED, retry_after=last_failure_at + delay - now)
    if ip:
        key, window_end = _ip_key(ip, now)
        if (cache.get(key) or 0) >= settings.LOGIN_IP_MAX_FAILURES:
            raise ServiceError(ErrorCode.LOGIN_THROTTLED, retry_after=window_end - now)


def login_failure_record(*, email: str, ip: str | None) -> None:
    now = time.time()
    count_key, last_key = _email_keys(email)
    memory = settings.LOGIN_FAILURE_MEMORY_SECONDS
    cache.add(count_key, 0, timeout=memory)
    cache.incr(count_key)
    cache.set(last_key, now, timeout=memory)
    if ip:
        ip_key, _ = _ip_key(ip, now)
        cache.add(ip_key, 0, timeout=settings.LOGIN_IP_WINDOW_SECONDS)
        cache.incr(ip_key)


def login_failures_forget(*, email: str) -> None:
    cache.delete_many(_email_keys(email))


class RegisterRateThrottle(SimpleRateThrottle):
    """Sign-up requests per IP, whatever the answer (100 an hour by default)."""

    scope = "register"

    def get_rate(self) -> str | None:
        # Read at request time, so a changed setting applies without a restart of the class.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PasswordResetRateThrottle(RegisterRateThrottle):
    scope = "password_reset"
