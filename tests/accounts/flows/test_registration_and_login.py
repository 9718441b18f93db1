"""Account services beyond what the API tests reach: the manager, background email, throttles."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, transaction

from accounts.auth import revocation
from accounts.core import mail as account_mail
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.flows import login as login_flows
from accounts.flows import passwords as passwords_flows
from accounts.flows import registration as registration_flows
from accounts.models import User
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


# Committed rows: the background thread reads the account on a connection of its own.
@pytest.mark.django_db(transaction=True)
def test_password_reset_email_leaves_in_the_background(settings, user: User) -> None:
    settings.EMAIL_SEND_IN_BACKGROUND = True
    started: list[threading.Thread] = []
    original_start = threading.Thread.start

    def record_start(thread: threading.Thread) -> None:
        started.append(thread)
        original_start(thread)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(threading.Thread, "start", record_start)
        passwords_flows.password_reset_request(email=user.email, client=Client())
    for thread in started:
        thread.join(timeout=5)

    assert len(started) == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]


def test_a_failed_background_email_is_logged_not_raised(monkeypatch, caplog, user: User) -> None:
    def fail(**kwargs: object) -> None:
        raise OSError("smtp down")

    monkeypatch.setattr(account_mail.EmailMultiAlternatives, "send", lambda self: fail())

    passwords_flows.password_reset_request(email=user.email, client=Client())

    assert "could not be sent" in caplog.text


def test_a_mail_server_failure_on_sign_up_is_503_and_leaves_no_account(monkeypatch) -> None:
    monkeypatch.setattr(
        account_mail.EmailMultiAlternatives, "send", lambda self: (_ for _ in ()).throw(OSError())
    )

    with pytest.raises(ServiceError) as refused:
        registration_flows.user_register(email="new@example.com", password=DEFAULT_PASSWORD, client=Client())

    assert refused.value.code == ErrorCode.SERVICE_UNAVAILABLE and refused.value.status == 503
    assert not User.objects.exists()


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


def _request_work(settings, django_assert_num_queries, call, queries: int) -> list[threading.Thread]:
    """Run `call` with background work on; the threads it started, with the queries it made in
    the request asserted."""
    settings.EMAIL_SEND_IN_BACKGROUND = True
    started: list[threading.Thread] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(threading.Thread, "start", lambda thread: started.append(thread))
        with django_assert_num_queries(queries):
            call()
    return started


def test_password_reset_does_the_same_request_work_for_a_known_and_an_unknown_email(
    settings, django_assert_num_queries, user: User
) -> None:
    """A known email used to write an event and start the mail in the request: +4 ms, measurable."""
    for email in (user.email, "nobody@example.com"):
        started = _request_work(
            settings,
            django_assert_num_queries,
            lambda email=email: passwords_flows.password_reset_request(email=email, client=Client()),
            queries=0,
        )
        assert len(started) == 1, email


def test_a_wrong_password_does_the_same_request_work_for_a_known_and_an_unknown_email(
    settings, django_assert_num_queries, user: User
) -> None:
    for email in (user.email, "nobody@example.com"):

        def wrong_password(email: str = email) -> None:
            with pytest.raises(ServiceError):
                login_flows.login_password_verify(email=email, password="not the password", client=Client())

        # the account looked up; the event of a known one written off the request
        started = _request_work(settings, django_assert_num_queries, wrong_password, queries=1)
        assert len(started) == 1, email
