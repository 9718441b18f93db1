"""Security notifications: the email that tells a user what just happened to the account.

Services call these inside their transaction; the email leaves once it commits, so a
rolled-back change tells nobody, and a failed send is logged, never raised, because the
change it reports has already happened. No message carries a code, a secret or a token.

A factor counts as added once it is verified: an unconfirmed enrolment is not yet a way in.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction

from accounts.core.background import work_in_background
from accounts.core.mail import email_send
from accounts.models import User

logger = logging.getLogger(__name__)


def _notify(*, user: User, template: str, context: dict[str, Any] | None = None, to: str = "") -> None:
    """Email `user` (at `to` when given) with `templates/emails/<template>.*` once the current transaction commits."""
    to, user_id, language = to or user.email, user.pk, user.language
    context = context or {}

    def send() -> None:
        try:
            email_send(to=to, language=language, template=template, context=context)
        except Exception as error:  # noqa: BLE001 - the change is committed; a lost email must not undo the answer
            logger.error(
                "Notification %s for user %s was not sent: %s", template, user_id, error.__class__.__name__
            )

    # Rendered and sent after the commit, off the request's time (EMAIL_SEND_IN_BACKGROUND).
    transaction.on_commit(lambda: work_in_background(send))


def factor_added_notify(*, user: User, factor: str, phone: str = "", passkey: str = "") -> None:
    """`factor` is `TOTP`, `SMS` or `WEBAUTHN`; `phone` the obfuscated number of an SMS factor,
    `passkey` the name of a passkey."""
    _notify(
        user=user, template="factor_added", context={"factor": factor, "phone": phone, "passkey": passkey}
    )


def factor_removed_notify(*, user: User, factor: str, passkey: str = "") -> None:
    _notify(user=user, template="factor_removed", context={"factor": factor, "passkey": passkey})


def mfa_reset_notify(*, user: User) -> None:
    _notify(user=user, template="mfa_reset")


def mfa_reset_scheduled_notify(*, user: User, requested_by: str, due_at: datetime) -> None:
    """`requested_by` is a role, `support` or `operator`, never a name."""
    _notify(
        user=user, template="mfa_reset_scheduled", context={"requested_by": requested_by, "due_at": due_at}
    )


def mfa_reset_cancelled_notify(*, user: User, cancelled_by: str) -> None:
    """`cancelled_by` is `user` or `support`."""
    _notify(user=user, template="mfa_reset_cancelled", context={"cancelled_by": cancelled_by})


def recovery_codes_generated_notify(*, user: User) -> None:
    _notify(user=user, template="recovery_codes_generated")


def recovery_code_used_notify(*, user: User, remaining: int) -> None:
    _notify(user=user, template="recovery_code_used", context={"remaining": remaining})


def password_changed_notify(*, user: User) -> None:
    _notify(user=user, template="password_changed")


def password_reset_notify(*, user: User) -> None:
    _notify(user=user, template="password_reset_done")


def second_factor_failures_notify(*, user: User, failures: int) -> None:
    """The password was right but the codes keep failing: someone may know the password."""
    _notify(user=user, template="second_factor_failures", context={"failures": failures})


def account_locked_notify(*, user: User, until: datetime | None) -> None:
    _notify(user=user, template="account_locked", context={"until": until})


def account_unlocked_notify(*, user: User) -> None:
    _notify(user=user, template="account_unlocked")


def account_blocked_notify(*, user: User) -> None:
    _notify(user=user, template="account_blocked")


def account_unblocked_notify(*, user: User) -> None:
    _notify(user=user, template="account_unblocked")


def tokens_revoked_notify(*, user: User) -> None:
    """Support signed the account out everywhere (the user's own logout-all is not told)."""
    _notify(user=user, template="tokens_revoked")


def email_changed_notify(*, user: User, old_email: str, new_email_shown: str) -> None:
    """To the address the account had: its email is now `new_email_shown` (obfuscated)."""
    _notify(user=user, to=old_email, template="email_changed", context={"new_email": new_email_shown})


def password_compromised_notify(*, user: User) -> None:
    """The password of a login was found in a breach: change it (sent once per password)."""
    _notify(user=user, template="password_compromised")


def account_closed_notify(*, user: User, retention_days: int) -> None:
    _notify(user=user, template="account_closed", context={"retention_days": retention_days})


def account_reopened_notify(*, user: User) -> None:
    _notify(user=user, template="account_reopened")
