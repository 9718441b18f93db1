"""Wrong-password throttling: attempts reserved atomically before the check, on Redis and locally."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.cache import caches
from django.utils import timezone

from accounts.core import login_throttles
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.login_throttles import (
    failure_delay_seconds,
    login_attempt_reserve,
    login_failures_forget,
    login_ip_failure_record,
)
from config.cache import RedisCache

EMAIL = "burst@example.com"


def _reserved(email: str = EMAIL) -> bool:
    try:
        login_attempt_reserve(email=email, ip=None)
    except ServiceError as error:
        assert error.code == ErrorCode.LOGIN_THROTTLED
        return False
    return True


def test_a_burst_of_twenty_gets_exactly_the_free_attempts_and_one_more() -> None:
    """The failing review: 20 at once were all checked. Now the delay meets them as a sequence."""
    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(lambda _: _reserved(), range(20)))
    # The 6th attempt follows 5 failures, which the delay still allows; the 7th meets 1 s.
    assert outcomes.count(True) == settings.LOGIN_FAILURES_BEFORE_DELAY + 1


def test_a_refused_attempt_is_not_counted_and_does_not_move_the_delay() -> None:
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(settings.LOGIN_FAILURES_BEFORE_DELAY + 1):
            assert _reserved()
        for _ in range(5):
            assert not _reserved()  # inside the 1 s delay
        clock.move_to(start + timedelta(seconds=1))
        assert _reserved()  # 1 s after the last counted attempt, not after the refused ones


@pytest.mark.parametrize("failures", range(12))
def test_the_delay_follows_failure_delay_seconds(failures: int) -> None:
    """The Redis script and the local lock implement the same rule (each suite pass runs one)."""
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    delay = failure_delay_seconds(
        failures, free=settings.LOGIN_FAILURES_BEFORE_DELAY, cap=settings.LOGIN_DELAY_MAX_SECONDS
    )
    with time_machine.travel(start, tick=False) as clock:
        for index in range(failures):
            clock.move_to(start + timedelta(hours=index))  # each one well after the last
            assert _reserved()
        last = start + timedelta(hours=max(failures - 1, 0))
        if delay:
            clock.move_to(last + timedelta(seconds=delay - 0.01))
            assert not _reserved()
        clock.move_to(last + timedelta(seconds=delay))
        assert _reserved()


def test_a_success_forgets_the_count() -> None:
    for _ in range(settings.LOGIN_FAILURES_BEFORE_DELAY + 1):
        assert _reserved()
    login_failures_forget(email=EMAIL)
    assert all(_reserved() for _ in range(settings.LOGIN_FAILURES_BEFORE_DELAY + 1))


def test_a_login_recorded_after_the_attempts_forgets_them_at_the_next() -> None:
    """The API's login records `last_login` instead of sending `login_failures_forget`."""
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(settings.LOGIN_FAILURES_BEFORE_DELAY + 1):
            assert _reserved()
        clock.move_to(start + timedelta(milliseconds=300))
        succeeded = timezone.now()  # the last of them was the right password: its login recorded
        clock.move_to(succeeded + timedelta(milliseconds=1))
        assert all(_reserved_after(succeeded) for _ in range(settings.LOGIN_FAILURES_BEFORE_DELAY + 1))
        assert not _reserved_after(succeeded)  # attempts after the success still count


def test_a_login_before_the_last_attempt_forgets_nothing() -> None:
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        succeeded = timezone.now()
        clock.move_to(start + timedelta(milliseconds=1))
        for _ in range(settings.LOGIN_FAILURES_BEFORE_DELAY + 1):
            assert _reserved_after(succeeded)
        assert not _reserved_after(succeeded)


def _reserved_after(last_success: datetime) -> bool:
    try:
        login_attempt_reserve(email=EMAIL, ip=None, last_success=last_success)
    except ServiceError:
        return False
    return True


def test_emails_are_counted_apart() -> None:
    for _ in range(settings.LOGIN_FAILURES_BEFORE_DELAY + 1):
        assert _reserved()
    assert not _reserved()
    assert _reserved("someone.else@example.com")


def test_no_attempt_is_refused_while_no_delay_applies() -> None:
    """A concurrent attempt whose clock reads a little earlier than the last one stored (another
    worker's) used to be refused even inside the free attempts."""
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        assert _reserved()
        clock.move_to(start - timedelta(milliseconds=5))
        assert _reserved()


def test_a_spent_ip_budget_refuses_without_counting_the_email(settings) -> None:
    settings.LOGIN_IP_MAX_FAILURES = 2
    for _ in range(2):
        login_ip_failure_record(ip="203.0.113.9")
    with pytest.raises(ServiceError) as refused:
        login_attempt_reserve(email=EMAIL, ip="203.0.113.9")
    assert refused.value.code == ErrorCode.LOGIN_THROTTLED
    assert 0 < refused.value.retry_after <= settings.LOGIN_IP_WINDOW_SECONDS
    # The email's own budget is untouched: its free attempts are all there from another address.
    assert all(_reserved() for _ in range(settings.LOGIN_FAILURES_BEFORE_DELAY + 1))
    assert not _reserved()


def test_on_redis_the_reservation_is_one_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    """The IP's budget and the email's attempt are read and counted by one script, no other command."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        pytest.skip("the local-memory cache has no round trips (CACHE_URL is not Redis)")
    client = backend._cache.get_client(write=True)
    commands: list[str] = []
    original = client.execute_command

    def counted(*args, **kwargs):
        commands.append(str(args[0]))
        return original(*args, **kwargs)

    backend.script(login_throttles.ATTEMPT_RESERVE_LUA)  # loaded once per process, before counting
    monkeypatch.setattr(client, "execute_command", counted)
    login_attempt_reserve(email=EMAIL, ip="203.0.113.10")
    assert commands == ["EVALSHA"]
