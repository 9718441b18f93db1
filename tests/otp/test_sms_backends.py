"""SMS backends: console, file, locmem and dotted paths, and Twilio against a local HTTP server."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django import Settings

from otp.sms_backends import BaseSmsBackend, SmsDeliveryError, SmsMessage, get_sms_backend, outbox, sms_send

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "5f4dcc3b5aa765d61d8327deb882cf99"
FROM_NUMBER = "+15005550006"
MESSAGING_SERVICE_SID = "MG0123456789abcdef0123456789abcdef"
MESSAGE_SID = "SM0123456789abcdef0123456789abcdef"
TO_NUMBER = "+34612345678"
# Twilio's magic test number that it always rejects as invalid (error 21211).
INVALID_TO_NUMBER = "+15005550001"
ONE_TIME_CODE = "493817"
BODY = f"{ONE_TIME_CODE} is your Example code. It expires in 10 minutes."
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


# --- console, file, locmem and dotted paths ----------------------------------------


def test_locmem_backend_fills_outbox(settings: Settings) -> None:
    settings.SMS_BACKEND = "locmem"
    outbox.clear()

    sms_send(to=TO_NUMBER, body=BODY)

    assert [(message.to, message.body) for message in outbox] == [(TO_NUMBER, BODY)]
    assert isinstance(outbox[0], SmsMessage)
    assert outbox[0].sent_at.utcoffset() == timedelta(0)
    outbox.clear()


def test_console_backend_writes_one_line_per_message(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.SMS_BACKEND = "console"

    sms_send(to=TO_NUMBER, body=BODY)
    sms_send(to="+447700900123", body="First line\nsecond line")

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(f"SMS to {TO_NUMBER}: {BODY}")
    assert lines[1].endswith("SMS to +447700900123: First line second line")


def test_file_backend_appends_json_lines_and_creates_the_directory(
    settings: Settings, tmp_path: Path
) -> None:
    sms_file = tmp_path / "var" / "sms" / "sms.jsonl"
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = str(sms_file)

    sms_send(to=TO_NUMBER, body=BODY)
    sms_send(to="+447700900123", body="Second message")

    records = [json.loads(line) for line in sms_file.read_text().splitlines()]
    assert [(record["to"], record["body"]) for record in records] == [
        (TO_NUMBER, BODY),
        ("+447700900123", "Second message"),
    ]
    assert all(set(record) == {"to", "body", "sentAt"} for record in records)
    for record in records:
        assert datetime.fromisoformat(record["sentAt"]).utcoffset() == timedelta(0)
        assert record["sentAt"].endswith("+00:00")


def test_file_backend_unwritable_path_is_a_delivery_error(settings: Settings, tmp_path: Path) -> None:
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = str(tmp_path)  # a directory cannot be appended to

    with pytest.raises(SmsDeliveryError) as raised:
        sms_send(to=TO_NUMBER, body=BODY)

    assert ONE_TIME_CODE not in str(raised.value)


class RecordingSmsBackend(BaseSmsBackend):
    """A custom backend reached through a dotted path."""

    sent: ClassVar[list[tuple[str, str]]] = []

    def send(self, *, to: str, body: str) -> None:
        self.sent.append((to, body))


def test_dotted_path_selects_a_custom_backend(settings: Settings) -> None:
    settings.SMS_BACKEND = f"{__name__}.RecordingSmsBackend"
    RecordingSmsBackend.sent.clear()

    sms_send(to=TO_NUMBER, body=BODY)

    assert isinstance(get_sms_backend(), RecordingSmsBackend)
    assert RecordingSmsBackend.sent == [(TO_NUMBER, BODY)]


@pytest.mark.parametrize(
    "backend",
    ["carrier-pigeon", "tests.otp.no_such_module.Backend", "collections.OrderedDict"],
    ids=["unknown-name", "missing-module", "not-a-backend"],
)
def test_unknown_backend_is_improperly_configured(settings: Settings, backend: str) -> None:
    settings.SMS_BACKEND = backend

    with pytest.raises(ImproperlyConfigured, match="SMS_BACKEND"):
        sms_send(to=TO_NUMBER, body=BODY)


# --- Twilio against a local HTTP server ----------------------------------------------


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    credentials: str
    content_type: str
    form: dict[str, list[str]]


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeTwilio:
    """What the local stand-in for api.twilio.com received, and how the failure tests bend its answers."""

    base_url: str
    received: list[ReceivedRequest] = field(default_factory=list)
    forced_answer: Answer | None = None
    answer_delay_seconds: float = 0.0
    # Set at teardown so a deliberately slow answer does not outlive its test.
    released: threading.Event = field(default_factory=threading.Event)


def twilio_error(code: int, message: str, status: int) -> Answer:
    """An error in Twilio's JSON shape."""
    payload = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return Answer(status, json.dumps({**payload, "status": status}).encode())


