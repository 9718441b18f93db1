"""The service's production gunicorn configuration (`gunicorn -c gunicorn.conf.py`), measured in docs/benchmarks.md.

gunicorn also reads this file by itself when started from the project directory. Every
setting can be overridden from the environment (or on the command line, which wins).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import sys
from pathlib import Path

# The config file is loaded before the application: make `config.*` importable from here too.
sys.path.insert(0, str(Path(__file__).resolve().parent))

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")

# One process per core: the work is CPU (Argon2id, ECDSA, Django) between short waits on
# PostgreSQL and Redis (statements are prepared: a /auth/me waits ~0.2 ms on the database).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))

# sync against gthread, measured with `make bench-workers` (docs/benchmarks.md, "Server
# configuration"): sync used the least CPU per request on every endpoint and had the best or an
# equal rate. gthread's hand-offs between its poller thread and its pool (a future, a pipe
# write, the GIL passed back and forth) cost more than keeping the connection saves, and a
# keep-alive connection stays with the worker that accepted it, so a few connections can leave a
# worker idle. Sync workers read a request whole before answering: put them behind a proxy that
# buffers requests and holds the clients' keep-alive connections (nginx, a cloud load balancer),
# as gunicorn's documentation asks, so a slow client never holds a worker.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
# (gunicorn turns sync into gthread when threads > 1: sync means one thread.)
threads = 1 if worker_class == "sync" else int(os.environ.get("GUNICORN_THREADS", "4"))
# Seconds an idle keep-alive connection is held by gthread (sync closes after each answer).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))

# Argon2id makes a login take ~30-50 ms of CPU: 30 s is far beyond any healthy request.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "10"))
backlog = int(os.environ.get("GUNICORN_BACKLOG", "2048"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None  # "-" for stdout
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# With gthread, glibc's malloc gives each thread that allocates an arena of its own, and an arena
# keeps the 19 MiB buffer of the last Argon2id hash made in it. accounts.hashers makes one hash at
# a time per process; two arenas keep at most two such buffers (a sync worker has one thread).
MALLOC_ARENAS = int(os.environ.get("GUNICORN_MALLOC_ARENAS", "2"))
_M_ARENA_MAX = -8  # <malloc.h>


def post_fork(server: object, worker: object) -> None:
    """In each worker before its threads start: cap glibc's malloc arenas (no-op elsewhere)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return
    libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


# --- Metrics hooks --------------------------------------------------------------------------
# Server hooks of the multiprocess Prometheus metrics: a clean directory at start, dead workers marked.
from config.gunicorn_metrics import child_exit, on_starting  # noqa: E402, F401
