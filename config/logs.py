"""Log records: the request id of the request being served, JSON lines, and the LOGGING setting."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

# The request being served, for every record logged while it is (threads and tasks alike).
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


@contextmanager
def request_id_bound(request_id: str | None) -> Iterator[None]:
    """Log as part of request `request_id`: a task it enqueued runs later, maybe in a worker."""
    token = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(token)


# A caller's X-Request-ID is kept when it is a plain token; anything else is replaced.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

LOG_FORMATS = ("json", "plain")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


def request_id_choose(presented: str | None) -> str:
    """The caller's request id when it is sane, else a new one."""
    if presented and SANE_REQUEST_ID.fullmatch(presented):
        return presented
    # 128 random bits in hex, as uuid4().hex, without building a UUID (a tenth of the time).
    return os.urandom(16).hex()


class RequestIdFilter(logging.Filter):
    """Puts `request_id` on every record passing the handler (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class ServiceJsonFormatter(JsonFormatter):
    """One JSON object per record, without the attributes Django attaches that could hold secrets.

    `django.request` passes the request itself as `request`, whose text is the full path with
    its query string; nothing of the request goes into a log line but what the middleware picks.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "taskName", "request"])
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        super().__init__(*args, **kwargs)


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """The LOGGING setting: one console handler writing `log_format` lines."""
    if log_format not in LOG_FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "config.logs.RequestIdFilter"}},
        "formatters": {
            "plain": {"format": PLAIN_FORMAT},
            "json": {"()": "config.logs.ServiceJsonFormatter", "fmt": JSON_FIELDS},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["request_id"]},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.request": {"level": "ERROR"},
        },
    }
