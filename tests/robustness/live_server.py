"""The service under gunicorn on a loopback port, with a database, cache and outboxes of its own.

The suite talks to it over HTTP like any client would, and reads the database and the SMS
file directly to check what the server wrote.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import environ
import psycopg
import requests

PROJECT_DIR = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
SETTINGS_MODULE = "config.settings.robustness"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
# Served without the database or the cache, so a server meant to have neither answers too.
READY_PATH = "/.well-known/jwks.json"
# Redis database of the live servers when the suite's own CACHE_URL is Redis: not the suite's,
# whose `cache.clear()` before every test would wipe the server's throttle counters.
LIVE_REDIS_DB = 15
PR_SET_PDEATHSIG = 1
# Limits a live server lifts so that one client (schemathesis, the suite) is never refused
# for having made many requests; the per-account and per-email rules stay as they are.
RELAXED_IP_LIMITS = {
    "REGISTER_RATE": "100000/hour",
    "PASSWORD_RESET_RATE": "100000/hour",
    "PASSKEY_LOGIN_OPTIONS_RATE": "100000/hour",
    "LOGIN_IP_MAX_FAILURES": "1000000",
}


def environment_database_url() -> str:
    """The DATABASE_URL the suite runs on (pytest-django renames the settings' NAME later)."""
    return os.environ.get("DATABASE_URL", "")


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://", "pgsql://"))


def redis_url() -> str | None:
    """The Redis URL for live servers, or None when the suite does not run with Redis."""
    if override := os.environ.get("ROBUSTNESS_CACHE_URL"):
        return override
    suite_url = os.environ.get("CACHE_URL", "")
    if not suite_url.startswith("redis://"):
        return None
    parts = urlsplit(suite_url)
    suite_db = parts.path.strip("/") or "0"
    db = LIVE_REDIS_DB if suite_db != str(LIVE_REDIS_DB) else LIVE_REDIS_DB - 1
    return urlunsplit(parts._replace(path=f"/{db}"))


def redis_is_up(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def closed_port() -> socket.socket:
    """A bound loopback socket that does not listen: connecting to its port is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


# --- the database -----------------------------------------------------------------------------


@dataclass
class LiveDatabase:
    """A database of its own for the live servers, migrated, dropped at the end."""

    url: str
    sqlite_path: Path | None = None

    @property
    def postgres(self) -> bool:
        return self.sqlite_path is None

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run one query (`%s` placeholders) and return every row."""
        if self.sqlite_path is not None:
            with sqlite3.connect(self.sqlite_path, timeout=10) as connection:
                return connection.execute(sql.replace("%s", "?"), params).fetchall()
        with psycopg.connect(self.url, autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()

    def value(self, sql: str, *params: Any) -> Any:
        rows = self.rows(sql, *params)
        assert len(rows) == 1, f"expected one row from {sql!r}, got {rows}"
        return rows[0][0]


def _postgres_admin(url: str) -> psycopg.Connection:
    parts = urlsplit(url)
    return psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)


def live_database_create(tmp_dir: Path) -> LiveDatabase:
    """A fresh database on the same server as the suite's (a SQLite file without one), migrated."""
    suite_url = environment_database_url()
    if is_postgres(suite_url):
        suite_name = environ.Env.db_url_config(suite_url)["NAME"]
        name = f"{suite_name}_robustness_live_{os.getpid()}"
        with _postgres_admin(suite_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        database = LiveDatabase(url=urlunsplit(urlsplit(suite_url)._replace(path=f"/{name}")))
    else:
        path = tmp_dir / "live.sqlite3"
        database = LiveDatabase(url=f"sqlite:///{path}", sqlite_path=path)
    subprocess.run(  # noqa: S603 - a fixed command line of our own
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=PROJECT_DIR,
        env=_server_environment({"DATABASE_URL": database.url}),
        check=True,
        timeout=120,
    )
    return database


def manage_command_run(database: LiveDatabase, *arguments: str) -> str:
    """`python manage.py <arguments>` on the live servers' database and settings; its output."""
    completed = subprocess.run(  # noqa: S603 - a fixed command line of our own
        [PYTHON, "manage.py", *arguments],
        cwd=PROJECT_DIR,
        env=_server_environment({"DATABASE_URL": database.url}),
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    return completed.stdout


def live_database_drop(database: LiveDatabase) -> None:
    if database.postgres:
        name = urlsplit(database.url).path.strip("/")
        with _postgres_admin(database.url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the server -------------------------------------------------------------------------------


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    sms_path: Path
    session: requests.Session = field(default_factory=requests.Session)

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.url(path), **kwargs)

    def sms_messages(self, to: str | None = None) -> list[dict[str, str]]:
        if not self.sms_path.exists():
            return []
        messages = [json.loads(line) for line in self.sms_path.read_text().splitlines() if line]
        return [message for message in messages if to is None or message["to"] == to]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _server_environment(extra: dict[str, str]) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "PYTEST_", "CACHE_", "DATABASE_"))
    }
    environment.update(DJANGO_SETTINGS_MODULE=SETTINGS_MODULE, PYTHONUNBUFFERED="1", **extra)
    return environment


def _die_with_the_suite() -> None:
    """In the child before exec: gunicorn gets SIGTERM if the test process dies (Linux)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _listening_socket() -> socket.socket:
    """Bound and listening before gunicorn starts: no race for a free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _wait_until_serving(server: LiveServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{server.log()}")
        try:
            # The socket listens from the start: a request waits until a worker has booted.
            requests.get(server.url(READY_PATH), timeout=START_TIMEOUT_SECONDS)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT_SECONDS} s:\n{server.log()}")


def live_server_start(
    *,
    tmp_dir: Path,
    database_url: str,
    cache_url: str | None,
    workers: int = 1,
    environment: dict[str, str] | None = None,
    gunicorn_args: list[str] | None = None,
    public_host: str | None = None,
) -> LiveServer:
    """gunicorn serving `config.settings.robustness`; answers when this returns.

    With `public_host` (`localhost` for browsers and relying parties) the server is known by
    that name, and its URL is also the issuer of its tokens, as in production.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    sock = _listening_socket()
    host, port = sock.getsockname()
    host = public_host or host
    issuer = {"JWT_ISSUER": f"http://{host}:{port}"} if public_host else {}
    extra = {
        "DATABASE_URL": database_url,
        "SMS_FILE_PATH": str(tmp_dir / "sms.jsonl"),
        "EMAIL_FILE_PATH": str(tmp_dir / "emails"),
        "CACHE_KEY_PREFIX": f"robustness-{uuid.uuid4().hex[:12]}",
        # Links in emails and the URLs of the discovery document point at this server.
        "PUBLIC_BASE_URL": f"http://{host}:{port}",
        **issuer,
        **(environment or {}),
    }
    if cache_url:
        extra["CACHE_URL"] = cache_url
    log_path = tmp_dir / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - a fixed command line of our own
            [
                GUNICORN,
                "config.wsgi:application",
                "--bind",
                f"fd://{sock.fileno()}",
                "--workers",
                str(workers),
                "--timeout",
                "60",
                "--graceful-timeout",
                "2",
                *(gunicorn_args or []),
            ],
            cwd=PROJECT_DIR,
            env=_server_environment(extra),
            pass_fds=[sock.fileno()],
            preexec_fn=_die_with_the_suite,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    sock.close()
    server = LiveServer(
        base_url=f"http://{host}:{port}",
        process=process,
        log_path=log_path,
        sms_path=Path(extra["SMS_FILE_PATH"]),
    )
    try:
        _wait_until_serving(server)
    except BaseException:
        live_server_stop(server)
        raise
    return server


def live_server_stop(server: LiveServer) -> None:
    server.session.close()
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@contextmanager
def live_server(**kwargs: Any) -> Iterator[LiveServer]:
    server = live_server_start(**kwargs)
    try:
        yield server
    finally:
        live_server_stop(server)
