"""CPU time spent by the processes that serve a request: the gunicorn workers and their PostgreSQL backends.

Other work on the machine slows wall-clock rates down but does not add to these processes'
CPU time, so CPU per request compares endpoints even on a busy machine.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.db import connection

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User plus system time of `pid` so far; 0 for a process that has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:
        return 0.0
    # After the command name: state is field 3, utime 14 and stime 15 (proc(5)).
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def database_backend_pids(database: str | None = None) -> list[int]:
    """The PostgreSQL backends of other connections to `database` (default: ours), the workers'."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = coalesce(%s, current_database()) "
            "AND pid <> pg_backend_pid()",
            [database],
        )
        return [row[0] for row in cursor.fetchall()]


def cpu_seconds(pids: list[int]) -> float:
    return sum(process_cpu_seconds(pid) for pid in pids)
