"""An API login's rows in one PostgreSQL statement: the last login, the audit event and the
session, written only when the login comes from a known place.

Written with the ORM, a successful login was seven statements (the account's read, BEGIN, the
last login, the event, the known devices, the session, COMMIT), each a round trip and the ORM's
compile: more than the login's own work over the hash (docs/benchmarks.md, issue 25). Here the
five after the read are one data-modifying statement, its own transaction, written out once
from the models' metadata (only quoted table and column names are interpolated; every value is
a parameter):

    WITH k AS (the known-device rows that make this place known, as known_places_read reads them),
         one AS (one row; in its own transaction, set_config('synchronous_commit', 'off', true)),
         u AS (UPDATE the account's row ... WHERE its token generation is still the one read
               AND (no place to check OR EXISTS (SELECT 1 FROM k)) RETURNING id),
         e AS (INSERT the event SELECT ... FROM u),
         s AS (INSERT the session SELECT ... FROM u)
    SELECT (SELECT count(*) FROM u), the rows of k FROM one

In its own transaction (not inside the caller's), the statement sets `synchronous_commit` off for
that transaction (`LOGIN_COMMIT_ASYNC`, on by default): PostgreSQL answers once the commit is in
its WAL buffers, not after the disk flush, which under load was the largest wait of a login
(docs/benchmarks.md). What a crash of the PostgreSQL server (not of this service) can lose is
the logins of the last moments, each whole, never half: their sessions then do not exist, so
their tokens are refused at first use (the user logs in again), and their LOGIN_SUCCEEDED
events remain in the log stream, written after the statement. Nothing that must not be lost
is written this way: a new place's alert, the task queue's emails and every other write keep
the synchronous commit.

The inserts take their row from `u`, so nothing is written when a freeze, block or logout-all
moved the account's token generation after the login read it, or when the place is new: the
caller then takes the ORM path in one transaction, which finds out why, and records and emails
a new place with the login it alerts to (accounts.flows.login). On another database nothing is
written either: the ORM path is the only one there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from accounts.auth.new_devices import LoginPlace, place_memory_start
from accounts.models import KnownDevice, SecurityEvent, User, UserSession

T = TypeVar("T")


def _quote(database: BaseDatabaseWrapper, name: str) -> str:
    return database.ops.quote_name(name)


@functools.cache
def _inserted_fields(model: type[Model]) -> list[Any]:
    """The columns an INSERT of `model` writes: every concrete field but a database-made key."""
    return [field for field in model._meta.concrete_fields if not field.primary_key or not field.db_returning]


def _insert_from_u(database: BaseDatabaseWrapper, model: type[Model]) -> str:
    table = _quote(database, model._meta.db_table)
    fields = _inserted_fields(model)
    columns = ", ".join(_quote(database, field.column) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {table} ({columns}) SELECT {values} FROM u"  # noqa: S608


# The statement's one-row start; in its own transaction, a login's commit does not wait for the
# disk (LOGIN_COMMIT_ASYNC; see the module's docstring).
_ONE_ROW = {False: "SELECT 1", True: "SELECT set_config('synchronous_commit', 'off', true)"}


@functools.cache
def _login_rows_sql(saving: tuple[str, ...], with_place: bool, commit_async: bool) -> str:
    database = connections[DEFAULT_DB_ALIAS]
    q = functools.partial(_quote, database)
    assignments = ", ".join(f"{q(User._meta.get_field(name).column)} = %s" for name in saving)
    update = (
        f"UPDATE {q(User._meta.db_table)} SET {assignments}"  # noqa: S608
        f" WHERE {q('id')} = %s AND {q('token_generation')} = %s"
        f"{' AND EXISTS (SELECT 1 FROM k)' if with_place else ''} RETURNING {q('id')}"
    )
    writes = (
        f"one AS ({_ONE_ROW[commit_async]}), u AS ({update}),"
        f" e AS ({_insert_from_u(database, SecurityEvent)}), s AS ({_insert_from_u(database, UserSession)})"
    )
    if not with_place:
        return f"WITH {writes} SELECT (SELECT count(*) FROM u) FROM one"  # noqa: S608
    known = (
        f"SELECT {q('cookie_hash')}, {q('last_seen_at')} FROM {q(KnownDevice._meta.db_table)}"  # noqa: S608
        f" WHERE {q('user_id')} = %s AND ("
        f"({q('device')} = %s AND {q('network')} = %s AND {q('cookie_hash')} = '' AND {q('last_seen_at')} > %s)"
        f" OR (%s <> '' AND {q('device')} = '' AND {q('network')} = '' AND {q('cookie_hash')} = %s))"
    )
    return (
        f"WITH k AS ({known}), {writes} SELECT (SELECT count(*) FROM u), k.{q('cookie_hash')},"  # noqa: S608
        f" k.{q('last_seen_at')} FROM one LEFT JOIN k ON true"
    )


def _insert_params(database: BaseDatabaseWrapper, instance: Model) -> list[Any]:
    """The values of `instance`'s INSERT, prepared as the ORM prepares them."""
    return [
        field.get_db_prep_save(field.pre_save(instance, add=True), connection=database)
        for field in _inserted_fields(type(instance))
    ]


def login_rows_write(
    *,
    user: User,
    saving: dict[str, Any],
    event: SecurityEvent,
    session: UserSession,
    place: LoginPlace | None,
    meanwhile: Callable[[], T],
) -> tuple[list[KnownDevice], T] | None:
    """Save `saving` on the account's row and insert `event` and `session`, in one statement that
    is its own transaction (the caller's, inside one), if `place` is known (none: no place to
    check): the rows that make it known, as unsaved KnownDevice, and what `meanwhile` answered.

    `meanwhile` runs while PostgreSQL executes the statement (psycopg's pipeline mode: the
    statement is sent, then its answer read), so the login's tokens are signed in the time the
    round trip and the commit take; it must not touch the database. Its answer is dropped when
    nothing was written: None then (not PostgreSQL, where `meanwhile` does not run; the account's
    token generation is no longer `user.token_generation`; or `place` is new).
    """
    database = connections[DEFAULT_DB_ALIAS]
    if database.vendor != "postgresql":
        return None
    params: list[Any] = []
    if place is not None:
        memory_start = place_memory_start(session.created_at)
        params += [user.pk, place.device, place.network, memory_start, place.cookie_hash, place.cookie_hash]
    params += [
        User._meta.get_field(name).get_db_prep_save(value, connection=database)
        for name, value in saving.items()
    ]
    params += [user.pk, user.token_generation]
    params += _insert_params(database, event) + _insert_params(database, session)
    commit_async = settings.LOGIN_COMMIT_ASYNC and not database.in_atomic_block
    sql = _login_rows_sql(tuple(saving), place is not None, commit_async)
    rows, answer = _rows_while(database, sql, params, meanwhile)
    if not rows or rows[0][0] == 0:
        return None
    if place is None:
        return [], answer
    known = [
        KnownDevice(user_id=user.pk, cookie_hash=cookie_hash, last_seen_at=last_seen_at)
        for _, cookie_hash, last_seen_at in rows
    ]
    return known, answer


def _rows_while(
    database: BaseDatabaseWrapper, sql: str, params: Sequence[Any], meanwhile: Callable[[], T]
) -> tuple[list[tuple[Any, ...]], T]:
    """The rows of `sql`, sent before `meanwhile` runs and read after; `meanwhile`'s answer."""
    database.ensure_connection()
    with database.wrap_database_errors, database.connection.pipeline(), database.cursor() as cursor:
        cursor.execute(sql, params)
        answer = meanwhile()
        return cursor.fetchall(), answer
