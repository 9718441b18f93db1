"""Bearer idToken authentication: signature and claims, then the user row says if it still counts."""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection
from django.utils import timezone
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from otp.models import SmsDevice

from .account_state import account_may_authenticate
from .models import User, UserSession
from .sessions import session_id_parse

# The phone's columns in the bearer query, aliased so they cannot clash with the user's.
_PHONE_PREFIX = "phone__"


@functools.cache
def _bearer_user_sql() -> str:
    """The user, the phone (for the profile) and whether the token's session is live, in one query.

    Written out once, as refresh's statement is (accounts/services.py): composing the
    annotated ORM query on each request cost more than the query itself
    (docs/benchmarks.md). Parameters: session id, now, user id.
    """
    quote = connection.ops.quote_name
    users, sessions = quote(User._meta.db_table), quote(UserSession._meta.db_table)
    phones = quote(SmsDevice._meta.db_table)
    user_id, pk = quote("user_id"), quote("id")
    phone_columns = ", ".join(
        f"p.{quote(field.column)} AS {quote(_PHONE_PREFIX + field.column)}"
        for field in SmsDevice._meta.concrete_fields
    )
    # Only quoted table and column names are interpolated; every value is a parameter.
    return (
        f"SELECT u.*, {phone_columns}, EXISTS (SELECT 1 FROM {sessions} s"  # noqa: S608
        f" WHERE s.{pk} = %s AND s.{user_id} = u.{pk} AND s.{quote('ended_at')} IS NULL"
        f" AND s.{quote('expires_at')} > %s) AS session_live"
        f" FROM {users} u LEFT JOIN {phones} p ON p.{user_id} = u.{pk} WHERE u.{pk} = %s"
    )


def _phone_attach(user: User) -> None:
    """Put the phone read with the user in the cache `user.sms_device` reads, as select_related does."""
    fields = SmsDevice._meta.concrete_fields
    values = [getattr(user, _PHONE_PREFIX + field.column) for field in fields]
    phone = None
    if values[[field.primary_key for field in fields].index(True)] is not None:
        phone = SmsDevice.from_db(connection.alias, [field.attname for field in fields], values)
        SmsDevice.user.field.set_cached_value(phone, user)
    User.sms_device.related.set_cached_value(user, phone)


def _user_with_session_state(user_id: object, session_id: object) -> User | None:
    """The user with the phone and `session_live`, or None when the user or the session id is not one."""
    session = session_id_parse(session_id)
    try:
        owner = int(user_id)
    except (TypeError, ValueError):
        return None
    if session is None:  # issued before sessions existed, or forged
        return None
    params = [
        UserSession._meta.pk.get_db_prep_value(session, connection),
        connection.ops.adapt_datetimefield_value(timezone.now()),
        owner,
    ]
    user = next(iter(User.objects.raw(_bearer_user_sql(), params)), None)
    if user is not None:
        _phone_attach(user)
    return user


class IdTokenAuthentication(JWTAuthentication):
    """Refuses the idToken of a user who is gone or may not authenticate, of an ended session, or issued before a revocation."""

    def get_user(self, validated_token: Any) -> User:
        user = _user_with_session_state(validated_token["sub"], validated_token.get("sid"))
        if (
            user is None
            or not user.session_live
            or not account_may_authenticate(user)
            or validated_token["gen"] != user.token_generation
        ):
            raise AuthenticationFailed("The token is no longer valid.", code="token_not_valid")
        return user
