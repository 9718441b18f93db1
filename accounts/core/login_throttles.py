"""Wrong-password throttling, kept in the cache (Redis in production)."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime

from django.conf import settings
from django.core.cache import cache

from accounts.core.errors import ErrorCode, ServiceError
from config.cache import cache_step_atomic


def _email_keys(email: str) -> tuple[str, str]:
    key = "login-failures:email:" + hashlib.sha256(email.encode()).hexdigest()
    return f"{key}:count", f"{key}:last-ms"


def _ip_key(ip: str, now: float) -> tuple[str, float]:
    window = settings.LOGIN_IP_WINDOW_SECONDS
    bucket = int(now // window)
    return f"login-failures:ip:{ip}:{bucket}", (bucket + 1) * window


def failure_delay_seconds(failures: int, *, free: int, cap: int) -> float:
    """No delay for the first `free` failures, then 1 s doubling with each failure, capped."""
    if failures <= free:
        return 0.0
    return float(min(2 ** min(failures - free - 1, 32), cap))


# The reservation of `_attempt_reserve_locally` as one Redis script: one round trip, atomic
# across every worker. `failure_delay_seconds` written in Lua; tests check both agree.
# KEYS: the email's count and last attempt, the IP's failures in this window (or none).
# ARGV: free failures, delay cap (s), now (ms), memory (ms), the IP's failure budget, the last
# successful login of the email's account (ms; -1: none), which forgets the attempts before it.
# Answers IP_REFUSED when the IP's budget is spent (nothing counted), else the wait in ms (0: go on).
ATTEMPT_RESERVE_LUA = """
if KEYS[3] and tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[5]) then return -1 end
local success = tonumber(ARGV[6])
if success >= 0 and success >= tonumber(redis.call('GET', KEYS[2]) or '-1') then
  redis.call('DEL', KEYS[1], KEYS[2])
end
local attempts = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local last = tonumber(redis.call('GET', KEYS[2]) or '-1')
local failures, free, cap, now = attempts - 1, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local delay = 0
if failures > free then delay = math.min(2 ^ math.min(failures - free - 1, 32), cap) * 1000 end
if delay > 0 and last >= 0 and last + delay > now then
  redis.call('DECR', KEYS[1])
  return last + delay - now
end
redis.call('SET', KEYS[2], now, 'PX', ARGV[4])
return 0
"""
IP_REFUSED = -1


def _attempt_reserve_locally(keys: list[str], *, now_ms: int, success_ms: int, free: int, cap: int) -> int:
    """`ATTEMPT_RESERVE_LUA` with Django's cache API, for a cache that lives in this process."""
    count_key, last_key, *ip_key = keys
    if ip_key and (cache.get(ip_key[0]) or 0) >= settings.LOGIN_IP_MAX_FAILURES:
        return IP_REFUSED
    if success_ms >= 0 and success_ms >= cache.get(last_key, -1):
        cache.delete_many([count_key, last_key])
    memory = settings.LOGIN_FAILURE_MEMORY_SECONDS
    cache.add(count_key, 0, timeout=memory)
    attempts = cache.incr(count_key)
    last = cache.get(last_key)
    delay_ms = int(failure_delay_seconds(attempts - 1, free=free, cap=cap) * 1000)
    if delay_ms and last is not None and last + delay_ms > now_ms:
        cache.decr(count_key)
        return last + delay_ms - now_ms
    cache.set(last_key, now_ms, timeout=memory)
    return 0


def _attempt_reserve(keys: list[str], *, success_ms: int, free: int, cap: int) -> int:
    """Count an attempt before it is checked, in one atomic step; the milliseconds to wait if
    refused, or IP_REFUSED when the IP's failures are spent (`keys`: see ATTEMPT_RESERVE_LUA).

    Every attempt counts as a failure until a success forgets the count, so a burst of
    concurrent attempts meets the delay as a sequence would: the check runs after the count.
    A refused attempt is not counted and does not move the delay on. Without a delay nothing is
    refused, whatever the clocks of concurrent workers say. A successful login at `success_ms`
    (-1: none) forgets the attempts counted before it, as `login_failures_forget` would have.
    """
    now_ms = int(time.time() * 1000)
    return cache_step_atomic(
        ATTEMPT_RESERVE_LUA,
        keys=keys,
        args=[
            free,
            cap,
            now_ms,
            settings.LOGIN_FAILURE_MEMORY_SECONDS * 1000,
            settings.LOGIN_IP_MAX_FAILURES,
            success_ms,
        ],
        locally=lambda: _attempt_reserve_locally(
            keys, now_ms=now_ms, success_ms=success_ms, free=free, cap=cap
        ),
    )


def login_attempt_reserve(*, email: str, ip: str | None, last_success: datetime | None = None) -> None:
    """Before a password is checked: refuse, with the wait, an attempt too soon after failures.

    The attempt is counted against the email first (see `_attempt_reserve`); the per-IP
    budget counts failures only, so many users behind one address are not refused. Both are
    read in one round trip to the cache. `last_success` is the account's last login: the
    attempts counted before it are forgotten first (a login recorded after its password was
    checked needs no `login_failures_forget` of its own).
    """
    keys = list(_email_keys(email))
    if ip:
        ip_key, window_end = _ip_key(ip, time.time())
        keys.append(ip_key)
    wait_ms = _attempt_reserve(
        keys,
        success_ms=int(last_success.timestamp() * 1000) if last_success is not None else -1,
        free=settings.LOGIN_FAILURES_BEFORE_DELAY,
        cap=settings.LOGIN_DELAY_MAX_SECONDS,
    )
    if wait_ms == IP_REFUSED:
        raise ServiceError(ErrorCode.LOGIN_THROTTLED, retry_after=window_end - time.time())
    if wait_ms > 0:
        raise ServiceError(ErrorCode.LOGIN_THROTTLED, retry_after=wait_ms / 1000)


def login_ip_budget_check(*, ip: str | None) -> None:
    """Refuse, with the wait, a login from an IP whose failed logins of this window reached the limit.

    The budget of every way to log in without an account to count on: passwords, and passkeys
    alone (whose failures are no one's until a signature verifies).
    """
    if ip:
        key, window_end = _ip_key(ip, time.time())
        if (cache.get(key) or 0) >= settings.LOGIN_IP_MAX_FAILURES:
            raise ServiceError(ErrorCode.LOGIN_THROTTLED, retry_after=window_end - time.time())


def login_ip_failure_record(*, ip: str | None) -> None:
    """A wrong password from `ip` (the email's count was taken when the attempt was reserved)."""
    if ip:
        ip_key, _ = _ip_key(ip, time.time())
        cache.add(ip_key, 0, timeout=settings.LOGIN_IP_WINDOW_SECONDS)
        cache.incr(ip_key)


def login_failures_forget(*, email: str) -> None:
    cache.delete_many(_email_keys(email))
