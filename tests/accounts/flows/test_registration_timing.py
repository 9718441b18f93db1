"""Sign-up answers a new and a taken email in the same time (SECURITY.md 12, issue 23 point 4).

What the answer waits for must not depend on whether the email is taken: both paths check
and hash the password, then leave the rest (the lookup, the account or the owner's notice)
to the work done after the answer. Requests are interleaved so that drift on a busy machine
hits both alike, and compared by their medians.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.flows import registration as registration_flows
from accounts.models import User
from config.settings import base
from tests.conftest import commit_callbacks_run, throttle_rate_set
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROUNDS = 60
# How far the median of the rounds' new/taken ratios may be from 1: a few percent.
TOLERANCE = 0.05
PASSWORD = "a perfectly fine passphrase"


@contextlib.contextmanager
def _tasks_deferred() -> Iterator[list[Callable[[], Any]]]:
    """Sign-up's task kept aside rather than run when the request commits (as the test client's
    requests do here): in production it is a row for a worker, run after the answer."""
    deferred: list[Callable[[], Any]] = []
    with mock.patch.object(
        registration_flows,
        "task_enqueue",
        side_effect=lambda task, **arguments: deferred.append(functools.partial(task.call, **arguments)),
    ):
        yield deferred


def _deferred_run(deferred: list[Callable[[], Any]]) -> None:
    with commit_callbacks_run():  # and the emails the task enqueued
        for work in deferred:
            work()
    deferred.clear()


def _timed_registration(client: APIClient, email: str, deferred: list[Callable[[], Any]]) -> float:
    """The time of one sign-up's answer; then the work it left for after the answer, unmeasured."""
    started = time.perf_counter()
    response = client.post("/auth/register", {"email": email, "password": PASSWORD}, format="json")
    elapsed = time.perf_counter() - started
    assert response.status_code == 202, response.json()
    _deferred_run(deferred)
    return elapsed


def _median_ratio(client: APIClient, attempt: int) -> tuple[float, str]:
    """The median over the rounds of new/taken, each round's two requests back to back."""
    taken = [UserFactory().email for _ in range(ROUNDS)]
    new_times, taken_times = [], []
    with _tasks_deferred() as deferred, _gc_paused():
        for warm_up in range(5):
            _timed_registration(client, f"warm-{attempt}-{warm_up}@example.com", deferred)
        for round_ in range(ROUNDS):
            pair = [("new", f"new-{attempt}-{round_}@example.com"), ("taken", taken[round_])]
            for kind, email in pair if round_ % 2 else reversed(pair):
                (new_times if kind == "new" else taken_times).append(
                    _timed_registration(client, email, deferred)
                )
    # Back to back, the two requests of a round share the machine's load: their ratio cancels its drift.
    ratio = statistics.median(new / taken for new, taken in zip(new_times, taken_times, strict=True))
    medians = f"new {statistics.median(new_times) * 1000:.2f} ms, taken {statistics.median(taken_times) * 1000:.2f} ms"
    return ratio, f"median ratio {ratio:.3f}; {medians}"


def test_a_new_and_a_taken_email_take_the_same_time(
    settings, django_capture_on_commit_callbacks: Any
) -> None:
    throttle_rate_set(settings, "register", "100000/hour")
    # The production hasher: the hash is most of a sign-up's time, as in production (tens of ms).
    settings.PASSWORD_HASHERS = base.PASSWORD_HASHERS
    client = APIClient()

    # A second measurement only when the first is off: a real difference (the 10% this test
    # found before the fix) is off in both; a burst of load on a shared machine rarely twice.
    measured = [_median_ratio(client, attempt=0)]
    if abs(measured[0][0] - 1) > TOLERANCE:
        measured.append(_median_ratio(client, attempt=1))

    assert abs(measured[-1][0] - 1) <= TOLERANCE, [summary for _, summary in measured]
    # The work after the answer was done: the accounts exist, and their owners were emailed.
    assert User.objects.filter(email__startswith="new-").count() == ROUNDS * len(measured)
    assert len(mail.outbox) >= ROUNDS * len(measured)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No garbage collection in the middle of one measured request rather than another."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_the_work_after_the_answer_creates_a_new_account_with_the_hash_made_before() -> None:
    with _tasks_deferred() as deferred:
        response = APIClient().post(
            "/auth/register", {"email": "Later@Example.com", "password": PASSWORD}, format="json"
        )
        assert response.status_code == 202
        assert User.objects.get(email="later@example.com").check_password(PASSWORD), "the account exists"
        assert not mail.outbox, "its code waits for the work after the answer"

        _deferred_run(deferred)

    user = User.objects.get(email="later@example.com")
    assert user.check_password(PASSWORD)
    assert mail.outbox[-1].to == ["later@example.com"]
