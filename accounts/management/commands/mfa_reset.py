"""`manage.py mfa_reset EMAIL --reason "..."`: the admin's "reset second factors", for operators.

It runs the same service as the admin action, so it schedules the reset: it takes effect
after `SUPPORT_MFA_RESET_DELAY_SECONDS`, the user is emailed at once and may cancel it.
There is no `--now`: applying one at once is the admin's "Reset now", under its own
permission. An operator at the command line is not a staff account, so the audit trail
records the SYSTEM actor with the reason given; put who you are and the ticket in the reason.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.core.errors import ServiceError
from accounts.flows import support
from accounts.models import User, email_normalize


class Command(BaseCommand):
    help = (
        "Schedule the removal of the authenticator app, phone and recovery codes of an account (and "
        "signing it out everywhere) after SUPPORT_MFA_RESET_DELAY_SECONDS; the user is told by email "
        "at once and may cancel it. Recorded with the SYSTEM actor and the reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="The account's email.")
        parser.add_argument(
            "--reason", required=True, help="Why, with your name and the ticket: it goes to the audit trail."
        )

    def handle(self, *args: Any, email: str, reason: str, **options: Any) -> None:
        user = User.objects.filter(email=email_normalize(email)).first()
        if user is None:
            raise CommandError(f"No account has the email {email!r}.")
        try:
            user = support.mfa_reset_schedule(user=user, staff_member=None, reason=reason)
        except ServiceError as error:
            field_messages = [message for messages in (error.errors or {}).values() for message in messages]
            raise CommandError("; ".join(field_messages) or error.detail) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Reset of the second factors of {user.email} scheduled for "
                f"{user.mfa_reset_due_at:%Y-%m-%d %H:%M %Z}; the user is told by email."
            )
        )
