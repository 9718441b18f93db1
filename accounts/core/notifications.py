"""Security notifications: the email that tells a user what just happened to the account.

Services call these inside their transaction; the email is a task of that transaction
(accounts/core/tasks.py), so a rolled-back change tells nobody, a committed one always
tells, and the answer never waits for SMTP. A failed send is tried again; it is never
raised to the request, because the change it reports has already happened. No message
carries a code, a secret or a token that lets anyone in; the one link token, in the "a reset
is scheduled" email, can only cancel that reset.

A factor counts as added once it is verified: an unconfirmed enrolment is not yet a way in.
Every security notice (`SECURITY_NOTICES`) carries a freeze link, made with the notice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django_tasks import task

from accounts.core.freeze_links import freeze_link_url
from accounts.core.mail import email_send
from accounts.core.tasks import delivery_run, task_enqueue
from accounts.models import User


def _context_to_json(context: dict[str, Any]) -> dict[str, Any]:
    """A template context as task arguments: datetimes as ISO strings under `<name>__datetime`."""
    return {
        f"{name}__datetime" if isinstance(value, datetime) else name: (
            value.isoformat() if isinstance(value, datetime) else value
        )
        for name, value in context.items()
    }


def _context_from_json(arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        name.removesuffix("__datetime"): (
            datetime.fromisoformat(value) if name.endswith("__datetime") else value
        )
        for name, value in arguments.items()
    }


@task()
def notification_email_send(
    *,
    delivery_id: str,
    to: str,
    language: str,
    template: str,
    context: dict[str, Any],
    anti_phishing_code: str = "",
    attempt: int = 1,
) -> str:
    """The task that sends one notification, once (`delivery_run`). `anti_phishing_code` is the
    user's when the notice was made (empty for a task queued before the code existed)."""
    return delivery_run(
        task=notification_email_send,
        arguments={
            "delivery_id": delivery_id,
            "to": to,
            "language": language,
            "template": template,
            "context": context,
            "anti_phishing_code": anti_phishing_code,
            "attempt": attempt,
        },
        kind=template,
        send=lambda: email_send(
            to=to,
            language=language,
            template=template,
            context=_context_from_json(context),
            anti_phishing_code=anti_phishing_code,
        ),
    )


# The emails that say something changed that only the owner should change, or that someone
# may be in the account: each carries "This wasn't me: freeze my account" (API.md, "Freezing").
SECURITY_NOTICES = frozenset(
    {
        "new_device_login",
        "password_changed",
        "password_reset_done",
        "factor_added",
        "factor_removed",
        "recovery_codes_generated",
        "recovery_code_used",
        "anti_phishing_code_changed",
        "second_factor_failures",
        "password_compromised",
        "email_changed",
    }
)


def _notify(*, user: User, template: str, context: dict[str, Any] | None = None, to: str = "") -> None:
    """Email `user` (at `to` when given) with `templates/emails/<template>.*` if the current transaction
    commits; a security notice carries a fresh freeze link."""
    if template in SECURITY_NOTICES:
        context = {**(context or {}), "freeze_url": freeze_link_url(user)}
    task_enqueue(
        notification_email_send,
        delivery_id=str(uuid.uuid4()),
        to=to or user.email,
        language=user.language,
        template=template,
        context=_context_to_json(context or {}),
        anti_phishing_code=user.anti_phishing_code,
    )


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


def mfa_reset_scheduled_notify(*, user: User, requested_by: str, due_at: datetime, cancel_token: str) -> None:
    """`requested_by` is a role, `support` or `operator`, never a name; `cancel_token` signs the
    email's "This wasn't me: cancel the reset" link (a link that only protects, never a secret)."""
    _notify(
        user=user,
        template="mfa_reset_scheduled",
        context={"requested_by": requested_by, "due_at": due_at, "cancel_token": cancel_token},
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


def new_device_login_notify(*, user: User, when: datetime, device: str, ip: str | None) -> None:
    """A sign-in from a device the account has not used (accounts.auth.new_devices)."""
    _notify(user=user, template="new_device_login", context={"when": when, "device": device, "ip": ip or ""})


def account_frozen_notify(*, user: User) -> None:
    _notify(user=user, template="account_frozen")


def account_unfrozen_notify(*, user: User) -> None:
    _notify(user=user, template="account_unfrozen")


def anti_phishing_code_changed_notify(*, user: User, action: str) -> None:
    """`action` is `set`, `changed` or `removed`; a set or changed code shows at the top of this email."""
    _notify(user=user, template="anti_phishing_code_changed", context={"action": action})


def email_change_attempt_notify(*, owner: User) -> None:
    """Someone asked to move another account to `owner`'s address: nothing changed, no code was sent."""
    _notify(user=owner, template="email_change_attempt", context={"email": owner.email})


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
