"""An API login's rows in one PostgreSQL statement, its own transaction, from a known place: the
same rows the ORM path writes, or none."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from psycopg import pq

from accounts.auth.login_rows import login_rows_write
from accounts.auth.new_devices import device_cookie_new, login_place_of
from accounts.auth.tokens import AMR_PASSWORD, api_session_new
from accounts.core.client import Client
from accounts.core.events import security_event_new
from accounts.models import KnownDevice, SecurityEvent, User, UserSession
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
CLIENT = Client(ip="203.0.113.7", user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="one statement on PostgreSQL; elsewhere the ORM path only"
)


def _write(
    user: User, *, place: bool = True, cookie: str | None = None
) -> tuple[list[KnownDevice] | None, UserSession, SecurityEvent]:
    now = timezone.now()
    event = security_event_new(
        user=user, type=SecurityEvent.Type.LOGIN_SUCCEEDED, client=CLIENT, details={"factor": "password"}
    )
    session = api_session_new(user=user, amr=AMR_PASSWORD, client=CLIENT)
    written = login_rows_write(
        user=user,
        saving={"last_login": now, "last_login_device": CLIENT.user_agent},
        event=event,
        session=session,
        place=login_place_of(CLIENT, cookie) if place else None,
        meanwhile=lambda: "signed",
    )
    if written is None:
        return None, session, event
    known, answer = written
    assert answer == "signed"
    return known, session, event


@on_postgresql
def test_the_rows_are_the_orms_in_one_statement() -> None:
    user = UserFactory()
    place = login_place_of(CLIENT)
    KnownDevice.objects.create(user=user, device=place.device, network=place.network)

    with CaptureQueriesContext(connection) as queries:
        known, session, _ = _write(user)

    assert len(queries) == 1
    assert [row.cookie_hash for row in known] == [""]
    stored = UserSession.objects.get(pk=session.pk)
    assert (stored.user_id, stored.kind, stored.amr, stored.ip) == (user.pk, "api", AMR_PASSWORD, CLIENT.ip)
    assert stored.device == place.device and stored.is_live()
    event = SecurityEvent.objects.get(user=user, type=SecurityEvent.Type.LOGIN_SUCCEEDED)
    assert (event.ip_address, event.user_agent, event.details) == (
        CLIENT.ip,
        CLIENT.user_agent,
        {"factor": "password"},
    )
    user.refresh_from_db()
    assert user.last_login_device == CLIENT.user_agent


@on_postgresql
def test_a_login_with_no_place_to_check_is_written_and_reads_nothing() -> None:
    user = UserFactory()

    known, session, _ = _write(user, place=False)

    assert known == []
    assert UserSession.objects.filter(pk=session.pk, user=user).exists()


@on_postgresql
def test_a_cookie_known_place_is_written_with_its_row() -> None:
    user = UserFactory()
    cookie = device_cookie_new()
    KnownDevice.objects.create(user=user, cookie_hash=login_place_of(CLIENT, cookie).cookie_hash)

    known, session, _ = _write(user, cookie=cookie)

    assert [bool(row.cookie_hash) for row in known] == [True]
    assert UserSession.objects.filter(pk=session.pk).exists()


@on_postgresql
@pytest.mark.parametrize("seen_days_ago", [None, 91])
def test_nothing_is_written_from_a_new_place(settings, seen_days_ago: int | None) -> None:
    """Never seen, or seen longer ago than the memory: the ORM path writes it with its alert."""
    settings.NEW_DEVICE_MEMORY_DAYS = 90
    user = UserFactory()
    if seen_days_ago is not None:
        place = login_place_of(CLIENT)
        seen = timezone.now() - timedelta(days=seen_days_ago)
        KnownDevice.objects.create(
            user=user, device=place.device, network=place.network, first_seen_at=seen, last_seen_at=seen
        )

    known, session, _ = _write(user)

    assert known is None
    assert not UserSession.objects.filter(pk=session.pk).exists()
    assert not SecurityEvent.objects.filter(user=user).exists()


@on_postgresql
def test_nothing_is_written_when_the_token_generation_moved_under_the_login() -> None:
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(token_generation=user.token_generation + 1)  # a logout-all

    known, session, _ = _write(user)

    assert known is None
    assert not UserSession.objects.filter(pk=session.pk).exists()
    assert not SecurityEvent.objects.filter(user=user).exists()


def test_elsewhere_nothing_is_written_and_the_orm_path_answers(settings) -> None:
    if connection.vendor == "postgresql":
        pytest.skip("on PostgreSQL the statement writes (the tests above)")
    user = UserFactory()

    known, session, _ = _write(user)

    assert known is None
    assert not UserSession.objects.filter(pk=session.pk).exists()


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_statement_is_its_own_transaction() -> None:
    """No BEGIN and COMMIT around it: outside a transaction it commits by itself."""
    user = UserFactory()
    place = login_place_of(CLIENT)
    KnownDevice.objects.create(user=user, device=place.device, network=place.network)

    with CaptureQueriesContext(connection) as queries:
        known, session, _ = _write(user)

    assert known is not None
    assert [query["sql"].split()[0] for query in queries] == ["WITH"]
    connection.close()  # a commit still pending would be lost with the connection
    assert UserSession.objects.filter(pk=session.pk).exists()


@on_postgresql
def test_meanwhile_runs_while_the_statement_is_in_flight() -> None:
    """The statement is sent first, in pipeline mode, and read once `meanwhile` has answered."""
    user = UserFactory()
    seen: list[object] = []

    def meanwhile() -> str:
        seen.append(connection.connection.pgconn.pipeline_status)
        return "signed"

    written = login_rows_write(
        user=user,
        saving={"last_login": timezone.now()},
        event=security_event_new(user=user, type=SecurityEvent.Type.LOGIN_SUCCEEDED, client=CLIENT),
        session=api_session_new(user=user, amr=AMR_PASSWORD, client=CLIENT),
        place=None,
        meanwhile=meanwhile,
    )

    assert written == ([], "signed")
    assert seen == [pq.PipelineStatus.ON]
    assert connection.connection.pgconn.pipeline_status == pq.PipelineStatus.OFF


def test_elsewhere_meanwhile_does_not_run() -> None:
    if connection.vendor == "postgresql":
        pytest.skip("on PostgreSQL it runs (the test above)")
    user = UserFactory()
    ran: list[bool] = []
    written = login_rows_write(
        user=user,
        saving={"last_login": timezone.now()},
        event=security_event_new(user=user, type=SecurityEvent.Type.LOGIN_SUCCEEDED, client=CLIENT),
        session=api_session_new(user=user, amr=AMR_PASSWORD, client=CLIENT),
        place=None,
        meanwhile=lambda: ran.append(True),
    )
    assert written is None and ran == []


@on_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("commit_async", [True, False])
def test_on_its_own_the_statement_commits_without_waiting_for_the_disk(settings, commit_async: bool) -> None:
    """LOGIN_COMMIT_ASYNC: synchronous_commit off for the statement's own transaction only."""
    settings.LOGIN_COMMIT_ASYNC = commit_async
    user = UserFactory()
    with CaptureQueriesContext(connection) as queries:
        assert _write(user, place=False)[0] == []
    (statement,) = (query["sql"] for query in queries)
    assert ("set_config('synchronous_commit', 'off', true)" in statement) is commit_async
    assert UserSession.objects.filter(user=user).count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)  # the connection's own setting is untouched


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_inside_the_callers_transaction_its_durability_is_the_callers() -> None:
    with transaction.atomic():
        assert _write(UserFactory(), place=False)[0] == []
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("on",)
