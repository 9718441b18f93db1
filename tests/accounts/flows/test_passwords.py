"""Password storage (Argon2id, OWASP parameters) and no-enumeration of emails."""

from __future__ import annotations

import argon2
import pytest
from django.contrib.auth.hashers import get_hasher, make_password
from rest_framework.test import APIClient

from accounts.core.client import Client
from accounts.core.hashers import Argon2idPasswordHasher
from accounts.flows import login as login_flows
from accounts.flows import registration as registration_flows
from config.settings import base
from tests.factories import DEFAULT_PASSWORD, UserFactory


def test_argon2id_comes_first_with_at_least_owasp_parameters() -> None:
    assert base.PASSWORD_HASHERS[0] == "accounts.core.hashers.Argon2idPasswordHasher"

    encoded = Argon2idPasswordHasher().encode("a passphrase", Argon2idPasswordHasher().salt())
    parameters = argon2.extract_parameters(encoded.removeprefix("argon2"))

    assert parameters.type is argon2.Type.ID
    assert parameters.memory_cost >= 19 * 1024
    assert parameters.time_cost >= 2
    assert parameters.parallelism >= 1


@pytest.mark.django_db
def test_a_long_password_hashes_without_truncation(settings) -> None:
    settings.PASSWORD_HASHERS = ["accounts.core.hashers.Argon2idPasswordHasher"]
    user = UserFactory(password="p" * 64 + "A")

    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password("p" * 64 + "A")
    assert not user.check_password("p" * 64)


@pytest.mark.django_db
def test_login_hashes_once_whether_or_not_the_email_exists(monkeypatch) -> None:
    """Comparable time: the unknown-email path runs the same password hash as a wrong password."""
    user = UserFactory()
    hasher = get_hasher()
    calls: list[str] = []
    original_verify = type(hasher).verify
    monkeypatch.setattr(
        type(hasher), "verify", lambda self, *args: calls.append("verify") or original_verify(self, *args)
    )
    login_flows._timing_dummy_hash()

    for email in (user.email, "nobody@example.com"):
        calls.clear()
        response = APIClient().post("/auth/login", {"email": email, "password": "wrong"}, format="json")
        assert response.status_code == 403
        assert calls == ["verify"], email


@pytest.mark.django_db
def test_register_hashes_once_for_a_new_and_a_taken_email(monkeypatch) -> None:
    taken = UserFactory()
    calls: list[str] = []
    monkeypatch.setattr(
        registration_flows, "make_password", lambda password: calls.append("hash") or make_password(password)
    )
    from accounts import models

    original_set_password = models.User.set_password
    monkeypatch.setattr(
        models.User,
        "set_password",
        lambda self, raw: calls.append("hash") or original_set_password(self, raw),
    )

    for email in ("new@example.com", taken.email):
        calls.clear()
        registration_flows.user_register(email=email, password=DEFAULT_PASSWORD, client=Client())
        assert calls == ["hash"], email


def test_a_process_hashes_one_password_at_a_time(monkeypatch) -> None:
    import threading
    import time

    from django.contrib.auth.hashers import Argon2PasswordHasher

    inside, most = [0], [0]
    guard = threading.Lock()

    def slow_verify(self, password: str, encoded: str) -> bool:
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.02)
        with guard:
            inside[0] -= 1
        return True

    monkeypatch.setattr(Argon2PasswordHasher, "verify", slow_verify)
    threads = [
        threading.Thread(target=Argon2idPasswordHasher().verify, args=("pw", "argon2$x")) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most[0] == 1
    assert Argon2idPasswordHasher().verify("pw", "argon2$x") is True
