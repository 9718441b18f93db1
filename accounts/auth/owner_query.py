"""The three statements of the hot path, and how their rows become models.

`GET /auth/me` (and every other bearer request) and refresh each read the token's owner with
one statement, and login the account of an email, written out here once from the models' metadata: composing the annotated ORM
query on each request cost more than the query itself, and RawQuerySet's set-up (column
mapping, converters, model init order) a third of the rest (docs/benchmarks.md). Only quoted
table and column names are interpolated; every value is a parameter.

Each statement selects the user's columns in the model's field order (all of them for the
bearer, who may be any endpoint's `request.user`; for refresh only those it reads, the rest
deferred), so a row becomes a `User` by position, with the database's converters (SQLite's
dates are text) worked out once. The columns after the model's are the statement's flags,
returned beside the user.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.utils import timezone

from accounts.models import RevokedToken, User, UserSession
from otp.models import SmsDevice

Converter = Callable[[Any, Any, Any], Any]


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _fields(model: type[Model], names: tuple[str, ...] | None = None) -> list[Field]:
    """The model's concrete fields, in its order: all of them, or those named."""
    fields = model._meta.concrete_fields
    return list(fields) if names is None else [field for field in fields if field.name in names]


def _columns(model: type[Model], alias: str, names: tuple[str, ...] | None = None) -> str:
    return ", ".join(f"{alias}.{_quote(field.column)}" for field in _fields(model, names))


def _database() -> BaseDatabaseWrapper:
    """This thread's connection, looked up once: each use of the `connection` proxy looks it up again."""
    return connections[DEFAULT_DB_ALIAS]


@functools.cache
def _converters(
    vendor: str, model: type[Model], names: tuple[str, ...] | None
) -> tuple[tuple[int, Any, tuple[Converter, ...]], ...]:
    """(position, column, converters) of the fields whose database value needs converting, as the ORM does."""
    database = _database()
    found = []
    for position, field in enumerate(_fields(model, names)):
        column = field.get_col(model._meta.db_table)
        converters = database.ops.get_db_converters(column) + column.get_db_converters(database)
        if converters:
            found.append((position, column, tuple(converters)))
    return tuple(found)


@functools.cache
def _attnames(model: type[Model], names: tuple[str, ...]) -> list[str]:
    return [field.attname for field in _fields(model, names)]


def _model_from(
    database: BaseDatabaseWrapper,
    model: type[Model],
    values: Sequence[Any],
    names: tuple[str, ...] | None = None,
) -> Model:
    """A model instance from its fields' values in field order (all, or those named: the rest deferred)."""
    values = list(values)
    for position, column, converters in _converters(database.vendor, model, names):
        for convert in converters:
            values[position] = convert(values[position], column, database)
    return model.from_db(database.alias, None if names is None else _attnames(model, names), values)


