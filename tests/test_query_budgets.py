"""Query budgets: no endpoint's main path may make more database queries than its budget.

Counted with `transaction=True`, so that `transaction.atomic()` opens a transaction as in
production, not a savepoint inside the test's own; Django logs its BEGIN and COMMIT, and
they count. Tasks are enqueued as in production (the database backend): an email costs the
request one INSERT, and is sent by the worker (`tasks_run`) after the answer. Each budget is the count measured when it was set (docs/benchmarks.md lists
what each query is); a new query on one of these paths must raise its budget here, in review.
"""

from __future__ import annotations

import pyotp
import pytest
from django.contrib.auth.tokens import default_token_generator
from django.db import connection
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tasks_db.models import DBTaskResult
from pytest_django import Settings
from rest_framework.test import APIClient

from accounts.auth.new_devices import new_device_remember
from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.core.client import Client
from accounts.core.events import security_event_record
from accounts.flows import support
from accounts.models import SecurityEvent, User
from otp import services as otp_services
from tests.conftest import USER_AGENT, TasksRun, authenticate, last_email_code, last_sms_code
from tests.factories import DEFAULT_PASSWORD, UserFactory, user_with_every_factor

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "another perfectly fine passphrase"


@pytest.fixture(autouse=True)
def _tasks_as_in_production(database_tasks: None) -> None:
    """The request's own queries: emails wait in the queue."""


@pytest.fixture
def client() -> APIClient:
    return APIClient(HTTP_USER_AGENT=USER_AGENT)


def _login_body(user: User, **extra: str) -> dict[str, str]:
    return {"email": user.email, "password": DEFAULT_PASSWORD, **extra}


def _signed_up_here(user: User) -> User:
    """`user` as if made by a sign-up from the test client: its logins come from a known device."""
    new_device_remember(user=user, client=Client(ip="127.0.0.1", user_agent=USER_AGENT))
    return user


def _phone_pending(user: User) -> User:
    """`user` with an unverified phone; its verification code is the last SMS sent."""
    return otp_services.sms_device_add(user=user, phone="612345678", country="ES", otp=None, client=Client())


def _phone_verified(user: User) -> User:
    _phone_pending(user)
    return otp_services.channel_confirm(
        user=user, channel=otp_services.Channel.SMS, code=last_sms_code(), client=Client()
    )


# --- login and tokens ------------------------------------------------------------------------


def test_login(client: APIClient, user: User, django_assert_max_num_queries) -> None:
    _signed_up_here(user)
    # the user by email; BEGIN, last login, the LOGIN_SUCCEEDED event, the known devices, the session,
    # COMMIT; on PostgreSQL the five after the read are one statement, its own transaction
    # (accounts.auth.login_rows)
    with django_assert_max_num_queries(2 if connection.vendor == "postgresql" else 7):
        response = client.post("/auth/login", _login_body(user), format="json")
    assert response.status_code == 200


def test_login_from_a_new_device(client: APIClient, user: User, django_assert_max_num_queries) -> None:
    # as a login, and the device remembered, the NEW_DEVICE_LOGIN event and the email's task; on
    # PostgreSQL the one statement first, which finds the place new and writes nothing
    with django_assert_max_num_queries(11 if connection.vendor == "postgresql" else 10):
        response = client.post("/auth/login", _login_body(user), format="json")
    assert response.status_code == 200


def test_login_wrong_password(client: APIClient, user: User, django_assert_max_num_queries) -> None:
    # the user by email; the task that records the LOGIN_FAILED event
    with django_assert_max_num_queries(2):
        response = client.post("/auth/login", {"email": user.email, "password": "wrong"}, format="json")
    assert response.status_code == 403


def test_login_asks_for_the_second_factor(
    client: APIClient, totp_user: tuple[User, pyotp.TOTP], django_assert_max_num_queries
) -> None:
    user, _ = totp_user
    # the user by email; whether recovery codes exist
    with django_assert_max_num_queries(2):
        response = client.post("/auth/login", _login_body(user), format="json")
    assert response.json()["code"] == "otp_required"


