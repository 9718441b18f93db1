"""The endpoint benchmark itself: fixtures, the server, one wrk run per endpoint, the report.

Imported once Django is set up with the bench settings (see bench.run).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from . import fixtures
from .cpu import database_backend_pids
from .load import Endpoint, Measurement, RequestLine, lines_write, measure, measurement_line
from .machine import machine_description
from .report import markdown_table
from .server import Server, gunicorn

# Single-use requests are sized from the measured rates, with this much to spare.
ONCE_POOL_MARGIN = 2.0
REUSED_POOL_SIZE = 64
WARMUP_SECONDS = 2
LOGIN_OVER_HASH_MAX_MS = 15.0

CEILING = "ceiling"
STOCK_LOGIN = "stock TokenObtainPairView"
STOCK_REFRESH = "stock TokenRefreshView"
LOGIN = "login"
LOGIN_ALONE = "login, one at a time"
LOGIN_TOTP = "login + TOTP"
REFRESH = "refresh"
ME = "/auth/me"
OTP_SEND = "GET /auth/otp/code (SMS)"
OTP_VERIFY = "POST /auth/otp/code (SMS)"


@dataclass(frozen=True)
class Target:
    description: str
    measured: str
    required: str
    holds: bool


def _file(name: str, lines: list[RequestLine]) -> Path:
    return lines_write(settings.BENCH_DIR / f"{name}.lines", lines)


def reused_endpoints() -> list[Endpoint]:
    """The endpoints whose requests can be sent again and again, with their users made."""
    users = fixtures.users_create("login", REUSED_POOL_SIZE)
    return [
        Endpoint(CEILING, "GET", "/bench/ceiling", _file("ceiling", [RequestLine()])),
        Endpoint(
            STOCK_LOGIN, "POST", "/bench/stock/token", _file("stock-login", fixtures.login_lines(users))
        ),
        Endpoint(
            STOCK_REFRESH,
            "POST",
            "/bench/stock/token/refresh",
            _file("stock-refresh", fixtures.stock_refresh_lines(users)),
        ),
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
    results: dict[str, Measurement] = field(default_factory=dict)
    hash_ms: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0

    def _measure(
        self,
        server: Server,
        endpoint: Endpoint,
        *,
        seconds: float,
        warmup: bool = True,
        connections: int | None = None,
    ) -> None:
        measurement = measure(
            endpoint,
            base_url=server.base_url,
            seconds=seconds,
            connections=connections or self.connections,
            warmup_seconds=WARMUP_SECONDS if warmup else 0,
            serving_pids=lambda: server.worker_pids() + database_backend_pids(),
        )
        print(measurement_line(measurement), flush=True)
        best = self.results.get(endpoint.name)
        if best is None or measurement.requests_per_second > best.requests_per_second:
            self.results[endpoint.name] = measurement

    def run(self) -> None:
        self.load_before = os.getloadavg()[0]
        fixtures.database_reset()
        self.hash_ms = fixtures.password_hash_milliseconds()
        print(f"Argon2id check_password: {self.hash_ms:.1f} ms (median, in process)", flush=True)
        reused = reused_endpoints()
        with gunicorn(workers=self.workers, log_file=settings.BENCH_DIR / "gunicorn.log") as server:
            # Rounds interleave the endpoints, and the best round of each counts: load from
            # elsewhere on the machine then weighs on every endpoint alike, and least on the result.
            for round_number in range(self.rounds):
                for endpoint in reused:
                    self._measure(server, endpoint, seconds=self.round_seconds, warmup=round_number == 0)
                # The hash time is measured one at a time: so is the login it is compared with.
                login = next(endpoint for endpoint in reused if endpoint.name == LOGIN)
                alone = Endpoint(LOGIN_ALONE, login.method, login.path, login.lines_file)
                self._measure(server, alone, seconds=self.round_seconds, warmup=False, connections=1)
                self._measure_totp_login(server, round_number)
                self._measure_otp_verify(server, round_number)
        self.load_after = os.getloadavg()[0]

    @property
    def round_seconds(self) -> float:
        return self.seconds / self.rounds

    def _measure_totp_login(self, server: Server, round_number: int) -> None:
        count = int(self.results[LOGIN].requests_per_second * self.round_seconds * ONCE_POOL_MARGIN) + 100
        endpoint = totp_login_endpoint(f"totp{round_number}", count)
        self._measure(server, endpoint, seconds=self.round_seconds)

    def _measure_otp_verify(self, server: Server, round_number: int) -> None:
        count = int(self.results[CEILING].requests_per_second * self.round_seconds * ONCE_POOL_MARGIN) + 100
        endpoint = otp_verify_endpoint(f"verify{round_number}", count)
        self._measure(server, endpoint, seconds=self.round_seconds)

    # --- the report ---------------------------------------------------------------------------

    def _ratio(self, name: str, reference: str) -> float:
        return self.results[name].requests_per_second / self.results[reference].requests_per_second

    def _cpu_ratio(self, name: str, reference: str) -> str:
        """What the rate ratio would be if CPU were all that counted: reference CPU / this CPU."""
        own, other = self.results[name].cpu_ms_per_request, self.results[reference].cpu_ms_per_request
        return f"{other / own:.0%}" if own and other else "n/a"

    def targets(self) -> list[Target]:
        targets = []
        for name, minimum in ((REFRESH, 0.6), (ME, 0.6), (OTP_VERIFY, 0.4)):
            ratio = self._ratio(name, CEILING)
            targets.append(
                Target(
                    f"{name} req/s vs the ceiling",
                    f"{ratio:.0%} (by CPU: {self._cpu_ratio(name, CEILING)})",
                    f">= {minimum:.0%}",
                    ratio >= minimum,
                )
            )
        allowed = self.hash_ms + LOGIN_OVER_HASH_MAX_MS
        for name in (LOGIN_ALONE, LOGIN):
            p50 = self.results[name].p50_ms
            targets.append(
                Target(
                    f"{name} p50 vs Argon2id hash time + 15 ms",
                    f"{p50:.1f} ms (hash {self.hash_ms:.1f} ms, +{p50 - self.hash_ms:.1f} ms)",
                    f"<= {allowed:.1f} ms",
                    p50 <= allowed,
                )
            )
        for name, stock in ((LOGIN, STOCK_LOGIN), (REFRESH, STOCK_REFRESH)):
            ratio = self._ratio(name, stock)
            targets.append(
                Target(
                    f"{name} req/s vs {stock}",
                    f"{ratio:.0%} (by CPU: {self._cpu_ratio(name, stock)})",
                    ">= 100%",
                    ratio >= 1.0,
                )
            )
        return targets

    def report(self, *, started_at: dt.datetime) -> str:
        ceiling = self.results[CEILING]
        rows = [
            [
                name,
                f"{result.requests_per_second:.1f}",
                f"{result.requests_per_second / ceiling.requests_per_second:.0%}",
                f"{result.p50_ms:.2f}",
                f"{result.p99_ms:.2f}",
                f"{result.cpu_ms_per_request:.2f}" if result.cpu_ms_per_request else "n/a",
                self._cpu_ratio(name, CEILING),
                f"{result.requests}",
                f"{result.errors}",
            ]
            for name, result in self.results.items()
        ]
        results = markdown_table(
            [
                "endpoint",
                "req/s",
                "of ceiling",
                "p50 ms",
                "p99 ms",
                "CPU ms/req",
                "of ceiling by CPU",
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
                f"Last `make bench`: {started_at:%Y-%m-%d %H:%M} UTC. gunicorn `config.wsgi` with "
                f"{self.workers} sync workers, settings `config.settings.bench`; wrk with "
                f"{self.connections} connections; {self.rounds} interleaved rounds of "
                f"{self.round_seconds:g} s per endpoint, the best round counts; a {WARMUP_SECONDS} s "
                f"warm-up before the first (none for the single-use requests). Signing: "
                f"{settings.SIMPLE_JWT.get('ALGORITHM', 'HS256')} for the stock views, the key's algorithm for ours. "
                f"CPU ms/req: the workers' and their PostgreSQL backends' CPU time per request. "
                f"Load average (1 min) at the start and the end: {self.load_before:.1f} and {self.load_after:.1f}.",
                machine,
                results,
                targets,
            ]
        )
