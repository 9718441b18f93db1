"""The worker as production runs it: `manage.py tasks_worker` processes, an SMTP server on a socket.

PostgreSQL only: the worker processes need the committed rows of a database they share with
the test, and the recovery of a killed worker needs PostgreSQL's row locks (SQLite's file lock
is no model of it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from pytest_django import Settings
from rest_framework.test import APIClient

from accounts.core import notifications
from tests.conftest import DATABASE_TASKS, USER_AGENT
from tests.factories import UserFactory

PROJECT_DIR = Path(__file__).resolve().parents[3]
WAIT_SECONDS = 30

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: worker processes share the test's committed rows, and a killed "
        "worker's lock is released by the server (SQLite has neither)",
    ),
    pytest.mark.django_db(transaction=True),
]


class SmtpServer(socketserver.ThreadingTCPServer):
    """Just enough SMTP for Django's backend, on an ephemeral port: refuses every connection
    (421) while `down`; `on_message` may hold a message, or refuse it (451) by returning False."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SmtpSession)
        self.down = False
        self.refused = 0
        self.messages: list[bytes] = []
        self.on_message: Callable[[bytes], bool] = lambda message: True

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.server_address[1]}"

    def recipients(self) -> list[str]:
        return sorted(
            line.split(b":", 1)[1].strip().decode()
            for message in self.messages
            for line in message.splitlines()
            if line.startswith(b"To:")
        )


class SmtpSession(socketserver.StreamRequestHandler):
    server: SmtpServer

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        # OSError: the client died (a killed worker).
        with contextlib.suppress(OSError):
            self.converse()

    def converse(self) -> None:
        if self.server.down:
            self.server.refused += 1
            self.reply("421 service not available")
            return
        self.reply("220 localhost")
        while line := self.rfile.readline():
            command = line[:4].upper()
            if command == b"DATA":
                self.reply("354 end with .")
                message = b"".join(iter(lambda: self.rfile.readline(), b".\r\n"))
                if self.server.on_message(message):
                    self.server.messages.append(message)
                    self.reply("250 queued")
                else:
                    self.reply("451 try again later")
            elif command == b"QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def database_tasks(settings: Settings) -> None:
    settings.TASKS = DATABASE_TASKS


def worker_start(smtp: SmtpServer, *arguments: str, **environment: str) -> subprocess.Popen[str]:
    """`manage.py tasks_worker` on the test's database, sending to `smtp`."""
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "TASKS_BACKEND": "database",
        "EMAIL_URL": smtp.url,
        **environment,
    }
    return subprocess.Popen(  # noqa: S603 - a fixed command line of our own
        [sys.executable, "manage.py", "tasks_worker", "--no-startup-delay", "--interval", "0.1", *arguments],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_worker_killed_in_the_middle_of_a_batch_and_restarted_sends_every_email_once(
    database_tasks: None, smtp: SmtpServer
) -> None:
    users = [UserFactory() for _ in range(5)]
    for user in users:
        notifications.password_changed_notify(user=user)  # autocommit: each is committed
    third_arrived, killed = threading.Event(), threading.Event()

    def hold_the_third(message: bytes) -> bool:
        if len(smtp.messages) < 2:
            return True
        third_arrived.set()
        killed.wait(WAIT_SECONDS)
        return False  # never answered: the worker died before the server said 250

    smtp.on_message = hold_the_third
    worker = worker_start(smtp, "--worker-id", "worker-1")
    assert third_arrived.wait(WAIT_SECONDS), worker.stdout and worker.stdout.read()
    worker.send_signal(signal.SIGKILL)
    worker.wait(WAIT_SECONDS)
    killed.set()
    assert DBTaskResult.objects.running().count() == 1, "the killed worker's task is left RUNNING"

    smtp.on_message = lambda message: True
    restarted = worker_start(smtp, "--worker-id", "worker-1", "--batch")
    output, _ = restarted.communicate(timeout=WAIT_SECONDS)

    assert restarted.returncode == 0, output
    assert "1 task(s) left RUNNING by a dead worker made READY again." in output
    assert smtp.recipients() == sorted(user.email for user in users), "every email, none twice"
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {TaskResultStatus.SUCCESSFUL}


def test_emails_wait_for_a_smtp_server_that_is_down_and_the_request_does_not(
    database_tasks: None, smtp: SmtpServer
) -> None:
    user = UserFactory()
    smtp.down = True
    client = APIClient(HTTP_USER_AGENT=USER_AGENT)

    started = time.monotonic()
    response = client.post("/auth/password/reset", {"email": user.email}, format="json")
    answered_in = time.monotonic() - started

    assert response.status_code == 202
    assert answered_in < 1, "the request does not wait for SMTP"
    assert smtp.refused == 0, "the request never spoke to the SMTP server"
    worker = worker_start(smtp, "--worker-id", "worker-smtp", NOTIFICATION_RETRY_BASE_SECONDS="0.5")
    try:
        wait_for(lambda: smtp.refused >= 2, "two refused attempts")
        smtp.down = False
        wait_for(lambda: smtp.messages, "the email once the server is back")
    finally:
        worker.terminate()
        worker.wait(WAIT_SECONDS)

    assert smtp.recipients() == [user.email]
    assert b"/account/password/reset/" in b"".join(smtp.messages)
