"""The hot path's statements: the rows they read are the models the ORM would load, in one query."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.auth.owner_query import (
    REFRESH_OWNER_FIELDS,
    bearer_user_read,
    login_user_read,
    refresh_owner_read_and_touch,
)
from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.models import RevokedToken, User, UserSession
from otp.models import SmsDevice
from tests.factories import UserFactory, user_with_every_factor

pytestmark = pytest.mark.django_db


def _session_of(user: User) -> UserSession:
    tokens_for_login(user, amr=AMR_PASSWORD)
    return UserSession.objects.filter(user=user).latest("created_at")


def _columns(instance: object) -> dict[str, object]:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_the_bearer_row_is_the_user_and_the_phone_the_orm_loads() -> None:
    user, _ = user_with_every_factor()
    session = _session_of(user)

    with CaptureQueriesContext(connection) as queries:
        read_user, session_live = bearer_user_read(user.pk, session.pk)
        phone = read_user.sms_device

    assert len(queries) == 1
    assert session_live is True
    stored = User.objects.get(pk=user.pk)
    assert _columns(read_user) == _columns(stored)
    assert read_user.last_login.tzinfo is not None  # converted, on SQLite too
    assert _columns(phone) == _columns(SmsDevice.objects.get(user=user))
    assert phone.user is read_user
    assert model_to_dict(read_user)["email"] == user.email


def test_the_bearer_row_of_a_user_without_phone_caches_no_phone() -> None:
    user = UserFactory()
    session = _session_of(user)

    with CaptureQueriesContext(connection) as queries:
        read_user, _ = bearer_user_read(user.pk, session.pk)
        assert getattr(read_user, "sms_device", None) is None
    assert len(queries) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"ended_at": timezone.now()},
        {"expires_at": timezone.now() - timedelta(seconds=1)},
    ],
    ids=["ended", "expired"],
)
def test_an_ended_or_expired_session_is_not_live(change: dict) -> None:
    user = UserFactory()
    session = _session_of(user)
    UserSession.objects.filter(pk=session.pk).update(**change)

    assert bearer_user_read(user.pk, session.pk)[1] is False


def test_another_users_session_is_not_live_and_an_unknown_user_is_none() -> None:
    user, other = UserFactory(), UserFactory()
    session = _session_of(other)

    assert bearer_user_read(user.pk, session.pk)[1] is False
    assert bearer_user_read(10**9, uuid.uuid4()) is None


def test_the_refresh_row_says_revoked_and_stamps_the_session() -> None:
    user = UserFactory()
    session = _session_of(user)
    UserSession.objects.filter(pk=session.pk).update(last_used_at=timezone.now() - timedelta(hours=1))

    found = refresh_owner_read_and_touch(owner_id=user.pk, session_id=session.pk, jti="j1", family="f1")

    assert found is not None
    read_user, token_revoked, session_live = found
    stored = User.objects.get(pk=user.pk)
    assert {name: getattr(read_user, name) for name in REFRESH_OWNER_FIELDS} == {
        name: getattr(stored, name) for name in REFRESH_OWNER_FIELDS
    }
    assert read_user.get_deferred_fields() == {
        field.attname for field in User._meta.concrete_fields if field.name not in REFRESH_OWNER_FIELDS
    }
    assert (token_revoked, session_live) == (False, True)
    session.refresh_from_db()
    assert session.last_used_at > timezone.now() - timedelta(seconds=5)

    RevokedToken.objects.create(
        jti="j1", user=user, reason=RevokedToken.Reason.LOGOUT, expires_at=timezone.now() + timedelta(days=1)
    )
    assert refresh_owner_read_and_touch(owner_id=user.pk, session_id=session.pk, jti="j1", family="f1")[1]


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: prepared statements are its own"
)
def test_on_postgresql_the_bearer_statement_is_prepared_after_a_few_requests(auth_client) -> None:
    assert connection.settings_dict["OPTIONS"]["server_side_binding"] is True
    threshold = connection.connection.prepare_threshold
    assert threshold is not None

    for _ in range(threshold + 1):
        assert auth_client.get("/auth/me").status_code == 200

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert any('FROM "accounts_user" u LEFT JOIN "otp_smsdevice" p' in statement for statement in prepared)


def test_the_prepare_threshold_can_be_turned_off_for_a_transaction_pooler(monkeypatch) -> None:
    from config.settings import base

    postgres = {"ENGINE": "django.db.backends.postgresql", "NAME": "x"}
    monkeypatch.setattr(base, "_PREPARE_THRESHOLD", "off")
    assert base.postgres_statements_prepared(postgres)["OPTIONS"]["prepare_threshold"] is None
    monkeypatch.setattr(base, "_PREPARE_THRESHOLD", "5")
    assert base.postgres_statements_prepared(postgres)["OPTIONS"] == {
        "server_side_binding": True,
        "prepare_threshold": 5,
    }
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "x"}
    assert base.postgres_statements_prepared(sqlite) == sqlite


def test_the_login_row_is_the_user_the_orm_loads_in_one_query() -> None:
    user, _ = user_with_every_factor()

    with CaptureQueriesContext(connection) as queries:
        read_user = login_user_read(user.email)
        missing = login_user_read("nobody@example.com")

    assert len(queries) == 2
    assert _columns(read_user) == _columns(User.objects.get(pk=user.pk))
    assert read_user.password_changed_at.tzinfo is not None  # converted, on SQLite too
    assert read_user.check_password("a perfectly fine passphrase") is False
    assert missing is None
