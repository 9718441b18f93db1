"""`make bench-scale`: the same requests against 1,000 users and against 1,000,000, on PostgreSQL.

Run as `python -m bench.scale`. Two databases, the bench database and `<it>_large`, are
seeded with `manage.py seed_users` (the large one is kept between runs while it holds
the right number of users; `--reseed` starts it again). A gunicorn serves each, and the
measurements alternate between them round after round, so that other load on the machine
weighs on both sizes alike. Measured: login, `/auth/me`, and the admin's user list and its
search by email and by phone, as a superuser who logged in with a second factor.
Target: each p50 with a million users within 1.5x of its p50 with a thousand.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import django

from .load import Endpoint, Measurement, measure, measurement_line

SMALL, LARGE = 1_000, 1_000_000
MAX_SLOWDOWN = 1.5
PHONE_SHARE = 0.1
LOGIN_POOL_SIZE = 64
STAFF_EMAIL = "support@bench.example"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench"


@dataclass(frozen=True)
class ScaleResult:
    name: str
    small: Measurement
    large: Measurement

    @property
    def slowdown(self) -> float:
        return self.large.p50_ms / self.small.p50_ms


def _database_url(suffix: str) -> str:
    url = urlsplit(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    return urlunsplit(url._replace(path=url.path + suffix))


# --- preparing one database (run in a subprocess with its DATABASE_URL) ----------------------


def _admin_cookie() -> str:
    """A session of a superuser who logged in with a second factor, as the OTP admin requires."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User

    from . import fixtures

    staff = User.objects.create_superuser(STAFF_EMAIL, fixtures.PASSWORD, totp_verified_at=timezone.now())
    device = TOTPDevice.objects.create(user=staff, name="Authenticator app", confirmed=True)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(staff.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = staff.get_session_auth_hash()
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def _seeded(users: int, *, reseed: bool) -> None:
    """Exactly `users` seeded users (besides the benchmark's own), analysed."""
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User

    from . import fixtures

    fixtures.database_prepare()
    if reseed or User.objects.filter(email__endswith="@seed.example").count() != users:
        fixtures.database_reset()
        started = time.monotonic()
        call_command("seed_users", count=users, phone_share=PHONE_SHARE, stdout=sys.stderr)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(f"seeded and analysed in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    User.objects.filter(email__endswith=f"@{fixtures.EMAIL_DOMAIN}").delete()


def prepare(users: int, *, reseed: bool) -> list[dict[str, str]]:
    """Seed this database, make the benchmark's users, and describe the requests to send."""
    from django.conf import settings
    from django.db import connection

    from accounts.models import User

    from . import fixtures
    from .load import RequestLine, lines_write

    _seeded(users, reseed=reseed)
    prefix = f"scale-{connection.settings_dict['NAME']}"

    def file(name: str, lines: list[RequestLine]) -> str:
        return str(lines_write(settings.BENCH_DIR / f"{prefix}-{name}.lines", lines))

    logins = fixtures.users_create("login", LOGIN_POOL_SIZE)
    admin = file("admin", [RequestLine(cookie=_admin_cookie())])
    # The same account in both databases: the last one with a phone of the first thousand.
    searched = (
        User.objects.filter(email__endswith="@seed.example", phone_verified_at__isnull=False)
        .select_related("sms_device")
        .order_by("pk")[int(SMALL * PHONE_SHARE) - 1]
    )
    return [
        {
            "name": "login",
            "method": "POST",
            "path": "/auth/login",
            "file": file("login", fixtures.login_lines(logins)),
        },
        {
            "name": "/auth/me",
            "method": "GET",
            "path": "/auth/me",
            "file": file("me", fixtures.bearer_lines(logins)),
        },
        {"name": "admin user list", "method": "GET", "path": "/admin/accounts/user/", "file": admin},
        {
            "name": "admin search by email",
            "method": "GET",
            "path": f"/admin/accounts/user/?q={quote(searched.email)}",
            "file": admin,
        },
        {
            "name": "admin search by phone",
            "method": "GET",
            "path": f"/admin/accounts/user/?q={quote(searched.sms_device.number)}",
            "file": admin,
        },
    ]


def _prepare_in(database_url: str, users: int, *, reseed: bool) -> list[dict[str, str]]:
    command = [sys.executable, "-m", "bench.scale", "--prepare", str(users)] + (
        ["--reseed"] if reseed else []
    )
    answer = subprocess.run(  # noqa: S603 - this module, in this interpreter
        command,
        env={**os.environ, "DATABASE_URL": database_url},
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(answer.stdout.splitlines()[-1])


# --- measuring both ------------------------------------------------------------------------


def _report(results: list[ScaleResult], *, large: int, seconds: float, rounds: int, connections: int) -> str:
    from .report import markdown_table

    def cpu(measurement: Measurement) -> str:
        return f"{measurement.cpu_ms_per_request:.1f}" if measurement.cpu_ms_per_request else "n/a"

    table = markdown_table(
        [
            "request",
            f"p50 at {SMALL:,}",
            f"p50 at {large:,}",
            "slowdown",
            "req/s (1k / large)",
            "CPU ms/req (1k / large)",
            "holds",
        ],
        [
            [
                result.name,
                f"{result.small.p50_ms:.1f} ms",
                f"{result.large.p50_ms:.1f} ms",
                f"{result.slowdown:.2f}x",
                f"{result.small.requests_per_second:.0f} / {result.large.requests_per_second:.0f}",
                f"{cpu(result.small)} / {cpu(result.large)}",
                "yes" if result.slowdown <= MAX_SLOWDOWN else "**no**",
            ]
            for result in results
        ],
    )
    errors = sum(result.small.errors + result.large.errors for result in results)
    return (
        f"Last `make bench-scale`: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC. {SMALL:,} and "
        f"{large:,} seeded users ({PHONE_SHARE:.0%} with a verified phone) in two databases, one gunicorn "
        f"({connections} sync workers) each; wrk with {connections} connections, {rounds} rounds of "
        f"{seconds:g} s alternating between the sizes, the lowest p50 of each counts; errors: {errors}. "
        f"CPU ms/req: the workers' and their PostgreSQL backends'. Target: slowdown <= {MAX_SLOWDOWN}x.\n\n{table}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5, help="measured time per request, size and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds alternating between the sizes")
    parser.add_argument("--large", type=int, default=LARGE, help="the large number of users")
    parser.add_argument("--reseed", action="store_true", help="seed the large database again")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--prepare", type=int, metavar="USERS", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
    django.setup()
    if arguments.prepare is not None:
        print(json.dumps(prepare(arguments.prepare, reseed=arguments.reseed)))
        return

    from django.conf import settings
    from django.core.management import call_command

    from .cpu import database_backend_pids
    from .report import section_replace
    from .server import gunicorn

    call_command("collectstatic", interactive=False, verbosity=0)  # the admin's pages need the manifest
    sizes = {SMALL: _database_url(""), arguments.large: _database_url("_large")}
    endpoints = {
        size: [
            Endpoint(item["name"], item["method"], item["path"], Path(item["file"]))
            for item in _prepare_in(url, size, reseed=arguments.reseed or size == SMALL)
        ]
        for size, url in sizes.items()
    }
    connections = os.cpu_count() or 1
    best: dict[tuple[int, str], Measurement] = {}
    with ExitStack() as stack:
        servers = {
            size: stack.enter_context(
                gunicorn(
                    workers=connections,
                    log_file=settings.BENCH_DIR / f"gunicorn-scale-{size}.log",
                    database_url=url,
                )
            )
            for size, url in sizes.items()
        }
        for round_number in range(arguments.rounds):
            for index in range(len(endpoints[SMALL])):
                for size, server in servers.items():
                    database = urlsplit(sizes[size]).path.lstrip("/")
                    result = measure(
                        endpoints[size][index],
                        base_url=server.base_url,
                        seconds=arguments.seconds,
                        connections=connections,
                        warmup_seconds=2 if round_number == 0 else 0,
                        serving_pids=lambda server=server, database=database: (
                            server.worker_pids() + database_backend_pids(database)
                        ),
                    )
                    print(f"{size:>9,} users  {measurement_line(result)}", flush=True)
                    key = (size, result.endpoint.name)
                    if key not in best or result.p50_ms < best[key].p50_ms:
                        best[key] = result
    results = [
        ScaleResult(endpoint.name, best[(SMALL, endpoint.name)], best[(arguments.large, endpoint.name)])
        for endpoint in endpoints[SMALL]
    ]
    section = _report(
        results,
        large=arguments.large,
        seconds=arguments.seconds,
        rounds=arguments.rounds,
        connections=connections,
    )
    print(section)
    if not arguments.no_docs:
        section_replace("scale-results", section)


if __name__ == "__main__":
    main()
