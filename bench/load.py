"""Driving one endpoint with wrk from a file of prepared requests, and what came back."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from .cpu import cpu_seconds

LUA_SCRIPT = Path(__file__).resolve().parent / "wrk" / "requests.lua"
RESULT_PREFIX = "BENCH_RESULT "


@dataclass(frozen=True)
class RequestLine:
    """One prepared request: the headers that vary between requests, and the JSON body."""

    authorization: str = ""
    otp: str = ""
    cookie: str = ""
    body: str = ""

    def encode(self) -> str:
        return f"{self.authorization}\t{self.otp}\t{self.cookie}\t{self.body}"


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    lines_file: Path
    once: bool = False  # each line is single use (a code, a pending channel)
    side: str = "service"  # which server answers: "service" or "stock"


@dataclass(frozen=True)
class Measurement:
    endpoint: Endpoint
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms_per_request: float | None = None  # workers and their database backends, when known

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds


def lines_write(path: Path, lines: list[RequestLine]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line.encode() + "\n" for line in lines))
    return path


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (make bench does it).")
    return path


def wrk_run(
    endpoint: Endpoint, *, base_url: str, seconds: float, connections: int, threads: int = 1
) -> Measurement:
    """Run wrk against `endpoint` for `seconds` with `connections` open at once."""
    command = [
        wrk_path(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        "--timeout=30s",
        f"--script={LUA_SCRIPT}",
        base_url,
        "--",
        endpoint.method,
        endpoint.path,
        str(endpoint.lines_file),
        "once" if endpoint.once else "cycle",
        str(threads),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)  # noqa: S603
    result_line = next(
        (line for line in completed.stdout.splitlines() if line.startswith(RESULT_PREFIX)), None
    )
    if result_line is None:
        raise RuntimeError(
            f"wrk printed no result for {endpoint.name}:\n{completed.stdout}{completed.stderr}"
        )
    result = json.loads(result_line.removeprefix(RESULT_PREFIX))
    return Measurement(
        endpoint=endpoint,
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        errors=result["status_errors"] + result["socket_errors"],
    )


def probe(endpoint: Endpoint, *, base_url: str) -> None:
    """Send the first prepared request once; anything but a 2xx stops the benchmark.

    wrk counts a redirect (say, to a login page) as a success: this catches it.
    """
    line = endpoint.lines_file.read_text().splitlines()[0]
    authorization, otp, cookie, body = line.split("\t", 3)
    headers = {"User-Agent": "bench/probe"}
    headers.update(
        {
            name: value
            for name, value in (("Authorization", authorization), ("x-otp", otp), ("Cookie", cookie))
            if value
        }
    )
    if body:
        headers["Content-Type"] = "application/json"
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        connection.request(endpoint.method, endpoint.path, body=body or None, headers=headers)
        answer = connection.getresponse()
        status, content = answer.status, answer.read()[:300]
    finally:
        connection.close()
    if not 200 <= status < 300:
        raise RuntimeError(
            f"{endpoint.name}: {endpoint.method} {endpoint.path} answered {status}: {content!r}"
        )


def measure(
    endpoint: Endpoint,
    *,
    base_url: str,
    seconds: float,
    connections: int,
    warmup_seconds: float = 0,
    serving_pids: Callable[[], list[int]] | None = None,
) -> Measurement:
    """A measured wrk run, after an unmeasured one of `warmup_seconds` when the requests can repeat.

    With `serving_pids`, the CPU time those processes spent during the run is divided by
    the requests served.
    """
    if warmup_seconds and not endpoint.once:
        probe(endpoint, base_url=base_url)
        wrk_run(endpoint, base_url=base_url, seconds=warmup_seconds, connections=connections)
    pids = serving_pids() if serving_pids else []
    cpu_before = cpu_seconds(pids)
    measurement = wrk_run(endpoint, base_url=base_url, seconds=seconds, connections=connections)
    if not pids or not measurement.requests:
        return measurement
    cpu_ms = (cpu_seconds(pids) - cpu_before) * 1000 / measurement.requests
    return replace(measurement, cpu_ms_per_request=cpu_ms)


def measurement_line(measurement: Measurement) -> str:
    cpu = measurement.cpu_ms_per_request
    return (
        f"{measurement.endpoint.name:<30} {measurement.requests_per_second:8.1f} req/s  "
        f"p50 {measurement.p50_ms:7.2f} ms  p99 {measurement.p99_ms:7.2f} ms  "
        + (f"cpu {cpu:6.2f} ms/req  " if cpu is not None else "")
        + f"errors {measurement.errors}"
    )
