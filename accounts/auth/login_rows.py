"""An API login's rows in one PostgreSQL statement: the last login, the audit event, the session,
and the known-device rows the new-device check reads.

Written with the ORM, a successful login was seven statements (the account's read, BEGIN, the
last login, the event, the known devices, the session, COMMIT), each a round trip and the ORM's
compile: more than the login's own work over the hash (docs/benchmarks.md, issue 25). Here the
four in the middle are one data-modifying statement, written out once from the models' metadata
(only quoted table and column names are interpolated; every value is a parameter):

    WITH u AS (UPDATE the account's row ... WHERE its token generation is still the one read
               RETURNING id),
         e AS (INSERT the event SELECT ... FROM u),
         s AS (INSERT the session SELECT ... FROM u)
    SELECT (SELECT count(*) FROM u), the known-device rows of this place

The inserts take their row from `u`: when a freeze, block or logout-all moved the account's
token generation after the login read it, nothing is written and the caller falls back to the
ORM path, which finds out why (accounts.flows.login). On another database nothing is written
either: the ORM path is the only one there.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from accounts.auth.new_devices import LoginPlace
from accounts.models import KnownDevice, SecurityEvent, User, UserSession


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


@functools.cache
def _login_rows_sql(saving: tuple[str, ...], with_place: bool) -> str:
    database = connections[DEFAULT_DB_ALIAS]
    q = functools.partial(_quote, database)
    assignments = ", ".join(f"{q(User._meta.get_field(name).column)} = %s" for name in saving)
    update = (
        f"UPDATE {q(User._meta.db_table)} SET {assignments}"  # noqa: S608
        f" WHERE {q('id')} = %s AND {q('token_generation')} = %s RETURNING {q('id')}"
    )
    statement = (
        f"WITH u AS ({update}), e AS ({_insert_from_u(database, SecurityEvent)}),"  # noqa: S608
        f" s AS ({_insert_from_u(database, UserSession)}) SELECT (SELECT count(*) FROM u)"
    )
    if not with_place:
        return statement
    return (
        f"{statement}, k.{q('cookie_hash')}, k.{q('last_seen_at')} FROM (SELECT 1) AS one"
        f" LEFT JOIN {q(KnownDevice._meta.db_table)} k ON k.{q('user_id')} = %s AND ("
        f"(k.{q('device')} = %s AND k.{q('network')} = %s AND k.{q('cookie_hash')} = '')"
        f" OR (%s <> '' AND k.{q('device')} = '' AND k.{q('network')} = '' AND k.{q('cookie_hash')} = %s))"
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
) -> list[KnownDevice] | None:
    """Save `saving` on the account's row, insert `event` and `session`, and read the known-device
    rows of `place` (none without one), in one statement; the known rows as unsaved KnownDevice.

    None when nothing was written: not PostgreSQL, or the account's token generation is no longer
    `user.token_generation`.
    """
    database = connections[DEFAULT_DB_ALIAS]
    if database.vendor != "postgresql":
        return None
    params: list[Any] = [
        User._meta.get_field(name).get_db_prep_save(value, connection=database)
        for name, value in saving.items()
    ]
    params += [user.pk, user.token_generation]
    params += _insert_params(database, event) + _insert_params(database, session)
    if place is not None:
        params += [user.pk, place.device, place.network, place.cookie_hash, place.cookie_hash]
    rows = _rows(database, _login_rows_sql(tuple(saving), place is not None), params)
    if not rows or rows[0][0] == 0:
        return None
    if place is None:
        return []
    return [
        KnownDevice(user_id=user.pk, cookie_hash=cookie_hash, last_seen_at=last_seen_at)
        for _, cookie_hash, last_seen_at in rows
        if last_seen_at is not None
    ]


def _rows(database: BaseDatabaseWrapper, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with database.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
