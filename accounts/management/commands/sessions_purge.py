"""`manage.py sessions_purge`: delete the rows of expired and ended sessions and trusted devices (cron-safe)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.auth.sessions import sessions_purge
from accounts.auth.trusted_devices import trusted_devices_purge


class Command(BaseCommand):
    help = (
        "Delete expired or ended sessions and expired or revoked trusted devices. "
        "Idempotent: run it from cron as often as you like."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--keep-ended-days",
            type=int,
            default=0,
            help="Keep sessions ended and devices revoked within this many days (default 0: delete them now).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        keep = timedelta(days=options["keep_ended_days"])
        sessions = sessions_purge(keep_ended_for=keep)
        devices = trusted_devices_purge(keep_revoked_for=keep)
        self.stdout.write(f"Deleted {sessions} sessions and {devices} trusted devices.")
