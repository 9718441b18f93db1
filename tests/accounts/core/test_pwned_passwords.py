"""Breached passwords: the range client, the validator at sign-up, change and reset, the login flag.

Against a local fake of the range API (tests/accounts/core/pwned_fake.py) that records every request.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client as PageClient
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from accounts.auth.new_devices import new_device_remember
from accounts.core import pwned_passwords
from accounts.core.client import Client
from accounts.flows import password_breaches
from accounts.flows.password_breaches import password_breach_recheck
from accounts.models import SecurityEvent, User
from config.metrics import pwned_check_failures
from tests.accounts.core.pwned_fake import FakeRangeApi, prefixes_only, unused_port_url
from tests.conftest import USER_AGENT, authenticate
from tests.factories import DEFAULT_PASSWORD, UserFactory

BREACHED = "monkey shoulder 1987!"
CLEAN = "a quiet lighthouse of copper kettles"
SLACK_SECONDS = 0.4

pytestmark = pytest.mark.django_db


def _failures(reason: str) -> float:
    return pwned_check_failures.labels(reason)._value.get()


# --- the client ---------------------------------------------------------------------------------


def test_a_breached_password_is_counted_and_a_clean_one_is_not(pwned_api: FakeRangeApi) -> None:
    pwned_api.breach(BREACHED, count=1234)

    assert pwned_passwords.password_breach_count(BREACHED) == 1234
    assert pwned_passwords.password_breach_count(CLEAN) == 0


def test_only_a_five_character_prefix_leaves_with_padding_asked(pwned_api: FakeRangeApi) -> None:
    pwned_api.breach(BREACHED)
    sha1 = hashlib.sha1(BREACHED.encode()).hexdigest().upper()  # noqa: S324

    pwned_passwords.password_breach_count(BREACHED)

    [request] = pwned_api.requests
    assert request.path == f"/range/{sha1[:5]}"
    assert request.headers["Add-Padding"] == "true"
    assert sha1[5:] not in str(request.headers) and BREACHED not in str(request.headers)


def test_the_fake_answers_padded_like_the_real_api(pwned_api: FakeRangeApi) -> None:
    body = pwned_api.range_body("ABCDE")

    assert 800 <= len(body.splitlines()) <= 1000
    assert pwned_passwords._suffix_count(body, "0" * 35) == 0


@pytest.mark.parametrize(("mode", "reason"), [("garbage", "garbage"), ("error", "http_error")])
def test_a_bad_answer_is_accepted_logged_and_counted(
    pwned_api: FakeRangeApi, caplog: pytest.LogCaptureFixture, mode: str, reason: str
) -> None:
    pwned_api.mode = mode
    before = _failures(reason)

    with caplog.at_level(logging.WARNING, logger="accounts.core.pwned_passwords"):
        assert pwned_passwords.password_breach_count(BREACHED) is None

    assert _failures(reason) == before + 1
    assert reason in caplog.text
    assert BREACHED not in caplog.text


def test_the_api_down_is_accepted_at_once(pwned_api: FakeRangeApi, settings) -> None:
    settings.PWNED_PASSWORDS_API_URL = unused_port_url()
    before = _failures("network")

    started = time.monotonic()
    assert pwned_passwords.password_breach_count(BREACHED) is None

    assert time.monotonic() - started < settings.PWNED_PASSWORDS_TIMEOUT_SECONDS
    assert _failures("network") == before + 1


@pytest.mark.parametrize("mode", ["slow", "drip"])
def test_a_slow_api_never_holds_a_check_past_the_timeout(
    pwned_api: FakeRangeApi, settings, mode: str
) -> None:
    pwned_api.mode = mode
    before = _failures("timeout")

    started = time.monotonic()
    assert pwned_passwords.password_breach_count(BREACHED) is None

    assert time.monotonic() - started < settings.PWNED_PASSWORDS_TIMEOUT_SECONDS + SLACK_SECONDS
    assert _failures("timeout") == before + 1


def test_after_a_failure_the_api_is_left_alone_for_the_backoff(pwned_api: FakeRangeApi) -> None:
    pwned_api.mode = "error"
    pwned_passwords.password_breach_count(BREACHED)
    pwned_api.mode = "ok"
    before = _failures("backoff")

    assert pwned_passwords.password_breach_count(BREACHED) is None

    assert len(pwned_api.requests) == 1
    assert _failures("backoff") == before + 1


# --- refused at sign-up, change and reset ---------------------------------------------------------


def test_sign_up_refuses_a_breached_password(pwned_api: FakeRangeApi) -> None:
    pwned_api.breach(BREACHED)

    response = APIClient().post(
        "/auth/register", {"email": "new@example.com", "password": BREACHED}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "password_compromised"
    assert "breach" in response.json()["errors"]["password"][0]
    assert not User.objects.filter(email="new@example.com").exists()
    assert prefixes_only(pwned_api.requests)


def test_sign_up_accepts_a_clean_password_and_any_when_the_api_is_down(
    pwned_api: FakeRangeApi, settings
) -> None:
    pwned_api.breach(BREACHED)
    clean = APIClient().post("/auth/register", {"email": "a@example.com", "password": CLEAN}, format="json")
    settings.PWNED_PASSWORDS_API_URL = unused_port_url()
    pwned_passwords.backoff_reset()
    down = APIClient().post("/auth/register", {"email": "b@example.com", "password": BREACHED}, format="json")

    assert clean.status_code == down.status_code == 202
    assert User.objects.filter(email__in=["a@example.com", "b@example.com"]).count() == 2


def test_the_check_is_off_with_the_setting(pwned_api: FakeRangeApi, settings) -> None:
    pwned_api.breach(BREACHED)
    settings.PWNED_PASSWORDS = False

    response = APIClient().post(
        "/auth/register", {"email": "new@example.com", "password": BREACHED}, format="json"
    )

    assert response.status_code == 202
    assert pwned_api.requests == []


def test_password_change_refuses_a_breached_password(pwned_api: FakeRangeApi, user: User) -> None:
    pwned_api.breach(BREACHED)

    response = authenticate(APIClient(), user).post(
        "/auth/password/change", {"currentPassword": DEFAULT_PASSWORD, "newPassword": BREACHED}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "password_compromised"
    assert list(response.json()["errors"]) == ["newPassword"]
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_reset_refuses_a_breached_password(pwned_api: FakeRangeApi, user: User) -> None:
    pwned_api.breach(BREACHED)
    body = {
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
        "newPassword": BREACHED,
    }

    response = APIClient().post("/auth/password/reset/confirm", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "password_compromised"


def test_the_sign_up_page_says_why_a_breached_password_is_refused(pwned_api: FakeRangeApi) -> None:
    pwned_api.breach(BREACHED)

    response = PageClient().post("/account/signup/", {"email": "new@example.com", "password": BREACHED})

    assert response.status_code == 400
    assert "known data breach" in response.content.decode()


def test_the_admin_shares_the_validator(pwned_api: FakeRangeApi) -> None:
    from django.contrib.auth.forms import SetPasswordForm

    pwned_api.breach(BREACHED)
    form = SetPasswordForm(UserFactory(), {"new_password1": BREACHED, "new_password2": BREACHED})

    assert not form.is_valid()
    assert "known data breach" in str(form.errors)


# --- found at login -----------------------------------------------------------------------------


def _breached_user() -> User:
    """An account whose password leaked after it was chosen (set without the validators)."""
    user = UserFactory()
    user.set_password(BREACHED)
    user.save(update_fields=["password"])
    # Signed up where the tests log in from: no new-device alert among the emails counted.
    new_device_remember(user=user, client=Client(ip="127.0.0.1", user_agent=USER_AGENT))
    return user


def test_a_login_with_a_breached_password_succeeds_flags_and_emails_once(
    pwned_api: FakeRangeApi, login, committed
) -> None:
    pwned_api.breach(BREACHED)
    user = _breached_user()

    with committed():
        first = login(user.email, BREACHED)
    with committed():
        second = login(user.email, BREACHED)

    assert first.status_code == second.status_code == 200
    profile = authenticate(APIClient(), user).get("/auth/me").json()
    assert profile["passwordCompromised"] is True
    assert [message.subject for message in mail.outbox] == [
        "Auth Service: change your password, it appears in a data breach"
    ]
    assert SecurityEvent.objects.filter(user=user, type="PASSWORD_COMPROMISED").count() == 1
    assert len(pwned_api.requests) == 1  # the second login is within the recheck period
    assert prefixes_only(pwned_api.requests)


def test_a_clean_password_at_login_is_checked_once_per_recheck_period(pwned_api: FakeRangeApi, login) -> None:
    user = UserFactory()

    login(user.email)
    login(user.email)
    User.objects.filter(pk=user.pk).update(password_checked_at=timezone.now() - timedelta(days=31))
    login(user.email)

    assert len(pwned_api.requests) == 2
    user.refresh_from_db()
    assert user.password_compromised_at is None and user.password_checked_at is not None
    assert authenticate(APIClient(), user).get("/auth/me").json()["passwordCompromised"] is False


def test_a_recheck_of_a_flagged_password_emails_no_more(pwned_api: FakeRangeApi, login, committed) -> None:
    pwned_api.breach(BREACHED)
    user = _breached_user()
    with committed():
        login(user.email, BREACHED)
    User.objects.filter(pk=user.pk).update(password_checked_at=timezone.now() - timedelta(days=31))

    with committed():
        login(user.email, BREACHED)

    assert len(pwned_api.requests) == 2
    assert len(mail.outbox) == 1


def test_a_login_while_the_api_is_down_succeeds_in_time_and_tries_again_next_time(
    pwned_api: FakeRangeApi, login, settings, monkeypatch
) -> None:
    pwned_api.mode = "slow"
    user = UserFactory()
    checks: list[float] = []
    check = password_breaches.sha1_breach_count

    def timed_check(sha1: str) -> int | None:
        started = time.monotonic()
        try:
            return check(sha1)
        finally:
            checks.append(time.monotonic() - started)

    monkeypatch.setattr(password_breaches, "sha1_breach_count", timed_check)

    started = time.monotonic()
    response = login(user.email)

    assert response.status_code == 200
    assert len(checks) == 1
    assert checks[0] < settings.PWNED_PASSWORDS_TIMEOUT_SECONDS + SLACK_SECONDS
    assert time.monotonic() - started < settings.PWNED_PASSWORDS_TIMEOUT_SECONDS + 1.0
    user.refresh_from_db()
    assert user.password_checked_at is None  # not checked: the next login asks again


def test_a_changed_password_is_not_flagged_by_a_check_of_the_old_one(pwned_api: FakeRangeApi) -> None:
    pwned_api.breach(BREACHED)
    user = _breached_user()
    old_hash = user.password
    user.set_password(CLEAN)
    user.save(update_fields=["password"])

    checked = password_breach_recheck(
        user_id=user.pk, sha1=pwned_passwords.password_sha1(BREACHED), password_hash=old_hash, client=Client()
    )

    assert checked is None
    user.refresh_from_db()
    assert user.password_compromised_at is None


def test_a_password_change_clears_the_flag(pwned_api: FakeRangeApi) -> None:
    user = _breached_user()
    User.objects.filter(pk=user.pk).update(
        password_compromised_at=timezone.now(), password_checked_at=timezone.now()
    )

    response = authenticate(APIClient(), user).post(
        "/auth/password/change", {"currentPassword": BREACHED, "newPassword": CLEAN}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["passwordCompromised"] is False


def test_the_security_page_asks_to_change_a_flagged_password(user: User) -> None:
    User.objects.filter(pk=user.pk).update(password_compromised_at=timezone.now())
    page = PageClient()
    page.force_login(user)

    response = page.get("/account/")

    assert 'id="password-compromised"' in response.content.decode()
