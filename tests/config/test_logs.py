"""The LOGGING setting, the JSON lines of production, and no secret in any log line."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.core.client import Client
from accounts.flows import passwords as passwords_flows
from accounts.models import User
from config.logs import JSON_FIELDS, RequestIdFilter, ServiceJsonFormatter, logging_config, request_id_var
from tests.conftest import TasksRun, last_email_code, last_sms_code

PROJECT_DIR = Path(__file__).resolve().parents[2]


class JsonLog:
    """Every record of the process at DEBUG, written by the production handler's formatter and filter."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(ServiceJsonFormatter(JSON_FIELDS))
        self.handler.addFilter(RequestIdFilter())

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines()]


@pytest.fixture
def json_log() -> Iterator[JsonLog]:
    log, root = JsonLog(), logging.getLogger()
    level = root.level
    root.addHandler(log.handler)
    root.setLevel(logging.DEBUG)
    try:
        yield log
    finally:
        root.removeHandler(log.handler)
        root.setLevel(level)


def test_the_console_handler_writes_the_chosen_format() -> None:
    json_config = logging_config(log_format="json", level="INFO")
    plain_config = logging_config(log_format="plain", level="WARNING")

    assert json_config["handlers"]["console"]["formatter"] == "json"
    assert json_config["handlers"]["console"]["filters"] == ["request_id"]
    assert json_config["formatters"]["json"]["()"] == "config.logs.ServiceJsonFormatter"
    assert (plain_config["handlers"]["console"]["formatter"], plain_config["root"]["level"]) == (
        "plain",
        "WARNING",
    )


def test_an_unknown_format_is_a_configuration_error() -> None:
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT"):
        logging_config(log_format="xml", level="INFO")


@pytest.mark.parametrize(("log_format", "expected"), [(None, "json"), ("plain", "plain")])
def test_production_logs_json_lines_unless_told_otherwise(log_format: str | None, expected: str) -> None:
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "LOG_"))},
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "x" * 50,
        **({"LOG_FORMAT": log_format} if log_format else {}),
    }
    program = "from django.conf import settings; print(settings.LOGGING['handlers']['console']['formatter'])"
    result = subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-c", program],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == expected


def test_a_json_line_carries_the_request_id_and_the_extra_fields(json_log: JsonLog) -> None:
    token = request_id_var.set("trace-7")
    try:
        logging.getLogger("tests.logs").info("hello %s", "world", extra={"route": "me", "request": object()})
    finally:
        request_id_var.reset(token)

    (line,) = json_log.lines()
    assert line["message"] == "hello world"
    assert (line["level"], line["logger"], line["request_id"], line["route"]) == (
        "INFO",
        "tests.logs",
        "trace-7",
        "me",
    )
    assert "time" in line
    assert "request" not in line  # Django's request object: its text would be the path and query


@pytest.mark.django_db
def test_a_json_line_per_request_and_per_security_event(json_log: JsonLog, api_client: APIClient) -> None:
    api_client.post(
        "/auth/login",
        {"email": "nobody@example.com", "password": "not the password"},
        format="json",
        HTTP_X_REQUEST_ID="journey-1",
    )

    lines = [line for line in json_log.lines() if line.get("request_id") == "journey-1"]
    (request_line,) = [line for line in lines if line["logger"] == "http.request"]
    (event_line,) = [line for line in lines if line["logger"] == "accounts.security"]
    assert request_line | {"duration_ms": 0} == request_line | {
        "method": "POST",
        "route": "login",
        "status": 403,
        "user_id": None,
        "duration_ms": 0,
    }
    assert (event_line["event"], event_line["user_id"], event_line["details"]) == (
        "LOGIN_FAILED",
        None,
        {"factor": "password"},
    )


PASSWORD = "a perfectly fine passphrase"
NEW_PASSWORD = "another perfectly fine passphrase"
EMAIL = "logged-journey@example.com"


def _login(client: APIClient, password: str = PASSWORD, **headers: str):
    return client.post("/auth/login", {"email": EMAIL, "password": password}, format="json", **headers)


