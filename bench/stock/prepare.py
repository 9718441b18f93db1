"""`python -m bench.stock.prepare`: the stock app's database emptied, its users made, their prepared requests written.

Runs in its own process with `DJANGO_SETTINGS_MODULE=bench.stock.settings` (bench.stock_app
starts it): the stock app and the service never share a Django configuration.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import django

PASSWORD = "bench password, long enough to be fine"  # noqa: S105 - throwaway users of a throwaway database


def database_prepare() -> None:
    from django.core.management import call_command
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if "bench" not in name:
        raise SystemExit(f"Refusing to use database {name!r} for benchmarks: its name must contain 'bench'.")
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE DATABASE {connection.ops.quote_name(name)}")
    call_command("migrate", interactive=False, verbosity=0)
    call_command("flush", interactive=False, verbosity=0)


def _json(**body: str) -> str:
    return json.dumps(body, separators=(",", ":"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=64, help="users, each its own request line")
    parser.add_argument("--dir", type=Path, required=True, help="where the .lines files go")
    arguments = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.stock.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from rest_framework_simplejwt.tokens import RefreshToken

    from bench.load import RequestLine, lines_write

    database_prepare()
    user_model = get_user_model()
    password_hash = make_password(PASSWORD)
    users = user_model.objects.bulk_create(
        [
            user_model(username=f"stock-{n}", email=f"stock-{n}@bench.example", password=password_hash)
            for n in range(arguments.count)
        ]
    )
    tokens = [RefreshToken.for_user(user) for user in users]
    lines_write(
        arguments.dir / "stock-login.lines",
        [RequestLine(body=_json(username=user.username, password=PASSWORD)) for user in users],
    )
    lines_write(
        arguments.dir / "stock-refresh.lines",
        [RequestLine(body=_json(refresh=str(token))) for token in tokens],
    )
    lines_write(
        arguments.dir / "stock-me.lines",
        [RequestLine(authorization=f"Bearer {token.access_token}") for token in tokens],
    )


if __name__ == "__main__":
    main()
