"""`make bench-profile`: py-spy samples a one-worker gunicorn while wrk drives each endpoint.

Run as `python -m bench.profile`. For each endpoint it writes the folded stacks
(`var/bench/profiles/<endpoint>.folded`, for any flame graph tool) and prints the functions
that take the largest share of the worker's samples, inclusive and self.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import django

# Frames below the request handler that every endpoint shares; the summary skips them.
PLUMBING = re.compile(r"gunicorn/|<module>|wsgiapp|arbiter|/workers/")
TOP = 25
# More single-use requests than one worker can serve in the sampled time.
SINGLE_USE_POOL_SIZE = 3000


def _frame_name(frame: str) -> str:
    """`func (path/to/file.py:123)` -> `func (path/to/file.py)`: lines of one function add up."""
    return re.sub(r":\d+\)$", ")", frame)


def folded_summary(folded: Path, top: int = TOP) -> str:
    """The functions with the largest inclusive and self share of the samples in `folded`."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [_frame_name(frame) for frame in stack.split(";")]
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            if not PLUMBING.search(frame):
                inclusive[frame] += samples
    if total == 0:
        return "no samples"
    lines = [f"{total} samples", "inclusive:"]
    lines += [f"  {share / total:6.1%}  {frame}" for frame, share in inclusive.most_common(top)]
    lines += ["self:"]
    lines += [f"  {share / total:6.1%}  {frame}" for frame, share in own.most_common(top // 2)]
    return "\n".join(lines)


def _py_spy() -> str:
    path = shutil.which("py-spy") or str(Path(os.sys.executable).parent / "py-spy")
    if not Path(path).exists():
        raise SystemExit(
            "py-spy is not installed: pip install -r bench/requirements.txt (make bench-profile does it)."
        )
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8, help="sampled time per endpoint")
    parser.add_argument("--only", action="append", help="endpoint names to profile (default: all)")
    arguments = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
    django.setup()
    from django.conf import settings

    from . import fixtures
    from .benchmark import LOGIN_TOTP, OTP_VERIFY, otp_verify_endpoint, reused_endpoints, totp_login_endpoint
    from .load import wrk_run
    from .server import gunicorn

    py_spy = _py_spy()
    fixtures.database_reset()
    reused = reused_endpoints()
    # Single-use requests are made right before their turn: TOTP codes age.
    plans = [(endpoint.name, lambda endpoint=endpoint: endpoint) for endpoint in reused]
    plans += [
        (LOGIN_TOTP, lambda: totp_login_endpoint("totp", SINGLE_USE_POOL_SIZE)),
        (OTP_VERIFY, lambda: otp_verify_endpoint("verify", SINGLE_USE_POOL_SIZE)),
    ]
    output_dir = settings.BENCH_DIR / "profiles"
    output_dir.mkdir(parents=True, exist_ok=True)
    # One sync worker: one thread, so every sample is the request's (gthread's idle pool threads
    # would fill the stacks with waits).
    with gunicorn(
        workers=1,
        log_file=settings.BENCH_DIR / "gunicorn-profile.log",
        environment={"GUNICORN_WORKER_CLASS": "sync"},
    ) as server:
        (worker,) = server.worker_pids()
        for endpoint in reused:  # a cold worker's first requests import and compile: not the steady state
            wrk_run(endpoint, base_url=server.base_url, seconds=1, connections=1)
        for name, make_endpoint in plans:
            if arguments.only and name not in arguments.only:
                continue
            endpoint = make_endpoint()
            load = threading.Thread(
                target=wrk_run,
                kwargs={
                    "endpoint": endpoint,
                    "base_url": server.base_url,
                    "seconds": arguments.seconds + 2,
                    "connections": 1,
                },
            )
            load.start()
            folded = output_dir / f"{re.sub(r'[^a-z0-9]+', '-', endpoint.name.lower()).strip('-')}.folded"
            subprocess.run(  # noqa: S603 - our own executable and arguments
                [
                    py_spy,
                    "record",
                    f"--pid={worker}",
                    f"--duration={round(arguments.seconds)}",
                    "--rate=1000",
                    "--format=raw",
                    f"--output={folded}",
                ],
                check=True,
                capture_output=True,
            )
            load.join()
            print(f"\n## {endpoint.name} ({folded})\n{folded_summary(folded)}", flush=True)


if __name__ == "__main__":
    main()
