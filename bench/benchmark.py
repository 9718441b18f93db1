"""The endpoint benchmark itself: fixtures, the server, one wrk run per endpoint, the report.

Imported once Django is set up with the bench settings (see bench.run).
"""

from __future__ import annotations

import datetime as dt
import os
import runpy
import statistics
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

# The tests' local fake of the Pwned Passwords range API (a real HTTP server on loopback).
from tests.accounts.core.pwned_fake import fake_range_api_start, fake_range_api_stop

from . import fixtures
from .cpu import database_backend_pids
from .load import Endpoint, Measurement, RequestLine, lines_write, measure, measurement_line
from .machine import machine_description
from .report import markdown_table
from .server import SERVICE_CONFIG, STOCK_CONFIG, Server, gunicorn, rss_megabytes

# Single-use requests are sized from the measured rates, with this much to spare.
ONCE_POOL_MARGIN = 2.0
REUSED_POOL_SIZE = 64
WARMUP_SECONDS = 2
LOGIN_OVER_HASH_MAX_MS = 5.0
RSS_MAX_MB = 150.0

SERVICE, STOCK = "service", "stock"
STOCK_CEILING = "stock: trivial view (ceiling)"
STOCK_LOGIN = "stock: TokenObtainPairView"
STOCK_REFRESH = "stock: TokenRefreshView"
STOCK_ME = "stock: JWT-authenticated /me"
CEILING = "in-project ceiling"
HASH_FLOOR = "in-project floor: the bare Argon2id check"
LOGIN = "login"
LOGIN_ALONE = "login, one at a time"
FLOOR_ALONE = "in-project floor, one at a time"
LOGIN_TOTP = "login + TOTP"
REFRESH = "refresh"
ME = "/auth/me"
OTP_SEND = "GET /auth/otp/code (SMS)"
OTP_VERIFY = "POST /auth/otp/code (SMS)"

# The comparisons: (ours, the stock app's, the least ratio).
STOCK_TARGETS = ((ME, STOCK_ME, 1.5), (REFRESH, STOCK_REFRESH, 1.5), (LOGIN, STOCK_LOGIN, 0.95))
# "Twice today's rate", as CPU per request (workers and PostgreSQL backends): on a machine this
# busy, wall-clock rates of different runs do not compare, CPU per request moves far less.
# "Today": commit a29d344 (the whole middleware stack, the stock json renderer), this runner on
# the machine of docs/benchmarks.md, two rounds: SMS send 15.1 and 17.2 ms, verify 25.7 and
# 29.4 ms. Absolute, so meaningful on that machine only.
TODAY_CPU_MS = {OTP_SEND: 16.2, OTP_VERIFY: 27.6}

STOCK_DIR = Path(__file__).resolve().parent / "stock"


@dataclass(frozen=True)
class Target:
    description: str
    measured: str
    required: str
    holds: bool


def _file(name: str, lines: list[RequestLine]) -> Path:
    return lines_write(settings.BENCH_DIR / f"{name}.lines", lines)


def stock_database_url() -> str:
    """BENCH_STOCK_DATABASE_URL, or the service's bench database URL with `_stock` after its name."""
    explicit = os.environ.get("BENCH_STOCK_DATABASE_URL")
    if explicit:
        return explicit
    address = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench"))
    return urlunsplit(address._replace(path=address.path.rstrip("/") + "_stock"))


def stock_prepare(database_url: str) -> list[Endpoint]:
    """The stock app's database emptied and its users made, in a process of its own settings."""
    subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "bench.stock.prepare",
            f"--count={REUSED_POOL_SIZE}",
            f"--dir={settings.BENCH_DIR}",
        ],
        cwd=STOCK_DIR.parent.parent,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "bench.stock.settings", "DATABASE_URL": database_url},
        check=True,
    )
    lines = settings.BENCH_DIR
    _file("stock-ceiling", [RequestLine()])
    return [
        Endpoint(STOCK_CEILING, "GET", "/ceiling/", lines / "stock-ceiling.lines", side=STOCK),
        Endpoint(STOCK_LOGIN, "POST", "/api/token/", lines / "stock-login.lines", side=STOCK),
        Endpoint(STOCK_REFRESH, "POST", "/api/token/refresh/", lines / "stock-refresh.lines", side=STOCK),
        Endpoint(STOCK_ME, "GET", "/me/", lines / "stock-me.lines", side=STOCK),
    ]


