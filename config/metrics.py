"""The Prometheus metrics of the service, the one place each is counted from, and their exposition.

Labels hold only values the code chooses (route names, status codes, factor names), never what a
client sent: no paths, emails, phone numbers or IPs. With `PROMETHEUS_MULTIPROC_DIR` set (several
gunicorn workers) every worker writes its values to files there and a scrape adds them up.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Case, F, Min, When
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# Every process writes its values there from the first metric on, a manage.py command too.
if _directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(_directory, exist_ok=True)

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Label values from event details: short lowercase words, else "other".
SAFE_LABEL = re.compile(r"[a-z0-9_-]{1,32}")

http_requests = Counter(
    "auth_http_requests",
    "HTTP requests answered, by URL route name, method and status.",
    ["route", "method", "status"],
)
http_request_duration = Histogram(
    "auth_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL route name.",
    ["route", "method"],
)
logins = Counter(
    "auth_logins",
    "Logins by result (succeeded, failed) and factor (password, totp, sms, recovery_code, second_factor).",
    ["result", "factor"],
)
second_factor_failures = Counter(
    "auth_second_factor_failures",
    "Wrong or missing second-factor codes, by context (login, step-up).",
    ["context"],
)
account_lockouts = Counter("auth_account_lockouts", "Accounts locked after too many second-factor failures.")
new_device_logins = Counter(
    "auth_new_device_logins", "Successful logins from a device the account had not used (alert emailed)."
)
accounts_frozen = Counter(
    "auth_accounts_frozen", "Accounts frozen, by how (link, api, page, support).", ["how"]
)
sms_sent = Counter("auth_sms_sent", "SMS codes handed to the gateway, by purpose.", ["purpose"])
sms_refused = Counter(
    "auth_sms_refused", "SMS codes refused by a daily cap (per user, per number, overall).", ["cap"]
)
notifications_failed = Counter(
    "auth_notifications_failed",
    "Emails given up after their last attempt (kept as failed tasks), by kind (the email's template).",
    ["kind"],
)

pwned_check_failures = Counter(
    "auth_pwned_check_failures",
    "Breach checks of a password that could not ask the Pwned Passwords range API, so accepted it, by "
    "reason (timeout, network, http_error, garbage, backoff).",
    ["reason"],
)


def _safe_label(value: Any) -> str:
    text = value.lower() if isinstance(value, str) else ""
    return text if SAFE_LABEL.fullmatch(text) else "other"


# The two series of each (route, method, status), looked up once: `labels()` costs more than
# the increment. Bounded like the labels themselves.
_request_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def http_request_count(*, route: str, method: str, status: int, seconds: float) -> None:
    method = method if method in HTTP_METHODS else "other"
    series = _request_series.get((route, method, status))
    if series is None:
        series = _request_series[(route, method, status)] = (
            http_requests.labels(route, method, str(status)),
            http_request_duration.labels(route, method),
        )
    series[0].inc()
    series[1].observe(seconds)


def security_event_count(*, type: str, details: Mapping[str, Any]) -> None:
    """Count the security events that are metrics; called for every event, recorded or not."""
    if type == "LOGIN_SUCCEEDED":
        logins.labels("succeeded", _safe_label(details.get("factor", "password"))).inc()
    elif type == "LOGIN_FAILED":
        logins.labels("failed", _safe_label(details.get("factor", "password"))).inc()
    elif type == "SECOND_FACTOR_FAILED":
        context = _safe_label(details.get("context", "other"))
        second_factor_failures.labels(context).inc()
        if context == "login":
            logins.labels("failed", "second_factor").inc()
    elif type == "ACCOUNT_LOCKED":
        account_lockouts.inc()
    elif type == "NEW_DEVICE_LOGIN":
        new_device_logins.inc()
    elif type == "ACCOUNT_FROZEN":
        accounts_frozen.labels(_safe_label(details.get("how", "other"))).inc()


def sms_sent_count(*, purpose: str) -> None:
    sms_sent.labels(_safe_label(purpose)).inc()


def sms_refused_count(*, cap: str) -> None:
    sms_refused.labels(_safe_label(cap)).inc()


def pwned_check_failure_count(*, reason: str) -> None:
    pwned_check_failures.labels(_safe_label(reason)).inc()


def notification_failed_count(*, kind: str) -> None:
    notifications_failed.labels(_safe_label(kind)).inc()


def task_queue_oldest_seconds() -> float | None:
    """How long the oldest task that is due has waited for a worker (0 for none), or None when
    tasks do not wait in the database (the immediate backend runs them at once)."""
    from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult, get_date_max

    if not isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend):
        return None
    # A task without a `run_after` (stored as the far future) has waited since it was enqueued.
    due_since = Case(When(run_after=get_date_max(), then=F("enqueued_at")), default=F("run_after"))
    oldest = DBTaskResult.objects.ready().aggregate(oldest=Min(due_since))["oldest"]
    return max((timezone.now() - oldest).total_seconds(), 0.0) if oldest else 0.0


TASK_QUEUE_OLDEST_HELP = "Seconds the oldest due task has waited for a worker (0 when none waits)."


class TaskQueueCollector(Collector):
    """`auth_task_queue_oldest_seconds`, read from the database at each scrape: growing means no
    worker runs (`manage.py tasks_worker`), or too few."""

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily("auth_task_queue_oldest_seconds", TASK_QUEUE_OLDEST_HELP)]

    def collect(self) -> Iterable[Metric]:
        seconds = task_queue_oldest_seconds()
        if seconds is None:
            return []
        return [GaugeMetricFamily("auth_task_queue_oldest_seconds", TASK_QUEUE_OLDEST_HELP, value=seconds)]


REGISTRY.register(TaskQueueCollector())


def multiprocess_directory() -> str | None:
    """Where workers write their values."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def metrics_exposition() -> tuple[bytes, str]:
    """Every metric in the Prometheus text format, summed over the workers in multiprocess mode."""
    if multiprocess_directory():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(TaskQueueCollector())
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
