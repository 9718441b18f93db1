"""Shared fixtures: API clients, users with and without factors, the SMS and email outboxes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pyotp
import pytest
from django.core import mail
from django.core.cache import cache
from pytest_django import DjangoCaptureOnCommitCallbacks
from rest_framework.test import APIClient

from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.models import User
from otp import sms_backends
from tests.factories import DEFAULT_PASSWORD, UserFactory

USER_AGENT = "pytest-agent/1.0"


@pytest.fixture(autouse=True)
def _clean_outboxes_and_cache() -> None:
    sms_backends.outbox.clear()
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient(HTTP_USER_AGENT=USER_AGENT)


@pytest.fixture
def user(db: None) -> User:
    return UserFactory()


def authenticate(client: APIClient, user: User) -> APIClient:
    tokens = tokens_for_login(user, amr=AMR_PASSWORD)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.id_token}")
    return client


@pytest.fixture
def auth_client(api_client: APIClient, user: User) -> APIClient:
    return authenticate(api_client, user)


def throttle_rate_set(settings: Any, scope: str, rate: str) -> None:
    """DRF's rate of one throttle scope for this test, the others as they are."""
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**rates, scope: rate}}


def last_sms_code() -> str:
    assert sms_backends.outbox, "no SMS was sent"
    return re.search(r"\b(\d{6})\b", sms_backends.outbox[-1].body).group(1)


def last_email_code() -> str:
    assert mail.outbox, "no email was sent"
    return re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)


@pytest.fixture
def totp_user(db: None) -> tuple[User, pyotp.TOTP]:
    """A user with a verified TOTP factor, and an authenticator for it."""
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.core.client import Client
    from otp.services import totp_device_create

    user = UserFactory()
    enrolment = totp_device_create(user=user, otp=None, client=Client())
    TOTPDevice.objects.filter(user=user).update(confirmed=True)
    User.objects.filter(pk=user.pk).update(totp_verified_at=timezone.now())
    user.refresh_from_db()
    return user, pyotp.TOTP(enrolment.secret)


@pytest.fixture
def login(api_client: APIClient) -> Callable[..., object]:
    def do_login(email: str, password: str = DEFAULT_PASSWORD, **headers: str) -> object:
        return api_client.post(
            "/auth/login", {"email": email, "password": password}, format="json", **headers
        )

    return do_login


Committed = Callable[[], AbstractContextManager[None]]


@pytest.fixture
def committed(django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks) -> Committed:
    """Run a block as a request would: what waits for the commit (notifications) runs at its end."""

    @contextmanager
    def run() -> Iterator[None]:
        with django_capture_on_commit_callbacks(execute=True):
            yield

    return run
