"""The stock app's gunicorn: its defaults (sync workers, which close the connection after each answer).

Only the worker count is set, to the service's (one per core), so both sides have the same processes.
"""

from __future__ import annotations

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
backlog = 2048