def test_login_with_totp(
    client: APIClient, totp_user: tuple[User, pyotp.TOTP], django_assert_max_num_queries
) -> None:
    user, authenticator = _signed_up_here(totp_user[0]), totp_user[1]
    # the user by email; BEGIN, the user and the TOTP device locked, the device's last step, the failure count,
    # COMMIT; BEGIN, last login, the event, the known devices, the session, COMMIT (on PostgreSQL
    # those six are the one statement)
    with django_assert_max_num_queries(8 if connection.vendor == "postgresql" else 13):
        response = client.post(
            "/auth/login", _login_body(user), format="json", HTTP_X_OTP=authenticator.now()
        )
    assert response.status_code == 200


def test_login_sends_an_sms_code(
    client: APIClient, user: User, settings: Settings, django_assert_max_num_queries
) -> None:
    settings.SMS_RESEND_COOLDOWN_SECONDS = 0
    _phone_verified(user)
    # the user; recovery codes; BEGIN, the phone locked, its new code, COMMIT
    with django_assert_max_num_queries(6):
        response = client.post("/auth/login", _login_body(user, otpMethod="SMS"), format="json")
    assert response.json()["channel"] == "SMS"


def test_login_with_an_sms_code(
    client: APIClient, user: User, settings: Settings, django_assert_max_num_queries
) -> None:
    settings.SMS_RESEND_COOLDOWN_SECONDS = 0
    user = _signed_up_here(_phone_verified(user))
    otp_services.login_sms_code_send(user=user)
    # as with TOTP, the phone instead of the TOTP device
    with django_assert_max_num_queries(8 if connection.vendor == "postgresql" else 13):
        response = client.post("/auth/login", _login_body(user), format="json", HTTP_X_OTP=last_sms_code())
    assert response.status_code == 200


def test_refresh(client: APIClient, user: User, django_assert_max_num_queries) -> None:
    refresh_token = tokens_for_login(user, amr=AMR_PASSWORD).refresh_token
    # the user with whether the token or its family is revoked and its session live, the session stamped in the same statement
    with django_assert_max_num_queries(1):
        response = client.post("/auth/login/refresh", {"refreshToken": refresh_token}, format="json")
    assert response.status_code == 200


def test_me(auth_client: APIClient, django_assert_max_num_queries) -> None:
    # the user with the phone and whether the token's session is live, by the bearer token
    with django_assert_max_num_queries(1):
        response = auth_client.get("/auth/me")
    assert response.status_code == 200


def test_me_with_a_pending_mfa_reset(client: APIClient, django_assert_max_num_queries) -> None:
    user, _ = user_with_every_factor()
    support.mfa_reset_schedule(user=user, staff_member=None, reason="budget")
    authenticate(client, user)
    # the user with the phone, by the bearer token: the pending reset is on that row
    with django_assert_max_num_queries(1):
        response = client.get("/auth/me")
    assert "mfaResetScheduledAt" in response.json()


def test_my_security_events(auth_client: APIClient, user: User, django_assert_max_num_queries) -> None:
    for _ in range(5):
        security_event_record(user=user, type=SecurityEvent.Type.LOGIN_SUCCEEDED, client=Client())
    # the user; the count; the page (no query per event)
    with django_assert_max_num_queries(3):
        response = auth_client.get("/auth/me/events")
    assert len(response.json()["results"]) == 5


def test_logout(auth_client: APIClient, user: User, django_assert_max_num_queries) -> None:
    refresh_token = tokens_for_login(user, amr=AMR_PASSWORD).refresh_token
    # the bearer's user; the token's owner and revocation; BEGIN, get_or_create of the revocation (select, savepoint, insert, release), the session ended, the event, COMMIT
    with django_assert_max_num_queries(10):
        response = auth_client.post("/auth/logout", {"refreshToken": refresh_token}, format="json")
    assert response.status_code == 204


def test_logout_all(auth_client: APIClient, django_assert_max_num_queries) -> None:
    # the user; the generation bumped and read back; the browser sessions' keys, the sessions ended; the trusted devices revoked; the event
    with django_assert_max_num_queries(7):
        response = auth_client.post("/auth/logout/all")
    assert response.status_code == 204


# --- sign-up and passwords ---------------------------------------------------------------------


