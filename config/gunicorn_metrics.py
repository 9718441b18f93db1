"""gunicorn server hooks for Prometheus multiprocess mode; import them into the gunicorn config.

`on_starting` empties PROMETHEUS_MULTIPROC_DIR (values of a previous run would be added to this
one's); `child_exit` marks a dead worker so its live gauges are dropped (its counters stay: they
were counted). Both do nothing when the variable is unset. Used as is with
`gunicorn -c python:config.gunicorn_metrics`, or from a gunicorn.conf.py:
`from config.gunicorn_metrics import child_exit, on_starting`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prometheus_client import multiprocess


def _directory() -> Path | None:
    name = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(name) if name else None


def on_starting(server: Any) -> None:
    directory = _directory()
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for values_file in directory.glob("*.db"):
        values_file.unlink(missing_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if _directory() is None:
        return
    multiprocess.mark_process_dead(worker.pid)
