"""Account services beyond what the API tests reach: the manager, emails as tasks, throttles."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django_tasks_db.models import DBTaskResult
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from accounts.auth import revocation
from accounts.core import mail as account_mail
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.flows import login as login_flows
from accounts.flows import passwords as passwords_flows
from accounts.flows import registration as registration_flows
from accounts.models import SecurityEvent, User
from tests.conftest import TasksRun, commit_callbacks_run
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def test_createsuperuser_works_by_email(monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", DEFAULT_PASSWORD)

    call_command("createsuperuser", "--noinput", "--email", "Admin@Example.com")

    admin = User.objects.get()
    assert admin.email == "admin@example.com"
    assert admin.is_staff and admin.is_superuser
    assert admin.check_password(DEFAULT_PASSWORD)


def test_emails_are_unique_whatever_their_case() -> None:
    User.objects.create_user("Case@Example.com", DEFAULT_PASSWORD)

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("case@example.com", DEFAULT_PASSWORD)
    assert User.objects.get_by_natural_key("CASE@example.COM").email == "case@example.com"


def test_the_password_reset_email_is_a_task_sent_by_the_worker(user: User, tasks_run: TasksRun) -> None:
    passwords_flows.password_reset_request(email=user.email, client=Client())
    assert mail.outbox == []

    tasks_run()

    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    assert (
        SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.PASSWORD_RESET_REQUESTED).count() == 1
    )


def test_a_failed_reset_email_is_logged_not_raised(monkeypatch, caplog, user: User) -> None:
    monkeypatch.setattr(account_mail.EmailMultiAlternatives, "send", lambda self: _smtp_down())

    with commit_callbacks_run():
        passwords_flows.password_reset_request(email=user.email, client=Client())

    assert "could not be sent" in caplog.text


def _smtp_down() -> None:
    raise OSError("smtp down")


def test_a_mail_server_failure_on_sign_up_keeps_the_account_and_counts_the_lost_code(monkeypatch) -> None:
    """On the immediate backend (no retries) the code's email is given up at once, and counted;
    the database backend tries again (tests/accounts/core/test_tasks.py)."""
    monkeypatch.setattr(account_mail.EmailMultiAlternatives, "send", lambda self: _smtp_down())
    before = REGISTRY.get_sample_value("auth_notifications_failed_total", {"kind": "verification_code"}) or 0

    with commit_callbacks_run():
        registration_flows.user_register(email="new@example.com", password=DEFAULT_PASSWORD, client=Client())

    assert User.objects.filter(email="new@example.com").exists()
    assert mail.outbox == []
    failed = REGISTRY.get_sample_value("auth_notifications_failed_total", {"kind": "verification_code"})
    assert failed == before + 1


def test_wrong_current_passwords_are_throttled_like_logins(settings, user: User) -> None:
    settings.LOGIN_FAILURES_BEFORE_DELAY = 1
    for _ in range(2):
        with pytest.raises(ServiceError):
            passwords_flows.password_change(
                user=user, current_password="wrong", new_password="whatever 12345", otp=None, client=Client()
            )

    with pytest.raises(ServiceError) as refused:
        passwords_flows.password_change(
            user=user,
            current_password=DEFAULT_PASSWORD,
            new_password="whatever 12345",
            otp=None,
            client=Client(),
        )
    assert refused.value.code == ErrorCode.LOGIN_THROTTLED


def test_revoking_every_token_also_ends_browser_sessions(client, user: User) -> None:
    client.force_login(user)
    assert client.get("/account/").status_code == 200

    revocation.tokens_revoke_all(user=user, client=Client())

    response = client.get("/account/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/")


# --- the same work in the request for a known and an unknown email ---------------------------


def test_password_reset_does_the_same_request_work_for_a_known_and_an_unknown_email(
    database_tasks: None, django_assert_num_queries, user: User
) -> None:
    """A known email used to write an event and start the mail in the request: +4 ms, measurable.
    Now the request only enqueues the task, the lookup included."""
    for email in (user.email, "nobody@example.com"):
        # the task written
        with django_assert_num_queries(1):
            passwords_flows.password_reset_request(email=email, client=Client())
    assert DBTaskResult.objects.filter(task_path__endswith="password_reset_link_send").count() == 2


def test_a_wrong_password_does_the_same_request_work_for_a_known_and_an_unknown_email(
    database_tasks: None, django_assert_num_queries, user: User
) -> None:
    for email in (user.email, "nobody@example.com"):
        # the account looked up; the task that records the event written
        with django_assert_num_queries(2), pytest.raises(ServiceError):
            login_flows.login_password_verify(email=email, password="not the password", client=Client())
    assert DBTaskResult.objects.filter(task_path__endswith="login_failure_record").count() == 2
    assert not SecurityEvent.objects.exists(), "recorded by the task, after the answer"


def test_the_client_logs_in_as_soon_as_sign_up_answers_before_any_worker_runs(
    api_client: APIClient, tasks_run: TasksRun
) -> None:
    """The account exists when 202 leaves; its code and event wait for the worker."""
    body = {"email": "early@example.com", "password": "a perfectly fine passphrase"}
    assert api_client.post("/auth/register", body, format="json").status_code == 202

    assert api_client.post("/auth/login", body, format="json").status_code == 200
    assert not mail.outbox

    tasks_run()
    assert [message.to for message in mail.outbox][:1] == [["early@example.com"]]
    assert SecurityEvent.objects.filter(user__email="early@example.com", type="SIGNED_UP").count() == 1


def test_a_taken_email_gets_no_second_account_and_its_owner_a_notice(
    api_client: APIClient, user: User, tasks_run: TasksRun
) -> None:
    password_before = user.password
    body = {"email": user.email.upper(), "password": "a perfectly fine passphrase"}

    assert api_client.post("/auth/register", body, format="json").status_code == 202
    tasks_run()

    user.refresh_from_db()
    assert user.password == password_before
    assert User.objects.filter(email__iexact=user.email).count() == 1
    assert [message.to for message in mail.outbox] == [[user.email]]
    assert not SecurityEvent.objects.filter(user=user, type="SIGNED_UP").exists()