@pytest.mark.django_db
def test_no_password_code_secret_or_token_in_the_logs_of_a_whole_journey(
    json_log: JsonLog, api_client: APIClient
) -> None:
    secrets: list[str] = [PASSWORD, NEW_PASSWORD, "wrong password 123"]

    assert (
        api_client.post("/auth/register", {"email": EMAIL, "password": PASSWORD}, format="json").status_code
        == 202
    )
    secrets.append(email_code := last_email_code())
    assert _login(api_client, "wrong password 123").status_code == 403
    tokens = _login(api_client).json()
    secrets += [tokens["idToken"], tokens["refreshToken"]]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['idToken']}")
    assert (
        api_client.post(
            "/auth/otp/code", {"channel": "EMAIL"}, format="json", HTTP_X_OTP=email_code
        ).status_code
        == 200
    )

    # TOTP: enrol and confirm.
    enrolment = api_client.post("/auth/otp/methods/totp").json()
    authenticator = pyotp.parse_uri(enrolment["otpauthUri"])
    secrets += [enrolment["secret"], enrolment["otpauthUri"], TOTPDevice.objects.get(user__email=EMAIL).key]
    secrets.append(code := authenticator.now())
    assert (
        api_client.post("/auth/otp/code", {"channel": "TOTP"}, format="json", HTTP_X_OTP=code).status_code
        == 200
    )

    with time_machine.travel(time.time() + 30, tick=True):
        # Log in with a TOTP code, refresh.
        secrets.append(code := authenticator.now())
        tokens = _login(api_client, HTTP_X_OTP=code).json()
        secrets += [tokens["idToken"], tokens["refreshToken"]]
        refreshed = api_client.post(
            "/auth/login/refresh", {"refreshToken": tokens["refreshToken"]}, format="json"
        )
        assert refreshed.status_code == 200
        secrets.append(refreshed.json()["idToken"])
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['idToken']}")
        assert _login(api_client, HTTP_X_OTP="000000").json()["code"] == "otp_invalid"

    with time_machine.travel(time.time() + 60, tick=True):
        # A phone, added with a TOTP step-up and confirmed by an SMS code.
        secrets.append(code := authenticator.now())
        added = api_client.post(
            "/auth/otp/methods/sms",
            {"phone": "612 34 56 78", "country": "ES"},
            format="json",
            HTTP_X_OTP=code,
        )
        assert added.status_code == 200, added.json()
        secrets.append(sms_code := last_sms_code())
        assert (
            api_client.post(
                "/auth/otp/code", {"channel": "SMS"}, format="json", HTTP_X_OTP=sms_code
            ).status_code
            == 200
        )

    with time_machine.travel(time.time() + 180, tick=True):
        # Password change with an SMS step-up code.
        assert api_client.get("/auth/otp/code", {"method": "SMS"}).status_code == 200
        secrets.append(sms_code := last_sms_code())
        changed = api_client.post(
            "/auth/password/change",
            {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
            format="json",
            HTTP_X_OTP=sms_code,
        )
        assert changed.status_code == 200, changed.json()

    with time_machine.travel(time.time() + 270, tick=True):
        # Log in with the new password and an SMS login code (after the resend cool-down).
        assert _login(api_client, NEW_PASSWORD, HTTP_X_OTP="").json()["code"] == "otp_required"
        api_client.post(
            "/auth/login", {"email": EMAIL, "password": NEW_PASSWORD, "otpMethod": "SMS"}, format="json"
        )
        secrets.append(sms_code := last_sms_code())
        tokens = _login(api_client, NEW_PASSWORD, HTTP_X_OTP=sms_code).json()
        secrets += [tokens["idToken"], tokens["refreshToken"]]
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['idToken']}")
    with time_machine.travel(time.time() + 300, tick=True):
        # Recovery codes with a TOTP step-up, then log out.
        secrets.append(code := authenticator.now())
        recovery = api_client.post("/auth/otp/methods/recovery-codes", HTTP_X_OTP=code)
        assert recovery.status_code == 200, recovery.json()
        secrets += recovery.json()["codes"]
        assert api_client.get(f"/auth/me?token={tokens['refreshToken']}").status_code == 200
        assert (
            api_client.post(
                "/auth/logout", {"refreshToken": tokens["refreshToken"]}, format="json"
            ).status_code
            == 204
        )
        assert api_client.get("/auth/me").status_code == 401, "logout ended the session"
        # logout-all from another session of the same user
        other = _login(api_client, NEW_PASSWORD, HTTP_X_OTP=authenticator.at(time.time() + 30)).json()
        secrets += [other["idToken"], other["refreshToken"]]
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {other['idToken']}")
        assert api_client.post("/auth/logout/all").status_code == 204
        assert api_client.get("/auth/me").status_code == 401

    assert User.objects.get(email=EMAIL).check_password(NEW_PASSWORD)
    lines = json_log.lines()
    assert sum(line["logger"] == "http.request" for line in lines) >= 20
    assert {"LOGIN_SUCCEEDED", "LOGIN_FAILED", "SECOND_FACTOR_FAILED", "PASSWORD_CHANGED"} <= {
        line.get("event") for line in lines
    }
    for secret in secrets:
        assert secret not in json_log.text, f"a secret is in the log: {secret[:4]}..."
    for token in (secret for secret in secrets if secret.count(".") == 2):
        assert token.rpartition(".")[2] not in json_log.text  # not even a token's signature


@pytest.mark.django_db
def test_a_task_logs_with_the_id_of_the_request_that_enqueued_it(
    json_log: JsonLog, tasks_run: TasksRun
) -> None:
    token = request_id_var.set("trace-task")
    try:
        passwords_flows.password_reset_request(email="nobody@example.com", client=Client())
    finally:
        request_id_var.reset(token)

    tasks_run()

    (line,) = [line for line in json_log.lines() if line.get("event") == "PASSWORD_RESET_REQUESTED"]
    assert line["request_id"] == "trace-task"
