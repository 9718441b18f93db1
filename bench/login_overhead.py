"""`make bench-login`: what a login costs over its hash, the service's beside the stock view's.

Argon2id takes some 20 ms of a login; what each side adds over it (throttles, the account's read,
the writes, the tokens, the WSGI path) is a few milliseconds that a load test measures only
through the noise of the hash. Here both hash with MD5, so the rest is all there is (`--argon2id`:
with the hash both configure, to see what a 20 ms pause adds to the waits that follow). Each side
runs in a process of its own settings (`config.settings.bench` and `bench.stock.settings`, as in
`make bench`; the two never share a Django configuration) and sends its logins straight through
its WSGI application (the service's hot path included) to its bench database on the same
PostgreSQL server (the service with its cache, Redis under `make bench-login`). The rounds
alternate the sides; each prints, per login, the process's CPU, its PostgreSQL backend's CPU
and the wall time (CPU plus the waits on PostgreSQL and Redis).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import orjson

from bench.cpu import process_cpu_seconds

PASSWORD = "bench-login-overhead"  # noqa: S105 - a benchmark's, on loopback
EMAIL_DOMAIN = "login-overhead.bench.example"
SERVICE, STOCK = "service", "stock"
SETTINGS = {SERVICE: "config.settings.bench", STOCK: "bench.stock.settings"}


def _login(application: Callable, path: str, body: dict[str, str]) -> str:
    payload = orjson.dumps(body)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_USER_AGENT": "wrk/4.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(payload),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(payload)),
        "CONTENT_TYPE": "application/json",
    }
    answered: list[str] = []
    b"".join(application(environ, lambda status, headers, *_: answered.append(status)))
    return answered[0]


def _side_prepare(side: str, users: int, *, argon2id: bool) -> tuple[Callable, str, list[dict[str, str]]]:
    """This process's side set up with an MD5 hasher (or its own Argon2id) and `users` accounts:
    its WSGI application, its login path and one request body per account."""
    import django

    if side == SERVICE:
        os.environ.setdefault("PWNED_PASSWORDS", "false")  # no range API here: `make bench` has its fake
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    if not argon2id:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user_model = get_user_model()
    user_model.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()
    password = make_password(PASSWORD)
    emails = [f"user-{n}@{EMAIL_DOMAIN}" for n in range(users)]
    if side == SERVICE:
        from config.wsgi import application

        user_model.objects.bulk_create(user_model(email=email, password=password) for email in emails)
        return application, "/auth/login", [{"email": email, "password": PASSWORD} for email in emails]
    from bench.stock.wsgi import application

    user_model.objects.bulk_create(
        user_model(username=email, email=email, password=password) for email in emails
    )
    return application, "/api/token/", [{"username": email, "password": PASSWORD} for email in emails]


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def side_measure(side: str, *, logins: int, users: int, argon2id: bool) -> dict[str, float]:
    """In this process: `logins` logins of `side`, per login in ms (after each account's first)."""
    application, path, bodies = _side_prepare(side, users, argon2id=argon2id)
    for body in bodies:  # each account's first login: the service learns its place
        status = _login(application, path, body)
        if not status.startswith("200"):
            raise SystemExit(f"a {side} login answered {status}: fix that before measuring")
    backend = _backend_pid()
    started_cpu, started_backend, started = (
        time.process_time(),
        process_cpu_seconds(backend),
        time.perf_counter(),
    )
    for n in range(logins):
        _login(application, path, bodies[n % len(bodies)])
    per_login = 1000 / logins
    return {
        "cpu": (time.process_time() - started_cpu) * per_login,
        "database": (process_cpu_seconds(backend) - started_backend) * per_login,
        "wall": (time.perf_counter() - started) * per_login,
    }


def _side_run(side: str, *, logins: int, users: int, argon2id: bool) -> dict[str, float]:
    """`side_measure` in a process of the side's own settings."""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS[side]}
    if side == STOCK:
        environment["DATABASE_URL"] = os.environ["BENCH_STOCK_DATABASE_URL"]
    done = subprocess.run(  # noqa: S603 - this module, in this interpreter
        [
            sys.executable,
            "-m",
            "bench.login_overhead",
            "--side",
            side,
            f"--logins={logins}",
            f"--users={users}",
            *(["--argon2id"] if argon2id else []),
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"the {side} side failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def _databases_prepare() -> None:
    """Both bench databases made and migrated, in processes of their own settings."""
    for side, module in ((SERVICE, "bench.fixtures"), (STOCK, "bench.stock.prepare")):
        environment = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS[side]}
        if side == STOCK:
            environment["DATABASE_URL"] = os.environ["BENCH_STOCK_DATABASE_URL"]
        code = f"import django; django.setup(); import {module} as m; m.database_prepare()"
        subprocess.run([sys.executable, "-c", code], env=environment, check=True)  # noqa: S603 - our own code


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logins", type=int, default=1000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--argon2id", action="store_true", help="hash with Argon2id, not MD5 (use fewer logins)"
    )
    parser.add_argument("--side", choices=[SERVICE, STOCK], help="measure one side in this process")
    arguments = parser.parse_args(argv)
    sizes = {"logins": arguments.logins, "users": arguments.users, "argon2id": arguments.argon2id}
    if arguments.side:
        print(json.dumps(side_measure(arguments.side, **sizes)))
        return
    _databases_prepare()
    measured: dict[str, list[dict[str, float]]] = {STOCK: [], SERVICE: []}
    for _ in range(arguments.rounds):
        for side in (STOCK, SERVICE):
            measured[side].append(_side_run(side, **sizes))
    hashed = "with its Argon2id hash" if arguments.argon2id else "over an MD5 hash"
    print(f"Per login {hashed}, median of {arguments.rounds} alternated rounds of {arguments.logins}:")
    print(f"{'':8} {'CPU ms':>8} {'PostgreSQL CPU ms':>18} {'wall ms':>8}")
    medians = {
        side: {key: statistics.median(run[key] for run in runs) for key in ("cpu", "database", "wall")}
        for side, runs in measured.items()
    }
    for side, median in medians.items():
        print(f"{side:8} {median['cpu']:8.2f} {median['database']:18.2f} {median['wall']:8.2f}")
    over = {key: medians[SERVICE][key] - medians[STOCK][key] for key in ("cpu", "database", "wall")}
    print(f"{'over':8} {over['cpu']:+8.2f} {over['database']:+18.2f} {over['wall']:+8.2f}")


if __name__ == "__main__":
    main()
