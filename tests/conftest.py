"""Shared fixtures: API clients, users with and without factors, the SMS and email outboxes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pyotp
import pytest
from django.core import mail
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.client import Client as DjangoTestClient
from rest_framework.test import APIClient

from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.core import pwned_passwords
from accounts.models import User
from otp import sms_backends
from tests.accounts.core.pwned_fake import FakeRangeApi, fake_range_api_start, fake_range_api_stop
from tests.factories import DEFAULT_PASSWORD, UserFactory

USER_AGENT = "pytest-agent/1.0"


@pytest.fixture(autouse=True)
def _clean_outboxes_and_cache() -> None:
    sms_backends.outbox.clear()
    cache.clear()


@contextmanager
def commit_callbacks_run() -> Iterator[None]:
    """Run what waits for the commit (`transaction.on_commit`: the tasks of the immediate backend)
    at the end of the block, once, as the commit that ends a request or a service would.

    The test's own transaction never commits; callbacks of a rolled-back savepoint are dropped
    by Django, so they do not run here either. Each callback is taken off the list as it runs,
    so a block inside another one does not run it twice.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    start = len(connection.run_on_commit)
    yield
    while len(connection.run_on_commit) > start:
        _, callback, _ = connection.run_on_commit.pop(start)
        callback()


@pytest.fixture(autouse=True)
def _requests_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request of the test client ends as in production, where each of its transactions
    commits: its emails (tasks) are sent before the test reads the outbox."""
    request = DjangoTestClient.request

    def request_and_commit(self: DjangoTestClient, **kwargs: Any) -> Any:
        with commit_callbacks_run():
            return request(self, **kwargs)

    monkeypatch.setattr(DjangoTestClient, "request", request_and_commit)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient(HTTP_USER_AGENT=USER_AGENT)


@pytest.fixture
def user(db: None) -> User:
    return UserFactory()


def authenticate(client: APIClient, user: User) -> APIClient:
    tokens = tokens_for_login(user, amr=AMR_PASSWORD)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.id_token}")
    return client


@pytest.fixture
def auth_client(api_client: APIClient, user: User) -> APIClient:
    return authenticate(api_client, user)


def throttle_rate_set(settings: Any, scope: str, rate: str) -> None:
    """DRF's rate of one throttle scope for this test, the others as they are."""
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**rates, scope: rate}}


def last_sms_code() -> str:
    assert sms_backends.outbox, "no SMS was sent"
    return re.search(r"\b(\d{6})\b", sms_backends.outbox[-1].body).group(1)


def last_email_code() -> str:
    assert mail.outbox, "no email was sent"
    return re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)


@pytest.fixture
def totp_user(db: None) -> tuple[User, pyotp.TOTP]:
    """A user with a verified TOTP factor, and an authenticator for it."""
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.core.client import Client
    from otp.services import totp_device_create

    user = UserFactory()
    enrolment = totp_device_create(user=user, otp=None, client=Client())
    TOTPDevice.objects.filter(user=user).update(confirmed=True)
    User.objects.filter(pk=user.pk).update(totp_verified_at=timezone.now())
    user.refresh_from_db()
    return user, pyotp.TOTP(enrolment.secret)


@pytest.fixture
def login(api_client: APIClient) -> Callable[..., object]:
    def do_login(email: str, password: str = DEFAULT_PASSWORD, **headers: str) -> object:
        return api_client.post(
            "/auth/login", {"email": email, "password": password}, format="json", **headers
        )

    return do_login


Committed = Callable[[], AbstractContextManager[None]]


@pytest.fixture
def committed(db: None) -> Committed:
    """Run a block as a request would: what waits for the commit (notifications) runs at its end."""
    return commit_callbacks_run


DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture
def database_tasks(settings: Any) -> None:
    """Tasks as in production: rows written in the transaction that enqueues them, run only
    by a worker (`tasks_run`)."""
    settings.TASKS = DATABASE_TASKS


TasksRun = Callable[[], None]


@pytest.fixture
def tasks_run(database_tasks: None, monkeypatch: pytest.MonkeyPatch) -> TasksRun:
    """Run every task that is due, in this process, with the worker's own code
    (`manage.py tasks_worker --batch`)."""
    from django_tasks_db.management.commands import db_worker

    # The worker drops a connection that is in a transaction: here, the test's own.
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)

    def run() -> None:
        db_worker.Worker(
            queue_names=["*"],
            excluded_queue_names=[],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="pytest",
        ).run()

    return run


@pytest.fixture
def pwned_api(settings: Any) -> Iterator[FakeRangeApi]:
    """The breach check on, against a local fake of the range API (tests/accounts/core/pwned_fake.py)."""
    fake = fake_range_api_start()
    settings.PWNED_PASSWORDS = True
    settings.PWNED_PASSWORDS_API_URL = fake.url
    settings.PWNED_PASSWORDS_TIMEOUT_SECONDS = 0.5
    pwned_passwords.backoff_reset()
    yield fake
    pwned_passwords.backoff_reset()
    fake_range_api_stop(fake)
