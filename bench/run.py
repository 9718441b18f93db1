"""`make bench`: each endpoint on gunicorn + PostgreSQL + Redis, beside a separate stock Django + DRF + SimpleJWT app.

Run as `python -m bench.run`. It empties the bench databases (the service's and the stock
app's), creates the users they need, starts both under gunicorn (one worker per core; the
service with its gunicorn.conf.py), drives every endpoint with wrk in interleaved rounds,
prints the table and writes it to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys

import django

# A TOTP code written just before a round stays good for at least 30 s (its step and the next).
MAX_ROUND_SECONDS = 25
# With keep-alive a connection stays with the worker that accepted it, and as many connections as
# workers left one worker with two and another idle in about half the rounds (measured: one worker
# at 100% CPU, the other at 0%). Four per worker keep every worker busy whichever way they fall, as
# the many connections of a load balancer do; the stock app's sync workers take them in turn.
CONNECTIONS_PER_WORKER = 4


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--seconds", type=float, default=12, help="measured time per endpoint, across its rounds"
    )
    parser.add_argument("--workers", type=int, default=cores, help="gunicorn workers (default: one per core)")
    parser.add_argument(
        "--connections",
        type=int,
        default=None,
        help=f"requests in flight (default: {CONNECTIONS_PER_WORKER} per worker)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds per endpoint; ratios are the median of the rounds'",
    )
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/benchmarks.md alone")
    arguments = parser.parse_args(argv)
    arguments.connections = arguments.connections or CONNECTIONS_PER_WORKER * arguments.workers
    if arguments.seconds / arguments.rounds > MAX_ROUND_SECONDS:
        parser.error(f"a round may last {MAX_ROUND_SECONDS} s at most: TOTP codes are written before it")
    return arguments


def main(argv: list[str] | None = None) -> None:
    arguments = _arguments(argv)
    # A SIGTERM unwinds the `with` blocks, so the gunicorns started here stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
    django.setup()
    from .benchmark import Benchmark

    benchmark = Benchmark(
        seconds=arguments.seconds,
        workers=arguments.workers,
        connections=arguments.connections,
        rounds=arguments.rounds,
    )
    benchmark.run()
    section = benchmark.report(started_at=dt.datetime.now(dt.UTC))
    print(section)
    if not arguments.no_docs:
        from .report import DOCS_FILE, section_replace

        section_replace("bench-results", section)
        print(f"\nWritten to {DOCS_FILE}")


if __name__ == "__main__":
    main()
