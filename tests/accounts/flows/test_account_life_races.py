"""Races of the account's life on real row locks (PostgreSQL): two accounts confirming one new address, two purges."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.core.client import Client
from accounts.flows import closing
from accounts.models import User
from tests.conftest import authenticate
from tests.factories import DEFAULT_PASSWORD, UserFactory

NEW_EMAIL = "contested@example.org"

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite serialises every write, so two confirmations cannot overlap",
    ),
    pytest.mark.django_db(transaction=True),
]


def test_two_accounts_confirming_one_address_at_once_exactly_one_wins() -> None:
    first, second = UserFactory(), UserFactory()
    clients, codes = [], []
    for user in (first, second):
        client = authenticate(APIClient(), user)
        mail.outbox.clear()
        response = client.post(
            "/auth/me/email", {"newEmail": NEW_EMAIL, "password": DEFAULT_PASSWORD}, format="json"
        )
        assert response.status_code == 202
        clients.append(client)
        codes.append(re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1))
    barrier = threading.Barrier(2)
    answers: list[tuple[int, str] | None] = [None, None]

    def confirm(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            response = clients[index].post("/auth/me/email/confirm", {"code": codes[index]}, format="json")
            answers[index] = (response.status_code, response.json().get("code", "ok"))
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(answers) == [(200, "ok"), (400, "email_taken")]
    assert User.objects.filter(email=NEW_EMAIL).count() == 1
    assert User.objects.filter(pk__in=[first.pk, second.pk], pending_email="").count() == 2


def test_two_purges_at_once_delete_each_account_once() -> None:
    for _ in range(4):
        user = UserFactory()
        closing.account_close(user=user, password=DEFAULT_PASSWORD, otp=None, client=Client())
    User.objects.update(closed_at=timezone.now() - timedelta(days=40))
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def purge() -> None:
        try:
            barrier.wait(timeout=10)
            counts.append(closing.accounts_purge_closed())
        finally:
            connection.close()

    threads = [threading.Thread(target=purge) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sum(counts) == 4
    assert not User.objects.exists()
