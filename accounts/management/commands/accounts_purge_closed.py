"""`manage.py accounts_purge_closed`: delete the accounts closed more than ACCOUNT_CLOSED_RETENTION_DAYS ago (cron-safe)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.flows.closing import accounts_purge_closed


class Command(BaseCommand):
    help = (
        "Delete every account closed more than ACCOUNT_CLOSED_RETENTION_DAYS ago, with its devices, passkeys "
        "and sessions; its security events stay without IP address or User-Agent. Idempotent and safe to run "
        "twice at once: run it from cron daily."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        purged = accounts_purge_closed()
        days = settings.ACCOUNT_CLOSED_RETENTION_DAYS
        self.stdout.write(f"Deleted {purged} account(s) closed more than {days} days ago.")
