"""gunicorn on loopback for the length of a `with`: the service with its own gunicorn.conf.py, or the stock app."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
SERVICE_CONFIG = PROJECT_DIR / "gunicorn.conf.py"
STOCK_CONFIG = PROJECT_DIR / "bench" / "stock" / "gunicorn.conf.py"


@dataclass(frozen=True)
class Server:
    base_url: str
    pid: int

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        return [int(pid) for pid in children.split()]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(base_url: str, process: subprocess.Popen, health_path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{base_url}{health_path}", timeout=10) as answer:  # noqa: S310 - loopback
                if answer.status == 200:
                    return
        except OSError:  # not listening yet, or still loading
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {base_url}{health_path} within {timeout:.0f} s")


def rss_megabytes(pid: int) -> float:
    """Resident memory of `pid` (VmRSS), 0 for a process that has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0.0
    line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) / 1024


@contextmanager
def gunicorn(
    *,
    workers: int,
    log_file: Path,
    database_url: str | None = None,
    config_file: Path = SERVICE_CONFIG,
    settings_module: str = "config.settings.bench",
    wsgi_app: str = "config.wsgi:application",
    health_path: str = "/healthz",
    environment: dict[str, str] | None = None,
) -> Iterator[Server]:
    """Serve `wsgi_app` with `config_file` (default: the service's own) for the length of the `with`.

    The command line sets only what a benchmark must: the loopback port and the worker count.
    """
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, **(environment or {})}
    if database_url:
        env["DATABASE_URL"] = database_url
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - our own executable and arguments
            [
                str(GUNICORN),
                f"--config={config_file}",
                f"--workers={workers}",
                f"--bind=127.0.0.1:{port}",
                wsgi_app,
            ],
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_healthy(base_url, process, health_path)
            yield Server(base_url=base_url, pid=process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
