"""The task queue (accounts/core/tasks.py): enqueued with the change, sent once, tried again, counted."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from prometheus_client import REGISTRY
from pytest_django import Settings

from accounts.core import notifications
from accounts.core.tasks import delivery_retry_delay, tasks_requeue_abandoned
from accounts.flows import support
from accounts.models import EmailDelivery, User
from config.metrics import task_queue_oldest_seconds
from tests.conftest import TasksRun
from tests.factories import UserFactory, user_with_every_factor

pytestmark = pytest.mark.django_db

REASON = "Ticket 4242: user lost the phone, identity checked by video call"


class FlakyEmailBackend(BaseEmailBackend):
    """An SMTP server down for the first `failures` messages, then up."""

    failures = 0

    def send_messages(self, email_messages: list[EmailMultiAlternatives]) -> int:
        if FlakyEmailBackend.failures > 0:
            FlakyEmailBackend.failures -= 1
            raise smtplib.SMTPServerDisconnected("connection lost")
        mail.outbox.extend(email_messages)
        return len(email_messages)


def failed_count(kind: str) -> float:
    return REGISTRY.get_sample_value("auth_notifications_failed_total", {"kind": kind}) or 0


def test_a_rolled_back_transaction_enqueues_nothing(database_tasks: None, user: User) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        notifications.password_changed_notify(user=user)
        assert DBTaskResult.objects.count() == 1, "written in the transaction of the change"
        raise RuntimeError("the change fails")

    assert DBTaskResult.objects.count() == 0


def test_a_committed_change_has_its_email_once_the_worker_has_run(tasks_run: TasksRun, user: User) -> None:
    with transaction.atomic():
        notifications.password_changed_notify(user=user)
    assert mail.outbox == [], "the answer does not wait for SMTP"

    tasks_run()

    assert [message.to for message in mail.outbox] == [[user.email]]
    assert DBTaskResult.objects.get().status == TaskResultStatus.SUCCESSFUL


def test_a_task_run_again_after_its_email_was_sent_sends_nothing(tasks_run: TasksRun, user: User) -> None:
    """As a worker killed after the commit of the send, before the task's own SUCCESSFUL."""
    notifications.password_changed_notify(user=user)
    tasks_run()
    DBTaskResult.objects.update(status=TaskResultStatus.READY)

    tasks_run()

    assert len(mail.outbox) == 1
    assert DBTaskResult.objects.get().return_value == "already sent"
    assert EmailDelivery.objects.get().sent_at is not None


def test_a_failing_smtp_server_is_tried_again_with_doubling_delays(
    tasks_run: TasksRun, settings: Settings, user: User
) -> None:
    settings.EMAIL_BACKEND = "tests.accounts.core.test_tasks.FlakyEmailBackend"
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 30
    FlakyEmailBackend.failures = 2
    start = timezone.now()
    notifications.mfa_reset_scheduled_notify(user=user, requested_by="support", due_at=start)

    with time_machine.travel(start, tick=False) as clock:
        tasks_run()
        assert mail.outbox == [] and DBTaskResult.objects.ready().count() == 0, "the retry waits 30 s"
        clock.shift(31)
        tasks_run()
        clock.shift(59)
        tasks_run()
        assert mail.outbox == [], "the second retry waits 60 s"
        clock.shift(2)
        tasks_run()

    assert [message.to for message in mail.outbox] == [[user.email]]
    assert [result.return_value for result in DBTaskResult.objects.order_by("enqueued_at")] == [
        "retry scheduled",
        "retry scheduled",
        "sent",
    ]
    assert delivery_retry_delay(3) == timedelta(seconds=120)


def test_after_the_last_attempt_the_task_is_kept_as_failed_and_counted(
    tasks_run: TasksRun, settings: Settings, user: User
) -> None:
    settings.EMAIL_BACKEND = "tests.accounts.core.test_tasks.FlakyEmailBackend"
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 0
    FlakyEmailBackend.failures = 5
    before = failed_count("password_changed")
    notifications.password_changed_notify(user=user)

    tasks_run()

    assert mail.outbox == []
    statuses = list(DBTaskResult.objects.order_by("enqueued_at").values_list("status", flat=True))
    assert statuses == [TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED]
    failed = DBTaskResult.objects.failed().get()
    assert failed.exception_class_path == "accounts.core.tasks.DeliveryFailed"
    assert user.email not in failed.traceback
    assert failed_count("password_changed") == before + 1


def test_the_oldest_waiting_task_is_a_metric(database_tasks: None, user: User) -> None:
    assert task_queue_oldest_seconds() == 0.0
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        notifications.password_changed_notify(user=user)
    with time_machine.travel(start + timedelta(seconds=90), tick=False):
        assert task_queue_oldest_seconds() == pytest.approx(90, abs=1)
        exposition = REGISTRY.get_sample_value("auth_task_queue_oldest_seconds")
    assert exposition == pytest.approx(90, abs=1)


def test_the_immediate_backend_has_no_queue_to_measure() -> None:
    assert task_queue_oldest_seconds() is None


def test_tasks_left_running_by_a_dead_worker_are_made_ready_again(
    database_tasks: None, settings: Settings, user: User
) -> None:
    settings.TASKS_STALE_AFTER_SECONDS = 600
    for _ in range(3):
        notifications.password_changed_notify(user=user)
    mine, others, stale = DBTaskResult.objects.all()
    mine.claim("worker-1")
    others.claim("worker-2")
    with time_machine.travel(timezone.now() - timedelta(seconds=601), tick=False):
        stale.claim("worker-3")

    assert tasks_requeue_abandoned(worker_id="worker-1") == 2

    assert set(DBTaskResult.objects.ready().values_list("pk", flat=True)) == {mine.pk, stale.pk}
    assert DBTaskResult.objects.running().get().pk == others.pk


# --- the operators' commands: no email depends on the command's process ----------------------


def test_the_mfa_reset_command_leaves_its_email_to_the_worker(tasks_run: TasksRun) -> None:
    user, _ = user_with_every_factor()

    call_command("mfa_reset", user.email, "--reason", REASON, stdout=StringIO())
    assert DBTaskResult.objects.ready().count() == 1
    tasks_run()

    assert [message.to for message in mail.outbox] == [[user.email]]
    assert "reset" in mail.outbox[0].subject.lower()


def test_the_mfa_resets_apply_command_leaves_every_email_to_the_worker(tasks_run: TasksRun) -> None:
    users = [user_with_every_factor(phone=f"+3461234567{n}")[0] for n in range(3)]
    staff_member = UserFactory(is_staff=True)
    for user in users:
        support.mfa_reset_schedule(user=user, staff_member=staff_member, reason=REASON)
    tasks_run()
    mail.outbox.clear()
    due_at = User.objects.get(pk=users[0].pk).mfa_reset_due_at

    with time_machine.travel(due_at + timedelta(days=1), tick=False):
        call_command("mfa_resets_apply", stdout=StringIO())
        tasks_run()

    assert sorted(message.to[0] for message in mail.outbox) == sorted(user.email for user in users)
    assert DBTaskResult.objects.ready().count() == 0
