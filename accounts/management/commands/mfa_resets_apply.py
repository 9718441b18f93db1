"""`manage.py mfa_resets_apply`: apply every scheduled MFA reset whose time has come.

Resets also take effect by themselves at the next login or code check of their account;
this sweep makes them happen on time for accounts nobody uses. Safe to run from cron at
any interval, and twice at once.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from otp.services.mfa_reset_apply import mfa_resets_apply_due


class Command(BaseCommand):
    help = "Apply every scheduled MFA reset that is due (idempotent; safe to run from cron)."

    def handle(self, *args: Any, **options: Any) -> None:
        applied = mfa_resets_apply_due()
        self.stdout.write(self.style.SUCCESS(f"{applied} scheduled MFA reset(s) applied."))
