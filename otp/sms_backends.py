"""SMS delivery: console, file, in-memory and Twilio backends, chosen by `settings.SMS_BACKEND`."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, TextIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsDeliveryError(Exception):
    """The message could not be handed to the SMS provider."""


@dataclass(frozen=True)
class SmsMessage:
    """One text message as a backend received it."""

    to: str
    body: str
    sent_at: datetime


# Filled by the locmem backend so tests can read what would have been sent.
outbox: list[SmsMessage] = []


class BaseSmsBackend:
    """Hands one text message to a delivery channel."""

    def send(self, *, to: str, body: str) -> None:
        """Deliver `body` to the E.164 number `to`; raise SmsDeliveryError when that fails."""
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    """Writes one readable line per message, for local development."""

    def __init__(self, stream: TextIO | None = None) -> None:
        # Resolved per instance, not at import, so redirected or captured stdout is honoured.
        self.stream = stream or sys.stdout

    def send(self, *, to: str, body: str) -> None:
        # A multi-line body is folded so each message stays one line in the log.
        one_line_body = " ".join(body.splitlines())
        self.stream.write(f"[{datetime.now(UTC).isoformat()}] SMS to {to}: {one_line_body}\n")
        self.stream.flush()


class FileSmsBackend(BaseSmsBackend):
    """Appends one JSON line per message to `settings.SMS_FILE_PATH`."""

    def __init__(self) -> None:
        self.file_path = Path(settings.SMS_FILE_PATH)

    def send(self, *, to: str, body: str) -> None:
        record = {"to": to, "body": body, "sentAt": datetime.now(UTC).isoformat()}
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        try:
            self.file_path.parent.mkdir(parents=True, exist_ok=True)
            # O_APPEND plus a single write() puts each line at the end of the file in one step,
            # so concurrent threads or worker processes never interleave their lines.
            descriptor = os.open(self.file_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line)
            finally:
                os.close(descriptor)
        except OSError as error:
            raise SmsDeliveryError(f"Could not append to {self.file_path}: {error.strerror}") from error


class LocmemSmsBackend(BaseSmsBackend):
    """Keeps messages in the module-level `outbox`, for tests."""

    def send(self, *, to: str, body: str) -> None:
        outbox.append(SmsMessage(to=to, body=body, sent_at=datetime.now(UTC)))


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Twilio's API never redirects; following one would resend the credentials to another URL."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> None:
        return None


class TwilioSmsBackend(BaseSmsBackend):
    """Sends through Twilio's Messages REST API with the standard library's HTTP client."""

    def __init__(self) -> None:
        account_sid: str = settings.TWILIO_ACCOUNT_SID
        auth_token: str = settings.TWILIO_AUTH_TOKEN
        if not account_sid or not auth_token:
            raise ImproperlyConfigured("SMS_BACKEND 'twilio' needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.")
        self.from_number: str = settings.TWILIO_FROM_NUMBER
        self.messaging_service_sid: str = settings.TWILIO_MESSAGING_SERVICE_SID
        if not self.from_number and not self.messaging_service_sid:
            raise ImproperlyConfigured(
                "SMS_BACKEND 'twilio' needs TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID."
            )
        base_url: str = settings.TWILIO_API_BASE_URL.rstrip("/")
        # urllib also opens file:// and ftp:// URLs; only HTTP(S) may carry the credentials.
        if urllib.parse.urlsplit(base_url).scheme not in {"https", "http"}:
            raise ImproperlyConfigured("TWILIO_API_BASE_URL must be an http(s) URL.")
        self.messages_url = (
            f"{base_url}/2010-04-01/Accounts/{urllib.parse.quote(account_sid, safe='')}/Messages.json"
        )
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode("ascii")
        self.authorization = f"Basic {credentials}"
        self.timeout_seconds: float = settings.SMS_TIMEOUT_SECONDS
        self.opener = urllib.request.build_opener(_RefuseRedirects)

    def send(self, *, to: str, body: str) -> None:
        sender = (
            {"MessagingServiceSid": self.messaging_service_sid}
            if self.messaging_service_sid
            else {"From": self.from_number}
        )
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.messages_url,
            data=urllib.parse.urlencode({"To": to, **sender, "Body": body}).encode(),
            method="POST",
            headers={
                "Authorization": self.authorization,
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        try:
            with self.opener.open(request, timeout=self.timeout_seconds) as response:
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as error:
            raise _delivery_failure(_describe_twilio_error(error)) from error
        except (OSError, http.client.HTTPException) as error:
            raise _delivery_failure(self._describe_network_error(error)) from error
        message_sid = _message_sid(answer)
        if message_sid is None:
            raise _delivery_failure(f"HTTP {status} without a message sid in a JSON answer")
        logger.info("SMS handed to Twilio as %s", message_sid)

    def _describe_network_error(self, error: OSError | http.client.HTTPException) -> str:
        # A connect timeout arrives wrapped in URLError, a read timeout bare.
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        if isinstance(reason, TimeoutError):
            return f"no answer within {self.timeout_seconds} s"
        return f"could not reach Twilio ({type(reason).__name__}: {reason})"


def _describe_twilio_error(error: urllib.error.HTTPError) -> str:
    """`HTTP 400, Twilio error 21211` from an error answer; Twilio's free-text message is left out."""
    try:
        answer = error.read()
    except (OSError, http.client.HTTPException):
        answer = b""
    finally:
        error.close()
    try:
        twilio_code = json.loads(answer).get("code")
    except (ValueError, AttributeError):
        twilio_code = None
    return f"HTTP {error.code}, Twilio error {twilio_code}" if twilio_code else f"HTTP {error.code}"


def _message_sid(answer: bytes) -> str | None:
    """The `sid` of the created message, or None when the answer is not Twilio's JSON."""
    try:
        message_sid = json.loads(answer).get("sid")
    except (ValueError, AttributeError):
        return None
    return message_sid if isinstance(message_sid, str) and message_sid else None


def _delivery_failure(reason: str) -> SmsDeliveryError:
    """Log and build the error; `reason` must never hold the message body or the auth token."""
    logger.warning("SMS delivery through Twilio failed: %s", reason)
    return SmsDeliveryError(f"SMS delivery through Twilio failed: {reason}")


BUILTIN_BACKENDS: dict[str, type[BaseSmsBackend]] = {
    "console": ConsoleSmsBackend,
    "file": FileSmsBackend,
    "locmem": LocmemSmsBackend,
    "twilio": TwilioSmsBackend,
}


def get_sms_backend() -> BaseSmsBackend:
    """A fresh backend for `settings.SMS_BACKEND`: a built-in name or a dotted path to a class."""
    name: str = settings.SMS_BACKEND
    backend_class = BUILTIN_BACKENDS.get(name) or _backend_class_import(name)
    return backend_class()


def _backend_class_import(dotted_path: str) -> type[BaseSmsBackend]:
    try:
        backend_class = import_string(dotted_path)
    except ImportError as error:
        raise ImproperlyConfigured(
            f"SMS_BACKEND {dotted_path!r} is not one of {sorted(BUILTIN_BACKENDS)} nor an importable class."
        ) from error
    if not (isinstance(backend_class, type) and issubclass(backend_class, BaseSmsBackend)):
        raise ImproperlyConfigured(f"SMS_BACKEND {dotted_path!r} is not a BaseSmsBackend subclass.")
    return backend_class


def sms_send(*, to: str, body: str) -> None:
    """Send `body` to the E.164 number `to` through the configured backend."""
    get_sms_backend().send(to=to, body=body)