def test_register(client: APIClient, django_assert_max_num_queries) -> None:
    body = {"email": "new@example.com", "password": NEW_PASSWORD}
    # BEGIN, the account inserted (nothing when the email is taken), the task (its code and email
    # are its work, after the answer), COMMIT
    with django_assert_max_num_queries(4):
        response = client.post("/auth/register", body, format="json")
    assert response.status_code == 202
    assert User.objects.filter(email="new@example.com").exists()
    assert DBTaskResult.objects.filter(task_path__endswith="signup_complete_or_owner_notify").count() == 1


def test_register_a_taken_email(client: APIClient, user: User, django_assert_max_num_queries) -> None:
    # the same insert (which does nothing) and task as for a new email: nothing before the answer
    # says the email is taken
    with django_assert_max_num_queries(4):
        response = client.post(
            "/auth/register", {"email": user.email, "password": NEW_PASSWORD}, format="json"
        )
    assert response.status_code == 202


def test_password_change(auth_client: APIClient, django_assert_max_num_queries) -> None:
    body = {"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD}
    # the user; BEGIN, the security change, the password and generation, generation read back, the browser
    # sessions' keys, the sessions ended, the trusted devices revoked, the event, COMMIT; the email's task
    with django_assert_max_num_queries(11):
        response = auth_client.post("/auth/password/change", body, format="json")
    assert response.status_code == 200


def test_password_reset(client: APIClient, user: User, django_assert_max_num_queries) -> None:
    # the task (the lookup, the event and the email are its work)
    with django_assert_max_num_queries(1):
        response = client.post("/auth/password/reset", {"email": user.email}, format="json")
    assert response.status_code == 202


def test_password_reset_confirm(client: APIClient, user: User, django_assert_max_num_queries) -> None:
    body = {
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
        "newPassword": NEW_PASSWORD,
    }
    # the user; BEGIN, the user locked, the security change, the password and generation, generation read back,
    # the browser sessions' keys, the sessions ended, the trusted devices revoked, the event, COMMIT; the email's task
    with django_assert_max_num_queries(12):
        response = client.post("/auth/password/reset/confirm", body, format="json")
    assert response.status_code == 200


# --- second factors ---------------------------------------------------------------------------


def test_sms_method_add(auth_client: APIClient, django_assert_max_num_queries) -> None:
    # the user; BEGIN, the user locked, the phone (select, insert, code), the event, COMMIT
    with django_assert_max_num_queries(8):
        response = auth_client.post(
            "/auth/otp/methods/sms", {"phone": "612345678", "country": "ES"}, format="json"
        )
    assert response.status_code == 200


def test_sms_method_delete(auth_client: APIClient, user: User, django_assert_max_num_queries) -> None:
    _phone_pending(user)
    # the user; whether a phone exists; BEGIN, the user locked, delete, recovery codes, the user, trusted
    # devices revoked, the event, the security change, COMMIT; the phone again for the profile; the email's task
    with django_assert_max_num_queries(13):
        response = auth_client.delete("/auth/otp/methods/sms")
    assert response.status_code == 200


def test_totp_method_add(auth_client: APIClient, django_assert_max_num_queries) -> None:
    # the user; BEGIN, the user locked, old device deleted, new device, the event, COMMIT; the phone for the profile
    with django_assert_max_num_queries(8):
        response = auth_client.post("/auth/otp/methods/totp")
    assert response.status_code == 200


def test_totp_method_delete_with_step_up(
    client: APIClient, totp_user: tuple[User, pyotp.TOTP], django_assert_max_num_queries
) -> None:
    user, authenticator = totp_user
    authenticate(client, user)
    # the user; whether TOTP exists; the step-up transaction (6); the delete transaction (9, trusted devices
    # revoked, the security change); the phone for the profile; the email's task
    with django_assert_max_num_queries(19):
        response = client.delete("/auth/otp/methods/totp", HTTP_X_OTP=authenticator.now())
    assert response.status_code == 200


def test_recovery_codes_with_step_up(
    client: APIClient, totp_user: tuple[User, pyotp.TOTP], django_assert_max_num_queries
) -> None:
    user, authenticator = totp_user
    authenticate(client, user)
    # the user; the step-up transaction (6); BEGIN, the user locked, the device (select, savepoint, insert, release), old codes deleted, new codes, the event, COMMIT; the email's task
    with django_assert_max_num_queries(18):
        response = client.post("/auth/otp/methods/recovery-codes", HTTP_X_OTP=authenticator.now())
    assert response.status_code == 200


def test_code_send_by_sms(
    auth_client: APIClient, user: User, settings: Settings, django_assert_max_num_queries
) -> None:
    settings.SMS_RESEND_COOLDOWN_SECONDS = 0
    _phone_verified(user)
    # the user; BEGIN, the phone locked, its new code, COMMIT
    with django_assert_max_num_queries(5):
        response = auth_client.get("/auth/otp/code", {"method": "SMS"})
    assert response.status_code == 200


def test_code_send_by_email(client: APIClient, django_assert_max_num_queries) -> None:
    authenticate(client, UserFactory(email_verified_at=None))
    # the user; BEGIN, the email device (select, insert, code), COMMIT; the email's task
    with django_assert_max_num_queries(7):
        response = client.get("/auth/otp/code", {"method": "EMAIL"})
    assert response.status_code == 200


def test_code_confirms_the_phone(auth_client: APIClient, user: User, django_assert_max_num_queries) -> None:
    _phone_pending(user)
    # the user; whether a phone exists; BEGIN, the user and the phone locked, code used, confirmed, the event,
    # a pending TOTP dropped, the security change, the user, COMMIT; the phone for the profile; the email's task
    with django_assert_max_num_queries(14):
        response = auth_client.post(
            "/auth/otp/code", {"channel": "SMS"}, format="json", HTTP_X_OTP=last_sms_code()
        )
    assert response.json()["hasValidatedPhone"] is True


def test_code_confirms_the_email(
    client: APIClient, django_assert_max_num_queries, tasks_run: TasksRun
) -> None:
    user = UserFactory(email_verified_at=None)
    otp_services.email_verification_code_send(user=user)
    tasks_run()
    code = last_email_code()
    authenticate(client, user)
    # the user; BEGIN, the user and the email device locked, code used, the event, the user, COMMIT; the phone for the profile
    with django_assert_max_num_queries(9):
        response = client.post("/auth/otp/code", {"channel": "EMAIL"}, format="json", HTTP_X_OTP=code)
    assert response.json()["hasValidatedEmail"] is True


def test_code_confirms_totp(auth_client: APIClient, user: User, django_assert_max_num_queries) -> None:
    enrolment = otp_services.totp_device_create(user=user, otp=None, client=Client())
    code = pyotp.TOTP(enrolment.secret).now()
    # the user; whether a device exists; BEGIN, the user and the device locked, its last step, confirmed, the event,
    # a pending phone dropped, the security change, the user, COMMIT; the phone for the profile; the email's task
    with django_assert_max_num_queries(14):
        response = auth_client.post("/auth/otp/code", {"channel": "TOTP"}, format="json", HTTP_X_OTP=code)
    assert response.json()["hasValidatedSecret"] is True


# --- public documents -------------------------------------------------------------------------


def test_jwks(client: APIClient, django_assert_max_num_queries) -> None:
    # none: the keys are read once per process
    with django_assert_max_num_queries(0):
        response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200


def test_openid_configuration(client: APIClient, django_assert_max_num_queries) -> None:
    with django_assert_max_num_queries(0):
        response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200


def test_metrics(client: APIClient, settings, django_assert_max_num_queries) -> None:
    settings.METRICS_TOKEN = "query-budget-token"
    # the oldest due task (auth_task_queue_oldest_seconds)
    with django_assert_max_num_queries(1):
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer query-budget-token")
    assert response.status_code == 200


def test_healthz(client: APIClient, django_assert_max_num_queries) -> None:
    # SELECT 1
    with django_assert_max_num_queries(1):
        response = client.get("/healthz")
    assert response.status_code == 200


def test_openapi_schema(client: APIClient, django_assert_max_num_queries) -> None:
    # none
    with django_assert_max_num_queries(0):
        response = client.get("/api/schema/")
    assert response.status_code == 200
