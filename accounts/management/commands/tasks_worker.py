"""`manage.py tasks_worker`: the process that sends the emails, beside gunicorn in production.

django-tasks-db's `db_worker` (same options: `--batch`, `--max-tasks`, `--interval`, ...), which
first makes READY again the tasks a dead worker left RUNNING (`tasks_requeue_abandoned`). Give
every worker a stable id unique in the pool (`--worker-id`, e.g. the host and a systemd instance):
a worker killed in the middle of a task then runs it again as soon as it is restarted.
"""

from __future__ import annotations

from typing import Any

from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from accounts.core.tasks import tasks_requeue_abandoned


class Command(DbWorkerCommand):
    help = (
        "Run the task queue's worker (emails): django-tasks-db's db_worker, after making READY again "
        "the tasks a dead worker left RUNNING (those of this --worker-id, and those older than "
        "TASKS_STALE_AFTER_SECONDS)."
    )

    def handle(self, *args: Any, worker_id: str, backend_name: str, **options: Any) -> None:
        requeued = tasks_requeue_abandoned(worker_id=worker_id, backend_name=backend_name)
        if requeued:
            self.stdout.write(f"{requeued} task(s) left RUNNING by a dead worker made READY again.")
        super().handle(*args, worker_id=worker_id, backend_name=backend_name, **options)
