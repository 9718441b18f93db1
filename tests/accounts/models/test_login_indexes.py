"""The tables every login inserts into carry no index that no query uses (each costs every login)."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import SecurityEvent, UserSession

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the indexes PostgreSQL maintains"),
]


def _index_columns(model: type) -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return {",".join(constraint["columns"]) for constraint in constraints.values() if constraint["index"]}


def test_besides_its_key_a_session_is_found_by_its_user_and_its_expiry_only() -> None:
    assert _index_columns(UserSession) == {"user_id,created_at", "expires_at"}


def test_besides_its_key_an_event_is_found_by_its_user_and_support_s_staff_member_only() -> None:
    assert _index_columns(SecurityEvent) == {"user_id,created_at", "staff_member_id"}


def test_support_s_index_leaves_out_the_users_own_events() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'event_staff_member_idx'")
        (definition,) = cursor.fetchone()
    assert definition.endswith("WHERE (staff_member_id IS NOT NULL)")
