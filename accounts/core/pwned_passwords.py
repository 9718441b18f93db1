"""How often a password appears in Have I Been Pwned's breach corpus, by its k-anonymity range API.

Only the first 5 hex characters of the password's SHA-1 leave the service, with `Add-Padding:
true` so the answer's size says nothing either (NIST SP 800-63B rev 4 §3.1.1.2). The answer is
every suffix of that range with its count; the rest of the hash is matched here.

Why a client of our own on the standard library rather than pwned-passwords-django: README,
"Compromised passwords". In short, its `PWNED_PASSWORDS` setting is a dict where ours is the
on/off switch of the contract, its endpoint is a class attribute, its httpx timeouts bound each
read rather than the whole request, and a failure falls back to another validator silently.

Every failure (no network, a timeout, an HTTP error, an answer that is not a range) is logged,
counted in `auth_pwned_check_failures_total` and answered with None: the caller accepts the
password (fail open). The request runs in a small pool of threads and is waited for at most
`PWNED_PASSWORDS_TIMEOUT_SECONDS` in all, however slowly a server drips its answer; after a
failure the API is left alone for `PWNED_PASSWORDS_BACKOFF_SECONDS`, so a machine without
network answers at once.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from config.metrics import pwned_check_failure_count

logger = logging.getLogger(__name__)

PREFIX_LENGTH = 5
# A padded range is 800-1,000 lines of 35 hex digits and a count: about 40 KB. More is not a range.
RANGE_MAX_BYTES = 256 * 1024
RANGE_LINE = re.compile(r"([0-9A-F]{35}):([0-9,]+)")
USER_AGENT = "auth-service-pwned-check"
# Checks waiting on a slow API hold a thread each; beyond this many they fail open at once.
POOL_THREADS = 4

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_backoff_until = 0.0


class RangeUnavailable(Exception):
    """The range API did not give a usable answer; `reason` is a metric label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def password_sha1(password: str) -> str:
    """The upper-case hex SHA-1 the range API is keyed by (not a password hash: never stored)."""
    return hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()


@sensitive_variables("password")
def password_breach_count(password: str) -> int | None:
    """How many times `password` appears in known breaches; None when that could not be learnt."""
    return sha1_breach_count(password_sha1(password))


def sha1_breach_count(sha1: str) -> int | None:
    """`password_breach_count` for a password known by its SHA-1 (upper-case hex)."""
    global _backoff_until
    if time.monotonic() < _backoff_until:
        _failure(RangeUnavailable("backoff"), log=False)
        return None
    prefix, suffix = sha1[:PREFIX_LENGTH], sha1[PREFIX_LENGTH:]
    timeout = settings.PWNED_PASSWORDS_TIMEOUT_SECONDS
    try:
        body = _range_pool().submit(_range_fetch, prefix, timeout).result(timeout=timeout)
        return _suffix_count(body, suffix)
    except FutureTimeoutError:
        error = RangeUnavailable("timeout")
    except RangeUnavailable as unavailable:
        error = unavailable
    except RuntimeError:  # the pool is shutting down with the process
        error = RangeUnavailable("other")
    _backoff_until = time.monotonic() + settings.PWNED_PASSWORDS_BACKOFF_SECONDS
    _failure(error, log=True)
    return None


def backoff_reset() -> None:
    """Forget a past failure: the next check asks the API again (tests, and an operator's shell)."""
    global _backoff_until
    _backoff_until = 0.0


def _failure(error: RangeUnavailable, *, log: bool) -> None:
    pwned_check_failure_count(reason=error.reason)
    if log:
        logger.warning("Pwned Passwords range API unavailable (%s): the password is accepted", error.reason)


def _range_pool() -> ThreadPoolExecutor:
    """Made on first use, in the process that uses it (after gunicorn forks its workers)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="pwned-range")
        return _pool


def _range_fetch(prefix: str, timeout: float) -> str:
    """GET the range of `prefix`: its body, read within `timeout` in all."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(  # noqa: S310 - the operator's https URL, or a test's fake
        settings.PWNED_PASSWORDS_API_URL + prefix,
        headers={"Add-Padding": "true", "User-Agent": USER_AGENT},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            if response.status != 200:
                raise RangeUnavailable("http_error")
            chunks, size = [], 0
            while chunk := response.read(16 * 1024):
                size += len(chunk)
                if size > RANGE_MAX_BYTES or time.monotonic() > deadline:
                    raise RangeUnavailable("garbage" if size > RANGE_MAX_BYTES else "timeout")
                chunks.append(chunk)
    except urllib.error.HTTPError as error:
        raise RangeUnavailable("http_error") from error
    except TimeoutError as error:
        raise RangeUnavailable("timeout") from error
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise RangeUnavailable("network") from error
    try:
        return b"".join(chunks).decode("ascii")
    except UnicodeDecodeError as error:
        raise RangeUnavailable("garbage") from error


def _suffix_count(body: str, suffix: str) -> int:
    """The count of `suffix` in a range answer; an answer with a line that is not `SUFFIX:COUNT` is garbage."""
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    if not lines:
        raise RangeUnavailable("garbage")
    found = 0
    for line in lines:
        match = RANGE_LINE.fullmatch(line.upper())
        if match is None:
            raise RangeUnavailable("garbage")
        if match.group(1) == suffix:
            found = int(match.group(2).replace(",", "") or 0)
    return found