def reused_endpoints() -> list[Endpoint]:
    """The service's endpoints whose requests can be sent again and again, with their users made."""
    users = fixtures.users_create("login", REUSED_POOL_SIZE)
    return [
        Endpoint(CEILING, "GET", "/bench/ceiling", _file("ceiling", [RequestLine()])),
        Endpoint(HASH_FLOOR, "POST", "/bench/hash-floor", _file("hash-floor", fixtures.floor_lines())),
        Endpoint(LOGIN, "POST", "/auth/login", _file("login", fixtures.login_lines(users))),
        Endpoint(REFRESH, "POST", "/auth/login/refresh", _file("refresh", fixtures.refresh_lines(users))),
        Endpoint(ME, "GET", "/auth/me", _file("me", fixtures.bearer_lines(users))),
        Endpoint(
            OTP_SEND,
            "GET",
            "/auth/otp/code?method=SMS",
            _file("otp-send", fixtures.sms_send_lines(REUSED_POOL_SIZE)),
        ),
    ]


def interleaved(stock: list[Endpoint], service: list[Endpoint]) -> list[Endpoint]:
    """Each stock endpoint right before its counterpart of the service, then the rest."""
    order = [CEILING, LOGIN, REFRESH, ME]
    paired = {name: endpoint for endpoint in service for name in [endpoint.name]}
    sequence: list[Endpoint] = []
    for stock_endpoint, name in zip(stock, order, strict=True):
        sequence += [stock_endpoint, paired.pop(name)]
        if name == LOGIN:  # the floor right after the login it is the floor of
            sequence.append(paired.pop(HASH_FLOOR))
    return sequence + list(paired.values())


def totp_login_endpoint(pool: str, count: int) -> Endpoint:
    """`count` logins with password + TOTP, one per new user; send them within 25 s."""
    devices = fixtures.totp_users_create(pool, count)
    lines = _file("login-totp", fixtures.totp_login_lines(devices))
    return Endpoint(LOGIN_TOTP, "POST", "/auth/login", lines, once=True)


def otp_verify_endpoint(pool: str, count: int) -> Endpoint:
    """`count` phone confirmations, one per new user with a pending code."""
    lines = _file("otp-verify", fixtures.otp_verify_lines(pool, count))
    return Endpoint(OTP_VERIFY, "POST", "/auth/otp/code", lines, once=True)


