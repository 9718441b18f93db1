"""Freezing under concurrency (real row locks and connections: PostgreSQL only).

Two freezes and a login at once leave one FROZEN account, one ACCOUNT_FROZEN event and no
live session; a freeze in one worker ends the sessions another worker serves at once.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client as BrowserClient
from rest_framework.test import APIClient

from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.core.client import Client
from accounts.core.freeze_links import freeze_link_token
from accounts.flows.freezing import FreezeMethod, account_freeze
from accounts.models import SecurityEvent, User, UserSession
from tests.factories import DEFAULT_PASSWORD, UserFactory

ROUNDS = 5

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite has no row locks (SELECT ... FOR UPDATE), so it cannot race",
    ),
    pytest.mark.django_db(transaction=True),
]


def _at_once(*work: Any) -> list[Any]:
    """Run each callable in its own thread (its own connection), released together; their results."""
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[index] = work[index]()
        except BaseException as error:  # noqa: BLE001 - reported by the caller's assertions
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_freezes_and_a_login_at_once_leave_one_frozen_account_one_event_no_session(round_: int) -> None:
    user = UserFactory()
    link = f"/account/freeze/{freeze_link_token(user)}/"

    def login() -> int:
        return (
            APIClient()
            .post("/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json")
            .status_code
        )

    answers = _at_once(
        lambda: BrowserClient().post(link).status_code,
        lambda: account_freeze(user=user, how=FreezeMethod.API, client=Client()),
        login,
    )

    user.refresh_from_db()
    assert user.status == User.Status.FROZEN, answers
    assert SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.ACCOUNT_FROZEN).count() == 1, (
        answers
    )
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists(), answers
    # The link and the service: exactly one froze (the link's page says 410 "used" otherwise); the
    # login came first (its session then ended) or was refused once the password was right.
    assert (answers[0] == 200) + (answers[1] is True) == 1, answers
    assert answers[2] in (200, 403), answers


def test_a_freeze_in_one_worker_ends_the_sessions_another_worker_serves_at_once() -> None:
    user = UserFactory()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for_login(user, amr=AMR_PASSWORD).id_token}")
    browser = BrowserClient()
    browser.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    served = threading.Event()
    frozen = threading.Event()
    answers: dict[str, list[int]] = {"api": [], "browser": []}

    def other_worker() -> None:
        # Serves the user before and after: the idToken verified once here stays in this
        # process's cache of verified tokens; the account's state is read on each request.
        try:
            answers["api"].append(api.get("/auth/me").status_code)
            answers["browser"].append(browser.get("/account/").status_code)
            served.set()
            frozen.wait(timeout=60)
            answers["api"].append(api.get("/auth/me").status_code)
            answers["browser"].append(browser.get("/account/").status_code)
        finally:
            connection.close()

    def freezing_worker() -> None:
        try:
            served.wait(timeout=60)
            account_freeze(user=user, how=FreezeMethod.API, client=Client())
            frozen.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=other_worker), threading.Thread(target=freezing_worker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert answers == {"api": [200, 401], "browser": [200, 302]}
