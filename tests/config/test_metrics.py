"""The metrics are counted where the events happen, with nothing personal in their labels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from accounts.core.client import Client
from accounts.core.errors import ServiceError
from config import metrics
from otp import services as otp_services
from otp.models import SmsDevice
from tests.factories import DEFAULT_PASSWORD, UserFactory, user_with_every_factor

CLIENT = Client(ip="203.0.113.7", user_agent="pytest")
PROJECT_DIR = Path(__file__).resolve().parents[2]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def every_label_value() -> set[str]:
    return {value for family in REGISTRY.collect() for s in family.samples for value in s.labels.values()}


def login(client: APIClient, email: str, password: str = DEFAULT_PASSWORD, **headers: str):
    return client.post("/auth/login", {"email": email, "password": password}, format="json", **headers)


@pytest.mark.django_db
def test_a_password_login_is_counted_once(api_client: APIClient) -> None:
    user = UserFactory()
    before = sample("auth_logins_total", result="succeeded", factor="password")

    assert login(api_client, user.email).status_code == 200

    assert sample("auth_logins_total", result="succeeded", factor="password") == before + 1


@pytest.mark.django_db
def test_a_login_with_a_second_factor_is_counted_with_the_factor(api_client: APIClient) -> None:
    user, recovery_codes = user_with_every_factor()
    before = sample("auth_logins_total", result="succeeded", factor="recovery_code")

    assert login(api_client, user.email, HTTP_X_OTP=recovery_codes[0]).status_code == 200

    assert sample("auth_logins_total", result="succeeded", factor="recovery_code") == before + 1


@pytest.mark.django_db
def test_wrong_passwords_are_counted_for_known_and_unknown_emails(api_client: APIClient) -> None:
    user = UserFactory()
    before = sample("auth_logins_total", result="failed", factor="password")

    assert login(api_client, user.email, "not the password").status_code == 403
    assert login(api_client, "nobody@example.com", "not the password").status_code == 403

    assert sample("auth_logins_total", result="failed", factor="password") == before + 2
    assert user.email not in every_label_value()
    assert "nobody@example.com" not in every_label_value()
    assert CLIENT.ip not in every_label_value()


@pytest.mark.django_db
def test_a_wrong_second_factor_at_login_is_a_failed_login_and_a_second_factor_failure(
    api_client: APIClient, totp_user
) -> None:
    user, _ = totp_user
    failed_before = sample("auth_logins_total", result="failed", factor="second_factor")
    failures_before = sample("auth_second_factor_failures_total", context="login")

    assert login(api_client, user.email, HTTP_X_OTP="000000").json()["code"] == "otp_invalid"

    assert sample("auth_logins_total", result="failed", factor="second_factor") == failed_before + 1
    assert sample("auth_second_factor_failures_total", context="login") == failures_before + 1


@pytest.mark.django_db
def test_a_lockout_is_counted(settings, totp_user) -> None:
    settings.OTP_FAILURES_BEFORE_LOCK = 2
    user, _ = totp_user
    lockouts_before = sample("auth_account_lockouts_total")
    step_up_before = sample("auth_second_factor_failures_total", context="step-up")

    for _ in range(2):
        with pytest.raises(ServiceError):
            otp_services.step_up_verify(user=user, otp=None, client=CLIENT)

    assert sample("auth_account_lockouts_total") == lockouts_before + 1
    assert sample("auth_second_factor_failures_total", context="step-up") == step_up_before + 2


@pytest.mark.django_db
def test_sms_sent_and_refused_by_a_cap_are_counted(settings) -> None:
    settings.SMS_MAX_PER_NUMBER_PER_DAY = 1
    settings.SMS_RESEND_COOLDOWN_SECONDS = 0
    first, second = UserFactory(), UserFactory()
    for user in (first, second):
        SmsDevice.objects.create(user=user, name="Phone", number="+34612345678", confirmed=True)
    sent_before = sample("auth_sms_sent_total", purpose="login")
    refused_before = sample("auth_sms_refused_total", cap="number")

    otp_services.login_sms_code_send(user=first)
    with pytest.raises(ServiceError):
        otp_services.login_sms_code_send(user=second)

    assert sample("auth_sms_sent_total", purpose="login") == sent_before + 1
    assert sample("auth_sms_refused_total", cap="number") == refused_before + 1
    assert "+34612345678" not in every_label_value()


@pytest.mark.django_db
def test_requests_are_counted_by_route_name_not_path(auth_client: APIClient, user) -> None:
    before = sample("auth_http_requests_total", route="me", method="GET", status="200")
    unmatched_before = sample("auth_http_requests_total", route="unmatched", method="GET", status="404")
    latency_before = sample("auth_http_request_duration_seconds_count", route="me", method="GET")

    assert auth_client.get("/auth/me").status_code == 200
    assert auth_client.get(f"/auth/no-such-thing/{user.email}").status_code == 404

    assert sample("auth_http_requests_total", route="me", method="GET", status="200") == before + 1
    assert sample("auth_http_request_duration_seconds_count", route="me", method="GET") == latency_before + 1
    assert (
        sample("auth_http_requests_total", route="unmatched", method="GET", status="404")
        == unmatched_before + 1
    )
    assert not any(value.startswith("/") or "@" in value for value in every_label_value())


def test_an_unknown_method_is_one_label_value() -> None:
    before = sample("auth_http_requests_total", route="healthz", method="other", status="405")

    metrics.http_request_count(route="healthz", method="BREW-COFFEE", status=405, seconds=0.01)

    assert sample("auth_http_requests_total", route="healthz", method="other", status="405") == before + 1


@pytest.mark.parametrize(
    ("factor", "label"),
    [
        ("totp", "totp"),
        ("SMS", "sms"),
        ("someone@example.com", "other"),
        ("x" * 40, "other"),
        (None, "other"),
    ],
)
def test_detail_values_become_labels_only_when_they_are_short_words(factor: object, label: str) -> None:
    before = sample("auth_logins_total", result="succeeded", factor=label)

    metrics.security_event_count(type="LOGIN_SUCCEEDED", details={"factor": factor})

    assert sample("auth_logins_total", result="succeeded", factor=label) == before + 1


def test_a_missing_multiprocess_directory_is_made_by_any_process(tmp_path) -> None:
    """A manage.py command run with the workers' environment must not fail on a fresh machine."""
    directory = tmp_path / "not-yet" / "prometheus"
    program = "import config.metrics; config.metrics.account_lockouts.inc()"
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}

    subprocess.run([sys.executable, "-c", program], cwd=PROJECT_DIR, env=environment, check=True, timeout=60)  # noqa: S603

    assert [path.name.split("_")[0] for path in directory.iterdir()] == ["counter"]
