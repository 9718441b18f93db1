"""A due MFA reset met by many logins and sweeps at once is applied once (real row locks: PostgreSQL only)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from rest_framework.test import APIClient

from accounts.flows import support
from accounts.models import MfaResetRequest, SecurityEvent, User
from otp.services.mfa_reset_apply import mfa_reset_apply_if_due, mfa_resets_apply_due
from tests.factories import DEFAULT_PASSWORD, user_with_every_factor

THREADS = 8

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite has no row locks (SELECT ... FOR UPDATE), so it cannot race",
    ),
    pytest.mark.django_db(transaction=True),
]


def _scheduled_user() -> User:
    user, _ = user_with_every_factor()
    support.mfa_reset_schedule(user=user, staff_member=None, reason="race")
    user.refresh_from_db()
    return user


def test_a_login_code_checks_and_sweeps_at_once_apply_a_due_reset_once() -> None:
    # One login only: concurrent logins of one email meet the login throttle's reservation
    # (reported to the integrator), which is not what this test is about.
    user = _scheduled_user()
    barrier = threading.Barrier(THREADS)
    answers: list[object] = [None] * THREADS

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            if index == 0:
                response = APIClient().post(
                    "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
                )
                answers[index] = response.status_code
            elif index % 2:
                answers[index] = mfa_resets_apply_due()
            else:
                # `user` was read before the reset: each thread finds it due.
                answers[index] = mfa_reset_apply_if_due(user).mfa_reset_due_at
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            answers[index] = error
        finally:
            connection.close()

    with time_machine.travel(user.mfa_reset_due_at + timedelta(seconds=1)):
        threads = [threading.Thread(target=run, args=(index,)) for index in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    sweeps = [answers[index] for index in range(1, THREADS, 2)]
    appliers = [answers[index] for index in range(2, THREADS, 2)]
    assert answers[0] == 200, answers
    assert all(isinstance(applied, int) for applied in sweeps) and sum(sweeps) <= 1, answers
    assert appliers == [None] * len(appliers), answers
    assert SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.MFA_RESET).count() == 1
    assert MfaResetRequest.objects.get(user=user).state == MfaResetRequest.State.DONE


def test_the_sweep_skips_an_account_someone_else_holds_and_takes_it_next_time() -> None:
    user = _scheduled_user()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction.atomic():
            User.objects.select_for_update().get(pk=user.pk)
            held.set()
            release.wait(timeout=10)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(timeout=10)
    with time_machine.travel(user.mfa_reset_due_at + timedelta(seconds=1)):
        skipped = mfa_resets_apply_due()
        release.set()
        holder.join(timeout=10)
        applied = mfa_resets_apply_due()

    assert (skipped, applied) == (0, 1)
