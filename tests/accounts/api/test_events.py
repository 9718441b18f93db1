"""`GET /auth/me/events`: the caller's own security history, newest first, page by page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.core.client import Client
from accounts.core.events import security_event_record
from accounts.flows import support
from accounts.models import SecurityEvent, User
from accounts.selectors import security_events_for_user
from tests.factories import UserFactory

EventType = SecurityEvent.Type
URL = "/auth/me/events"


def events_recorded(user: User, count: int) -> list[SecurityEvent]:
    """`count` login events of `user`, a minute apart, oldest first."""
    start = timezone.now() - timedelta(hours=1)
    events = []
    for minute in range(count):
        event = security_event_record(
            user=user,
            type=EventType.LOGIN_SUCCEEDED,
            client=Client(ip="203.0.113.5", user_agent=f"agent/{minute}"),
            details={"factor": "password"},
        )
        SecurityEvent.objects.filter(pk=event.pk).update(created_at=start + timedelta(minutes=minute))
        events.append(event)
    return events


def test_events_need_a_bearer_token(db: None) -> None:
    response = APIClient().get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_events_are_the_callers_own_newest_first_in_camel_case(user: User, auth_client: APIClient) -> None:
    events = events_recorded(user, 3)
    events_recorded(UserFactory(), 2)

    response = auth_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["page"], body["pageSize"], body["hasNext"]) == (3, 1, 20, False)
    assert [item["userAgent"] for item in body["results"]] == ["agent/2", "agent/1", "agent/0"]
    newest = body["results"][0]
    assert set(newest) == {"type", "actor", "createdAt", "ipAddress", "userAgent", "details"}
    assert (newest["type"], newest["actor"], newest["ipAddress"]) == (
        "LOGIN_SUCCEEDED",
        "USER",
        "203.0.113.5",
    )
    assert newest["details"] == {"factor": "password"}
    events[2].refresh_from_db()
    assert newest["createdAt"] == events[2].created_at.isoformat().replace("+00:00", "Z")


def test_events_come_a_page_at_a_time(user: User, auth_client: APIClient) -> None:
    events_recorded(user, 5)

    pages = [auth_client.get(URL, {"page": page, "pageSize": 2}).json() for page in (1, 2, 3, 4)]

    assert [[item["userAgent"] for item in page["results"]] for page in pages] == [
        ["agent/4", "agent/3"],
        ["agent/2", "agent/1"],
        ["agent/0"],
        [],
    ]
    assert [page["hasNext"] for page in pages] == [True, True, False, False]
    assert {page["count"] for page in pages} == {5}


@pytest.mark.parametrize(
    "query",
    [{"page": "0"}, {"page": "x"}, {"pageSize": "0"}, {"pageSize": "101"}, {"page": "99999999999999999999"}],
)
def test_a_bad_page_is_a_validation_error(auth_client: APIClient, query: dict[str, str]) -> None:
    response = auth_client.get(URL, query)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_a_staff_action_shows_as_staff_with_its_reason_but_not_who(
    user: User, auth_client: APIClient
) -> None:
    staff_member = UserFactory(is_staff=True, email="agent.smith@support.example.com")
    support.account_unlock(user=user, staff_member=staff_member, reason="Ticket 9: locked out after travel")

    (event,) = auth_client.get(URL).json()["results"]

    assert (event["type"], event["actor"]) == ("ACCOUNT_UNLOCKED", "STAFF")
    assert event["details"]["reason"] == "Ticket 9: locked out after travel"
    assert "agent.smith" not in str(event)


def test_the_selector_gives_the_users_events_newest_first(user: User) -> None:
    events = events_recorded(user, 3)
    events_recorded(UserFactory(), 1)

    assert list(security_events_for_user(user=user)) == events[::-1]