def _first_row(database: BaseDatabaseWrapper, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    with database.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def session_live_sql(alias: str = "") -> str:
    """`UserSession.objects.live()` in SQL, for the row `alias` (or the table); one parameter: now."""
    prefix = f"{alias}." if alias else ""
    return f"{prefix}{_quote('ended_at')} IS NULL AND {prefix}{_quote('expires_at')} > %s"


# --- Login's account -------------------------------------------------------------------------


@functools.cache
def _login_user_sql(vendor: str) -> str:
    """The account of a normalised email, every column (login checks its password and state)."""
    users = _quote(User._meta.db_table)
    return f"SELECT {_columns(User, 'u')} FROM {users} u WHERE u.{_quote('email')} = %s"  # noqa: S608


def login_user_read(email: str) -> User | None:
    """The account whose (normalised) email is `email`, or None. One query, on the email's unique index."""
    database = _database()
    row = _first_row(database, _login_user_sql(database.vendor), [email])
    return None if row is None else _model_from(database, User, row)


# --- The bearer's user ---------------------------------------------------------------------


@functools.cache
def _bearer_sql(vendor: str) -> str:
    """The user, the phone (for the profile) and whether the token's session is live.

    Parameters: session id, now, user id.
    """
    users, sessions = _quote(User._meta.db_table), _quote(UserSession._meta.db_table)
    phones = _quote(SmsDevice._meta.db_table)
    user_id, pk = _quote("user_id"), _quote("id")
    return (
        f"SELECT {_columns(User, 'u')}, {_columns(SmsDevice, 'p')}, EXISTS (SELECT 1 FROM {sessions} s"  # noqa: S608
        f" WHERE s.{pk} = %s AND s.{user_id} = u.{pk} AND {session_live_sql('s')})"
        f" FROM {users} u LEFT JOIN {phones} p ON p.{user_id} = u.{pk} WHERE u.{pk} = %s"
    )


def bearer_user_read(user_id: int, session_id: object) -> tuple[User, bool] | None:
    """The user with its phone loaded (`user.sms_device`), and whether session `session_id` of theirs is live.

    None when there is no such user. One query.
    """
    database = _database()
    params = [
        UserSession._meta.pk.get_db_prep_value(session_id, database),
        database.ops.adapt_datetimefield_value(timezone.now()),
        user_id,
    ]
    row = _first_row(database, _bearer_sql(database.vendor), params)
    if row is None:
        return None
    user_width = len(User._meta.concrete_fields)
    phone_width = len(SmsDevice._meta.concrete_fields)
    user = _model_from(database, User, row[:user_width])
    phone_values = row[user_width : user_width + phone_width]
    phone = None
    if phone_values[0] is not None:  # the phone's id: LEFT JOIN found one
        phone = _model_from(database, SmsDevice, phone_values)
        SmsDevice.user.field.set_cached_value(phone, user)
    User.sms_device.related.set_cached_value(user, phone)
    return user, bool(row[-1])


# --- Refresh's owner -------------------------------------------------------------------------

# What refresh and logout read of the owner: the account's state (`account_refusal`), the
# token generation and the idToken's claims (`security_changed_at` among them). The other
# columns stay deferred (each would be a query if read: the query budgets would show it), and
# are not parsed on every refresh.
REFRESH_OWNER_FIELDS = (
    "id",
    "email",
    "status",
    "locked_until",
    "is_active",
    "closed_at",
    "email_verified_at",
    "token_generation",
    "security_changed_at",
)


@functools.cache
def _refresh_owner_sql(vendor: str) -> str:
    """The user, whether the token or its family is revoked and whether its session is live.

    The same statement stamps the session's `last_used_at`, so refresh stays one round
    trip. PostgreSQL does it with a data-modifying CTE beside the user's SELECT, and only
    when the stamp is `SESSION_TOUCH_SECONDS` old: most refreshes then write nothing and
    commit without a WAL flush (docs/benchmarks.md). SQLite has no writable CTE, so there
    the UPDATE of the session returns the user's columns itself (no row: the session is
    gone) and stamps every time. Parameters: see `_refresh_owner_params`.
    """
    users, revoked = _quote(User._meta.db_table), _quote(RevokedToken._meta.db_table)
    sessions = _quote(UserSession._meta.db_table)
    user_id, jti, pk = _quote("user_id"), _quote("jti"), _quote("id")
    last_used = _quote("last_used_at")
    touch = (
        f"UPDATE {sessions} SET {last_used} = %s WHERE {pk} = %s AND {user_id} = %s"  # noqa: S608
        f" AND {session_live_sql()}"
    )
    if vendor == "postgresql":
        return (
            f"WITH touched AS ({touch} AND {last_used} < %s RETURNING 1) "  # noqa: S608
            f"SELECT {_columns(User, 'u', REFRESH_OWNER_FIELDS)}, EXISTS (SELECT 1 FROM {revoked} r"
            f" WHERE r.{user_id} = u.{pk}"
            f" AND r.{jti} IN (%s, %s)), EXISTS (SELECT 1 FROM {sessions} s"
            f" WHERE s.{pk} = %s AND s.{user_id} = u.{pk} AND {session_live_sql('s')})"
            f" FROM {users} u WHERE u.{pk} = %s"
        )
    columns = ", ".join(
        f"(SELECT u.{_quote(field.column)} FROM {users} u WHERE u.{pk} = {sessions}.{user_id})"  # noqa: S608
        for field in _fields(User, REFRESH_OWNER_FIELDS)
    )
    return (
        f"{touch} RETURNING {columns}, EXISTS (SELECT 1 FROM {revoked} r"  # noqa: S608
        f" WHERE r.{user_id} = {sessions}.{user_id} AND r.{jti} IN (%s, %s)), 1"
    )


def _refresh_owner_params(
    database: BaseDatabaseWrapper, *, session_id: object, owner_id: int, jti: str, family: str
) -> list[object]:
    """The values of `_refresh_owner_sql`, in its order for the database in use."""
    now = timezone.now()
    stamp = database.ops.adapt_datetimefield_value(now)
    session = UserSession._meta.pk.get_db_prep_value(session_id, database)
    if database.vendor != "postgresql":
        return [stamp, session, owner_id, stamp, jti, family]
    stale = database.ops.adapt_datetimefield_value(now - timedelta(seconds=settings.SESSION_TOUCH_SECONDS))
    return [stamp, session, owner_id, stamp, stale, jti, family, session, stamp, owner_id]


def refresh_owner_read_and_touch(
    *, owner_id: int, session_id: object, jti: str, family: str
) -> tuple[User, bool, bool] | None:
    """The owner, whether `jti` or `family` is revoked, and whether the session is live; stamps the session used.

    None when there is no such user (or, on SQLite, no such live session). One statement.
    """
    database = _database()
    params = _refresh_owner_params(database, session_id=session_id, owner_id=owner_id, jti=jti, family=family)
    row = _first_row(database, _refresh_owner_sql(database.vendor), params)
    if row is None:
        return None
    return _model_from(database, User, row[:-2], REFRESH_OWNER_FIELDS), bool(row[-2]), bool(row[-1])
