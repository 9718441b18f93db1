"""The task queue: work that must happen once a change commits, and survive the process that made it.

Every email leaves through Django's tasks API (the django-tasks backport; `django.tasks` from
Django 6 on). With the database backend (production) a task is a row written in the transaction
of the change it reports: a committed change always has its email, a rolled-back one none, and a
worker (`manage.py tasks_worker`) runs it even if the process that made the change is gone. With
the immediate backend (`make run`, the tests) the task runs in this process once the transaction
commits, so a rolled-back change sends nothing there either.

An email is sent at most once per delivery: `delivery_run` locks an `EmailDelivery` row, sends
and marks the row sent in one transaction. A task run again (a retry, a worker restarted after a
crash) finds the row sent and sends nothing. One window is left, and no queue can close it with
SMTP: the server accepted the message and the worker died (or lost the database) before the
commit that marks it sent. The row is then still unsent and the email goes a second time; it is
a few milliseconds wide, against every email of a minute lost with the threads this replaced.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, TaskResultStatus
from django_tasks.base import Task
from django_tasks.utils import normalize_json
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from accounts.core.errors import ServiceError
from accounts.models import EmailDelivery
from config.metrics import notification_failed_count

logger = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """The last attempt at an email failed: its task is kept as failed, and counted."""


def task_enqueue(task: Task, **arguments: Any) -> None:
    """Enqueue `task` with `arguments` as part of the current transaction.

    The database backend writes the task in the transaction itself. Any other backend hands the
    task over (runs it, for the immediate one) only once the transaction commits. Arguments must
    be JSON: the same check on every backend, so a test on the immediate one catches what the
    database one would refuse.
    """
    arguments = normalize_json(arguments)
    if isinstance(task.get_backend(), DatabaseBackend):
        task.enqueue(**arguments)
    else:
        transaction.on_commit(functools.partial(task.enqueue, **arguments))


def delivery_retry_delay(attempt: int) -> timedelta:
    """How long after failed attempt number `attempt` (1, 2, ...) the next one runs: doubling."""
    return timedelta(seconds=settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** (attempt - 1))


def delivery_run(*, task: Task, arguments: dict[str, Any], kind: str, send: Callable[[], None]) -> str:
    """Run `send` for the delivery `arguments["delivery_id"]` unless it was sent already.

    `task` is the running task and `arguments` its keyword arguments, `attempt` among them: a
    failing SMTP server (`send` raises ServiceError) schedules the next attempt, with a doubling
    delay, up to `NOTIFICATION_MAX_ATTEMPTS`; after the last one DeliveryFailed is raised, so the
    task is kept as failed, and `auth_notifications_failed_total` counts it. The immediate backend
    cannot defer a task: there the first failure is the last. Returns what happened, for the
    task's result: `sent`, `already sent` or `retry scheduled`.
    """
    delivery_id, attempt = arguments["delivery_id"], arguments["attempt"]
    # Insert-if-missing, then lock: two runs of one delivery meet on one row.
    EmailDelivery.objects.bulk_create([EmailDelivery(id=delivery_id, kind=kind)], ignore_conflicts=True)
    try:
        with transaction.atomic():
            delivery = EmailDelivery.objects.select_for_update().get(pk=delivery_id)
            if delivery.sent_at is not None:
                return "already sent"
            send()
            delivery.sent_at = timezone.now()
            delivery.save(update_fields=["sent_at"])
        return "sent"
    except ServiceError as error:
        can_defer = task.get_backend().supports_defer
        if can_defer and attempt < settings.NOTIFICATION_MAX_ATTEMPTS:
            run_after = timezone.now() + delivery_retry_delay(attempt)
            task_enqueue(task.using(run_after=run_after), **{**arguments, "attempt": attempt + 1})
            logger.warning("Email %s (attempt %d) failed; tried again at %s", kind, attempt, run_after)
            return "retry scheduled"
        notification_failed_count(kind=kind)
        reason = error.__cause__.__class__.__name__ if error.__cause__ else error.code
        logger.error("Email %s was not sent after %d attempt(s): %s", kind, attempt, reason)
        # Without the SMTP error chained: its text may hold the address, and the task keeps its traceback.
        raise DeliveryFailed(f"{kind} not sent after {attempt} attempt(s): {reason}") from None


def tasks_requeue_abandoned(*, worker_id: str, backend_name: str = DEFAULT_TASK_BACKEND_ALIAS) -> int:
    """Make READY again the RUNNING tasks that no worker runs any more; how many.

    Those `worker_id` had claimed: a worker starting under that id died in its previous life (a
    SIGKILL, the OOM killer, a lost machine restarted), so ids must be unique across the pool.
    And those RUNNING for longer than `TASKS_STALE_AFTER_SECONDS`, whose worker never came back.
    A task run twice this way sends its email once (`delivery_run`); a task that only records an
    event (`login_failure_record`) may record it twice.
    """
    stale_before = timezone.now() - timedelta(seconds=settings.TASKS_STALE_AFTER_SECONDS)
    running = DBTaskResult.objects.running().filter(backend_name=backend_name)
    abandoned = [
        task_result.pk
        for task_result in running.only("id", "worker_ids", "started_at")
        if task_result.worker_ids[-1:] == [worker_id]
        or (task_result.started_at is not None and task_result.started_at < stale_before)
    ]
    return (
        DBTaskResult.objects.running()
        .filter(pk__in=abandoned)
        .update(status=TaskResultStatus.READY, started_at=None)
    )