def twilio_answer(request: ReceivedRequest) -> Answer:
    """Twilio's answer, with its real error codes for the mistakes a client can make."""
    if request.path != MESSAGES_PATH:
        return twilio_error(20404, "The requested resource was not found", 404)
    if request.credentials != f"{ACCOUNT_SID}:{AUTH_TOKEN}":
        return twilio_error(20003, "Authenticate", 401)
    form = {name: values[0] for name, values in request.form.items()}
    if "To" not in form:
        return twilio_error(21604, "A 'To' phone number is required.", 400)
    if "From" not in form and "MessagingServiceSid" not in form:
        return twilio_error(21603, "A 'From' phone number is required.", 400)
    if not form.get("Body"):
        return twilio_error(21602, "Message body is required.", 400)
    if form["To"] == INVALID_TO_NUMBER:
        return twilio_error(21211, f"The 'To' number {form['To']} is not a valid phone number.", 400)
    created = {"sid": MESSAGE_SID, "status": "queued", "to": form["To"], "body": form["Body"]}
    return Answer(201, json.dumps(created).encode())


class FakeTwilioServer(ThreadingHTTPServer):
    twilio: FakeTwilio


class FakeTwilioHandler(BaseHTTPRequestHandler):
    server: FakeTwilioServer

    def do_POST(self) -> None:
        twilio = self.server.twilio
        form = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        request = ReceivedRequest(
            method=self.command,
            path=self.path,
            credentials=basic_credentials(self.headers.get("Authorization", "")),
            content_type=self.headers.get("Content-Type", ""),
            form=parse_qs(form, keep_blank_values=True),
        )
        twilio.received.append(request)
        twilio.released.wait(twilio.answer_delay_seconds)
        answer = twilio.forced_answer or twilio_answer(request)
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)
        except ConnectionError:
            pass  # the timeout test's client has hung up before the answer, as intended

    # Any other method reaches the same checks, so the test sees it recorded instead of a bare 501.
    do_GET = do_PUT = do_POST

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output free of access logs


def basic_credentials(authorization: str) -> str:
    """`sid:token` from a basic auth header, or "" when the header is not basic auth."""
    scheme, _, encoded = authorization.partition(" ")
    return base64.b64decode(encoded).decode() if scheme == "Basic" else ""


@pytest.fixture
def twilio_settings(settings: Settings) -> Settings:
    settings.SMS_BACKEND = "twilio"
    settings.SMS_TIMEOUT_SECONDS = 5.0
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    return settings


@pytest.fixture
def fake_twilio(twilio_settings: Settings) -> Iterator[FakeTwilio]:
    server = FakeTwilioServer(("127.0.0.1", 0), FakeTwilioHandler)
    host, port = server.server_address[:2]
    server.twilio = FakeTwilio(base_url=f"http://{host}:{port}")
    twilio_settings.TWILIO_API_BASE_URL = server.twilio.base_url
    # A short poll keeps shutdown() from adding half a second to every test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.twilio
    server.twilio.released.set()
    server.shutdown()
    server.server_close()
    thread.join()


def assert_secrets_absent(text: str) -> None:
    assert ONE_TIME_CODE not in text
    assert BODY not in text
    assert AUTH_TOKEN not in text


def test_twilio_posts_the_form_with_basic_auth(fake_twilio: FakeTwilio) -> None:
    sms_send(to=TO_NUMBER, body=BODY)

    [request] = fake_twilio.received
    assert request.method == "POST"
    assert request.path == MESSAGES_PATH
    assert request.credentials == f"{ACCOUNT_SID}:{AUTH_TOKEN}"
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.form == {"To": [TO_NUMBER], "From": [FROM_NUMBER], "Body": [BODY]}


