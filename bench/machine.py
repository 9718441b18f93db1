"""A description of the machine and software a benchmark ran on, for the report."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from importlib.metadata import version
from pathlib import Path

from django.core.cache import cache
from django.db import connection


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    match = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    return int(match.group(1)) / 1024 / 1024 if match else 0.0


def _postgres_version() -> str:
    if connection.vendor != "postgresql":
        return connection.vendor
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


def _redis_version() -> str:
    client = getattr(cache, "_cache", None)
    try:
        return f"Redis {client.get_client().info('server')['redis_version']}"
    except AttributeError:
        return type(cache).__name__


def _wrk_version() -> str:
    try:
        answer = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)  # noqa: S607
    except FileNotFoundError:
        return "wrk not installed"
    return (answer.stdout or answer.stderr).splitlines()[0].split(" Copyright")[0].strip()


def machine_description() -> list[tuple[str, str]]:
    packages = ", ".join(
        f"{name} {version(name)}"
        for name in (
            "Django",
            "djangorestframework",
            "djangorestframework_simplejwt",
            "PyJWT",
            "cryptography",
            "argon2-cffi",
            "gunicorn",
            "psycopg",
        )
    )
    return [
        ("CPU", f"{_cpu_model()}, `nproc` = {os.cpu_count()}"),
        ("RAM", f"{_memory_gib():.1f} GiB"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("Packages", packages),
        ("Services", f"{_postgres_version()}, {_redis_version()} (both on this machine)"),
        ("Load generator", _wrk_version()),
    ]
