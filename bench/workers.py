"""`make bench-workers`: the service's gunicorn.conf.py with sync workers against gthread, on the same code.

Run as `python -m bench.workers`. Both servers run at once, one worker per core each; the
endpoints alternate between them in rounds, and the table (docs/benchmarks.md, section
"Server configuration") gives the median round of each: its rate, and the workers' CPU per request,
which the other work on a shared machine disturbs far less than the rate.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys

import django

from .run import CONNECTIONS_PER_WORKER

CONFIGURATIONS = {
    "sync": {"GUNICORN_WORKER_CLASS": "sync"},
    "gthread, 1 thread": {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "1"},
    "gthread, 2 threads": {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "2"},
    "gthread, 4 threads": {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "4"},
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4, help="measured time per endpoint and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/benchmarks.md alone")
    arguments = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds the servers' `with`
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
    django.setup()
    from contextlib import ExitStack

    from django.conf import settings

    from . import fixtures
    from .benchmark import CEILING, ME, OTP_SEND, REFRESH, reused_endpoints
    from .load import measure, measurement_line
    from .report import markdown_table, section_replace
    from .server import gunicorn

    cores = os.cpu_count() or 1
    fixtures.database_reset()
    endpoints = [
        endpoint for endpoint in reused_endpoints() if endpoint.name in (CEILING, ME, REFRESH, OTP_SEND)
    ]
    rates: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    with ExitStack() as stack:
        servers = {
            name: stack.enter_context(
                gunicorn(
                    workers=cores,
                    log_file=settings.BENCH_DIR / f"gunicorn-{name.replace(' ', '').replace(',', '-')}.log",
                    environment=environment,
                )
            )
            for name, environment in CONFIGURATIONS.items()
        }
        for round_number in range(arguments.rounds):
            for endpoint in endpoints:
                for name, server in servers.items():
                    measurement = measure(
                        endpoint,
                        base_url=server.base_url,
                        seconds=arguments.seconds,
                        connections=CONNECTIONS_PER_WORKER * cores,
                        warmup_seconds=1 if round_number == 0 else 0,
                        serving_pids=server.worker_pids,
                    )
                    print(f"{name:<20} {measurement_line(measurement)}", flush=True)
                    rates.setdefault((endpoint.name, name), []).append(measurement.requests_per_second)
                    cpu.setdefault((endpoint.name, name), []).append(measurement.cpu_ms_per_request or 0.0)
    header = ["endpoint", *(f"{name}: req/s, worker CPU ms/req" for name in CONFIGURATIONS)]
    rows = []
    for endpoint in endpoints:
        cells = []
        for name in CONFIGURATIONS:
            rate = statistics.median(rates[(endpoint.name, name)])
            cost = statistics.median(cpu[(endpoint.name, name)])
            cells.append(f"{rate:.0f}, {cost:.2f}")
        rows.append([endpoint.name, *cells])
    section = (
        f"`make bench-workers`: {cores} workers per server, "
        f"wrk with {CONNECTIONS_PER_WORKER * cores} connections (keep-alive), "
        f"{arguments.rounds} rounds of {arguments.seconds:g} s alternating the servers, median round. CPU: the workers' own (user + system), per request.\n\n"
        + markdown_table(header, rows)
    )
    print(section)
    if not arguments.no_docs:
        section_replace("workers-results", section)


if __name__ == "__main__":
    main()