@dataclass
class Benchmark:
    seconds: float
    workers: int
    connections: int
    rounds: int
    # Every round's measurement of each endpoint, in the order measured.
    measured: dict[str, list[Measurement]] = field(default_factory=dict)
    rss_mb: dict[str, list[float]] = field(default_factory=dict)
    hash_ms: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0
    servers: dict[str, Server] = field(default_factory=dict)
    stock_database: str = ""

    def _serving_pids(self, side: str) -> list[int]:
        database = self.stock_database if side == STOCK else None
        return self.servers[side].worker_pids() + database_backend_pids(database)

    def _measure(
        self,
        endpoint: Endpoint,
        *,
        seconds: float,
        warmup: bool = True,
        connections: int | None = None,
    ) -> None:
        measurement = measure(
            endpoint,
            base_url=self.servers[endpoint.side].base_url,
            seconds=seconds,
            connections=connections or self.connections,
            warmup_seconds=WARMUP_SECONDS if warmup else 0,
            serving_pids=lambda: self._serving_pids(endpoint.side),
        )
        print(measurement_line(measurement), flush=True)
        self.measured.setdefault(endpoint.name, []).append(measurement)

    @property
    def results(self) -> dict[str, Measurement]:
        """Each endpoint's median round by rate (the upper median of an even count)."""
        return {
            name: sorted(rounds, key=lambda m: m.requests_per_second)[len(rounds) // 2]
            for name, rounds in self.measured.items()
        }

    def run(self) -> None:
        self.load_before = os.getloadavg()[0]
        fixtures.database_reset()
        self.hash_ms = fixtures.password_hash_milliseconds()
        print(f"Argon2id check_password: {self.hash_ms:.1f} ms (median, in process)", flush=True)
        stock_url = stock_database_url()
        self.stock_database = urlsplit(stock_url).path.lstrip("/")
        sequence = interleaved(stock_prepare(stock_url), reused_endpoints())
        with ExitStack() as stack:
            # Every check of a login on, the breached-password one against a local fake of the range
            # API (a login asks it at most once per user and PWNED_PASSWORDS_RECHECK_DAYS).
            range_api = fake_range_api_start()
            stack.callback(fake_range_api_stop, range_api)
            checks_on = {
                "PWNED_PASSWORDS": "true",
                "PWNED_PASSWORDS_API_URL": range_api.url,
                "NEW_DEVICE_ALERTS": "true",
            }
            self.servers[SERVICE] = stack.enter_context(
                gunicorn(
                    workers=self.workers, log_file=settings.BENCH_DIR / "gunicorn.log", environment=checks_on
                )
            )
            self.servers[STOCK] = stack.enter_context(
                gunicorn(
                    workers=self.workers,
                    log_file=settings.BENCH_DIR / "gunicorn-stock.log",
                    database_url=stock_url,
                    config_file=STOCK_CONFIG,
                    settings_module="bench.stock.settings",
                    wsgi_app="bench.stock.wsgi:application",
                    health_path="/ceiling/",
                )
            )
            # Rounds interleave the endpoints, each stock one right before ours, and the best
            # round of each counts: load from elsewhere on the machine then weighs on both sides
            # alike, and least on the result.
            for round_number in range(self.rounds):
                for endpoint in sequence:
                    self._measure(endpoint, seconds=self.round_seconds, warmup=round_number == 0)
                # The hash time is measured one at a time: so is the login it is compared with.
                login = next(endpoint for endpoint in sequence if endpoint.name == LOGIN)
                alone = Endpoint(LOGIN_ALONE, login.method, login.path, login.lines_file)
                self._measure(alone, seconds=self.round_seconds, warmup=False, connections=1)
                # ... and so is the bare hash on the same stack, the floor the login's p50 stands on.
                floor = next(endpoint for endpoint in sequence if endpoint.name == HASH_FLOOR)
                floor_alone = Endpoint(FLOOR_ALONE, floor.method, floor.path, floor.lines_file)
                self._measure(floor_alone, seconds=self.round_seconds, warmup=False, connections=1)
                self._measure_totp_login(round_number)
                self._measure_otp_verify(round_number)
            for side, server in self.servers.items():
                self.rss_mb[side] = [rss_megabytes(pid) for pid in server.worker_pids()]
        self.load_after = os.getloadavg()[0]

    @property
    def round_seconds(self) -> float:
        return self.seconds / self.rounds

    def _measure_totp_login(self, round_number: int) -> None:
        count = int(self.results[LOGIN].requests_per_second * self.round_seconds * ONCE_POOL_MARGIN) + 100
        endpoint = totp_login_endpoint(f"totp{round_number}", count)
        self._measure(endpoint, seconds=self.round_seconds)

    def _measure_otp_verify(self, round_number: int) -> None:
        count = int(self.results[CEILING].requests_per_second * self.round_seconds * ONCE_POOL_MARGIN) + 100
        endpoint = otp_verify_endpoint(f"verify{round_number}", count)
        self._measure(endpoint, seconds=self.round_seconds)

    # --- the report ---------------------------------------------------------------------------

    def _ratio(self, name: str, reference: str) -> float:
        """The median over the rounds of the two rates' ratio, each from the same round.

        Measured back to back, the two sides of a round share whatever else the machine was doing.
        """
        pairs = zip(self.measured[name], self.measured[reference], strict=False)
        return statistics.median(own.requests_per_second / other.requests_per_second for own, other in pairs)

    def _cpu_cost(self, name: str, reference: str) -> float | None:
        """The median over the rounds of this CPU per request / the reference's."""
        pairs = zip(self.measured[name], self.measured[reference], strict=False)
        costs = [
            own.cpu_ms_per_request / other.cpu_ms_per_request
            for own, other in pairs
            if own.cpu_ms_per_request and other.cpu_ms_per_request
        ]
        return statistics.median(costs) if costs else None

    def _cpu_ratio(self, name: str, reference: str) -> str:
        """What the rate ratio would be if CPU were all that counted: reference CPU / this CPU."""
        cost = self._cpu_cost(name, reference)
        return f"{1 / cost:.2f}x" if cost else "n/a"

    def targets(self) -> list[Target]:
        targets = []
        for name, stock, minimum in STOCK_TARGETS:
            ratio = self._ratio(name, stock)
            targets.append(
                Target(
                    f"{name} req/s vs {stock}",
                    f"{ratio:.2f}x (by CPU: {self._cpu_ratio(name, stock)})",
                    f">= {minimum:.2f}x",
                    ratio >= minimum,
                )
            )
        allowed = self.hash_ms + LOGIN_OVER_HASH_MAX_MS
        alone = self.results[LOGIN_ALONE]
        targets.append(
            Target(
                f"{LOGIN_ALONE} p50 vs Argon2id hash time (in process) + {LOGIN_OVER_HASH_MAX_MS:g} ms",
                f"{alone.p50_ms:.1f} ms (hash {self.hash_ms:.1f} ms, +{alone.p50_ms - self.hash_ms:.1f} ms;"
                f" p99 {alone.p99_ms - self.hash_ms:+.1f} ms)",
                f"<= {allowed:.1f} ms",
                alone.p50_ms <= allowed,
            )
        )
        floor_alone = self.results[FLOOR_ALONE]
        targets.append(
            Target(
                f"{LOGIN_ALONE} p50 vs {FLOOR_ALONE} p50 + {LOGIN_OVER_HASH_MAX_MS:g} ms (the hash on the same stack)",
                f"+{alone.p50_ms - floor_alone.p50_ms:.1f} ms (p50 {alone.p50_ms:.1f} against "
                f"{floor_alone.p50_ms:.1f} ms; p99 {alone.p99_ms - floor_alone.p99_ms:+.1f} ms)",
                f"<= +{LOGIN_OVER_HASH_MAX_MS:g} ms",
                alone.p50_ms - floor_alone.p50_ms <= LOGIN_OVER_HASH_MAX_MS,
            )
        )
        login_cpu = statistics.median(m.cpu_ms_per_request or 0.0 for m in self.measured[LOGIN])
        floor_cpu = statistics.median(m.cpu_ms_per_request or 0.0 for m in self.measured[HASH_FLOOR])
        stock_cpu = statistics.median(m.cpu_ms_per_request or 0.0 for m in self.measured[STOCK_LOGIN])
        targets.append(
            Target(
                f"{LOGIN} req/s vs {HASH_FLOOR}, and CPU per login over the floor's",
                f"{self._ratio(LOGIN, HASH_FLOOR):.2f}x; CPU {login_cpu:.1f} ms, +{login_cpu - floor_cpu:.1f} ms"
                f" over the floor (stock: +{stock_cpu - floor_cpu:.1f} ms)",
                "(the floor: reported, no target)",
                True,
            )
        )
        for name, today in TODAY_CPU_MS.items():
            cost = statistics.median(m.cpu_ms_per_request or 0.0 for m in self.measured[name])
            targets.append(
                Target(
                    f"{name} vs today, by CPU per request",
                    f"{today / cost:.2f}x ({cost:.1f} ms, today {today:.1f} ms)" if cost else "n/a",
                    ">= 2.0x",
                    bool(cost) and today / cost >= 2.0,
                )
            )
        worst = max(self.rss_mb[SERVICE], default=0.0)
        targets.append(
            Target(
                "RSS per service worker after the run",
                ", ".join(f"{rss:.0f} MB" for rss in self.rss_mb[SERVICE])
                + f" (stock: {', '.join(f'{rss:.0f} MB' for rss in self.rss_mb[STOCK])})",
                f"<= {RSS_MAX_MB:.0f} MB",
                0 < worst <= RSS_MAX_MB,
            )
        )
        return targets

    def report(self, *, started_at: dt.datetime) -> str:
        stock_ceiling = self.results[STOCK_CEILING]
        rows = [
            [
                name,
                f"{result.requests_per_second:.1f}",
                f"{result.requests_per_second / stock_ceiling.requests_per_second:.0%}",
                f"{result.p50_ms:.2f}",
                f"{result.p99_ms:.2f}",
                f"{result.cpu_ms_per_request:.2f}" if result.cpu_ms_per_request else "n/a",
                f"{result.requests}",
                f"{result.errors}",
            ]
            for name, result in self.results.items()
        ]
        results = markdown_table(
            [
                "endpoint",
                "req/s",
                "of stock ceiling",
                "p50 ms",
                "p99 ms",
                "CPU ms/req",
                "requests",
                "errors",
            ],
            rows,
        )
        targets = markdown_table(
            ["target", "measured", "required", "holds"],
            [[t.description, t.measured, t.required, "yes" if t.holds else "**no**"] for t in self.targets()],
        )
        machine = markdown_table(["", ""], machine_description())
        return "\n\n".join(
            [
                f"Last `make bench`: {started_at:%Y-%m-%d %H:%M} UTC. The service: gunicorn with its "
                f"`gunicorn.conf.py` ({server_configuration()}), {self.workers} workers, settings "
                f"`config.settings.bench`. The stock app: `bench/stock/` under gunicorn's defaults "
                f"(sync), {self.workers} workers, database `{self.stock_database}`. wrk with "
                f"{self.connections} connections; {self.rounds} interleaved rounds of "
                f"{self.round_seconds:g} s per endpoint (each stock endpoint right before ours), the "
                f"table shows each endpoint's median round and the targets the median of the rounds' "
                f"ratios; a {WARMUP_SECONDS} s warm-up before the first (none for the "
                f"single-use requests). CPU ms/req: the workers' and their PostgreSQL backends' CPU "
                f"time per request. Load average (1 min) at the start and the end: "
                f"{self.load_before:.1f} and {self.load_after:.1f}.",
                machine,
                results,
                targets,
            ]
        )


def server_configuration() -> str:
    """The worker class, threads and keep-alive the service's gunicorn.conf.py gives this run."""
    config = runpy.run_path(str(SERVICE_CONFIG))
    if config["worker_class"] == "sync":
        return "sync workers"
    return (
        f"{config['worker_class']} workers, {config['threads']} threads, keep-alive {config['keepalive']} s"
    )