def test_twilio_messaging_service_replaces_from(fake_twilio: FakeTwilio, settings: Settings) -> None:
    settings.TWILIO_MESSAGING_SERVICE_SID = MESSAGING_SERVICE_SID

    sms_send(to=TO_NUMBER, body=BODY)

    [request] = fake_twilio.received
    assert request.form == {"To": [TO_NUMBER], "MessagingServiceSid": [MESSAGING_SERVICE_SID], "Body": [BODY]}


@pytest.mark.parametrize("setting", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"])
def test_twilio_missing_credentials_is_improperly_configured(twilio_settings: Settings, setting: str) -> None:
    setattr(twilio_settings, setting, "")

    with pytest.raises(ImproperlyConfigured, match=setting):
        get_sms_backend()


def test_twilio_rejects_a_non_http_base_url(twilio_settings: Settings) -> None:
    twilio_settings.TWILIO_API_BASE_URL = "file:///etc"

    with pytest.raises(ImproperlyConfigured, match="TWILIO_API_BASE_URL"):
        get_sms_backend()


def test_twilio_invalid_number_names_the_code_but_not_the_body(
    fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="otp.sms_backends"), pytest.raises(SmsDeliveryError) as raised:
        sms_send(to=INVALID_TO_NUMBER, body=BODY)

    assert "21211" in str(raised.value)
    assert "400" in str(raised.value)
    assert_secrets_absent(str(raised.value))
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "21211" in caplog.text
    assert_secrets_absent(caplog.text)


def test_twilio_bad_credentials(
    fake_twilio: FakeTwilio, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.TWILIO_AUTH_TOKEN = "wrong-token-0123456789abcdef"

    with pytest.raises(SmsDeliveryError) as raised:
        sms_send(to=TO_NUMBER, body=BODY)

    assert "401" in str(raised.value)
    assert "20003" in str(raised.value)
    assert "wrong-token" not in str(raised.value)
    assert "wrong-token" not in caplog.text
    assert_secrets_absent(caplog.text)


def test_twilio_server_error(fake_twilio: FakeTwilio) -> None:
    fake_twilio.forced_answer = Answer(500, b"<html>Internal Server Error</html>")

    with pytest.raises(SmsDeliveryError, match="HTTP 500") as raised:
        sms_send(to=TO_NUMBER, body=BODY)

    assert_secrets_absent(str(raised.value))


def test_twilio_redirect_is_not_followed(fake_twilio: FakeTwilio) -> None:
    # Following it would resend the credentials to wherever the Location points.
    fake_twilio.forced_answer = Answer(303, b"", {"Location": f"{fake_twilio.base_url}/elsewhere"})

    with pytest.raises(SmsDeliveryError, match="HTTP 303"):
        sms_send(to=TO_NUMBER, body=BODY)

    assert [request.path for request in fake_twilio.received] == [MESSAGES_PATH]


def test_twilio_timeout(fake_twilio: FakeTwilio, settings: Settings) -> None:
    settings.SMS_TIMEOUT_SECONDS = 0.2
    fake_twilio.answer_delay_seconds = 5.0
    started = time.monotonic()

    with pytest.raises(SmsDeliveryError, match=r"no answer within 0\.2 s") as raised:
        sms_send(to=TO_NUMBER, body=BODY)

    assert time.monotonic() - started < 2.0
    assert_secrets_absent(str(raised.value))


def test_twilio_connection_refused(twilio_settings: Settings) -> None:
    # Bound but never listening: connecting to this port is refused for the whole test.
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        twilio_settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{unused.getsockname()[1]}"

        with pytest.raises(SmsDeliveryError, match="could not reach Twilio") as raised:
            sms_send(to=TO_NUMBER, body=BODY)

    assert_secrets_absent(str(raised.value))


@pytest.mark.parametrize(
    "answer",
    [b"<html>Message accepted</html>", b'{"status": "queued"}', b"[]"],
    ids=["html", "json-without-sid", "json-list"],
)
def test_twilio_success_status_without_message_sid(fake_twilio: FakeTwilio, answer: bytes) -> None:
    fake_twilio.forced_answer = Answer(200, answer)

    with pytest.raises(SmsDeliveryError, match="HTTP 200 without a message sid"):
        sms_send(to=TO_NUMBER, body=BODY)
