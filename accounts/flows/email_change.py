"""Changing the email address: asked with the password (and step-up), proven by a code sent to the new
address, then every token revoked and the old address told.

Nothing tells whether the new address already has an account (SECURITY.md 28): the request answers
the same, takes the same steps and sends one email either way; to a taken address's owner it is a
notice instead of a code, so the change can never be confirmed. The pending change lives on the
user row (`pending_email`, `pending_email_until`) and its code, as every emailed code does, on the
user's email code device, HMAC'd and bound to its purpose (otp.services). At confirmation the
unique constraint on the email decides a race: of two accounts confirming one address, one wins
and the other gets 400 email_taken.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.auth.revocation import credentials_revoke_all
from accounts.core import notifications
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.events import security_event_record
from accounts.core.security_changes import security_change_record
from accounts.flows.passwords import password_recheck
from accounts.models import SecurityEvent, User, email_normalize, email_obfuscate
from otp import services as otp_services

EventType = SecurityEvent.Type
PENDING_FIELDS = {"pending_email": "", "pending_email_until": None}


def email_change_request(
    *, user: User, new_email: str, password: str, otp: str | None, client: Client
) -> User:
    """`POST /auth/me/email`: a code to `new_email`, or to its owner a notice; the user with the change pending.

    The same address as now is refused first (400), then the password (403), then step-up.
    """
    new_email = email_normalize(new_email)
    if new_email == user.email:
        raise ServiceError(
            ErrorCode.VALIDATION_ERROR,
            errors={"newEmail": [_("This is already the email of your account.")]},
        )
    password_recheck(user=user, password=password, client=client)
    otp_services.step_up_verify(user=user, otp=otp, client=client)
    owner = User.objects.filter(email=new_email).exclude(pk=user.pk).only("email", "language").first()
    with transaction.atomic():
        # The pending address first: the task that sends the code checks it is still the one.
        valid_until = timezone.now() + timedelta(seconds=settings.OTP_CODE_VALIDITY_SECONDS)
        User.objects.filter(pk=user.pk).update(pending_email=new_email, pending_email_until=valid_until)
        user.pending_email, user.pending_email_until = new_email, valid_until
        # One task either way, after the commit: the same answer, in the same time.
        otp_services.email_change_code_send(user=user, new_email=new_email, deliver=owner is None)
        if owner is not None:
            notifications.email_change_attempt_notify(owner=owner)
        security_event_record(
            user=user,
            type=EventType.EMAIL_CHANGE_REQUESTED,
            client=client,
            details={"newEmail": email_obfuscate(new_email)},
        )
    return user


def email_change_confirm(*, user: User, code: str, client: Client, keep_session: object = None) -> User:
    """`POST /auth/me/email/confirm`: the pending address becomes the verified email; every token is revoked.

    None pending or expired: 400 token_not_valid; a wrong code: 403 otp_invalid (counted); the address
    taken meanwhile: 400 email_taken, and the change is dropped. `keep_session`: the browser session a
    page confirms from, which stays.
    """
    if not user.email_change_pending():
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID, status=400)
    outcome: dict[str, bool] = {}

    def change(locked: User) -> None:
        new_email, old_email, now = locked.email_change_pending(), locked.email, timezone.now()
        if not new_email:  # cancelled or expired while this request waited for the lock
            outcome["gone"] = True
            return
        try:
            with transaction.atomic():
                User.objects.filter(pk=locked.pk).update(
                    email=new_email, email_verified_at=now, **PENDING_FIELDS
                )
        except IntegrityError:
            User.objects.filter(pk=locked.pk).update(**PENDING_FIELDS)
            outcome["taken"] = True
            return
        locked.email, locked.email_verified_at = new_email, now
        locked.pending_email, locked.pending_email_until = "", None
        security_event_record(
            user=locked,
            type=EventType.EMAIL_CHANGED,
            client=client,
            details={"from": email_obfuscate(old_email), "to": email_obfuscate(new_email)},
        )
        # Every token revoked, as after a password change (and recorded as one: EMAIL_CHANGED).
        credentials_revoke_all(user=locked, keep_session=keep_session)
        security_change_record(user=locked)
        notifications.email_changed_notify(
            user=locked, old_email=old_email, new_email_shown=email_obfuscate(new_email)
        )

    changed = otp_services.email_change_code_verify(user=user, code=code, client=client, change=change)
    if outcome.get("taken"):
        raise ServiceError(ErrorCode.EMAIL_TAKEN)
    if outcome.get("gone"):
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID, status=400)
    return changed


@transaction.atomic
def email_change_cancel(
    *,
    user: User,
    client: Client,
    actor: SecurityEvent.Actor = SecurityEvent.Actor.USER,
    missing_ok: bool = False,
) -> bool:
    """Drop the pending change and its code; whether one was pending.

    `DELETE /auth/me/email` (404 not_found when none); freezing or closing the account calls it with
    `missing_ok` and its own actor.
    """
    locked = User.objects.select_for_update().only("pending_email", "pending_email_until").get(pk=user.pk)
    pending = locked.email_change_pending()
    User.objects.filter(pk=user.pk).exclude(pending_email="").update(**PENDING_FIELDS)  # an expired one too
    if not pending:
        if missing_ok:
            return False
        raise ServiceError(ErrorCode.NOT_FOUND, detail=_("No change of email is pending."))
    user.pending_email, user.pending_email_until = "", None
    otp_services.email_change_code_discard(user=user)
    security_event_record(
        user=user,
        type=EventType.EMAIL_CHANGE_CANCELLED,
        client=client,
        actor=actor,
        details={"newEmail": email_obfuscate(pending)},
    )
    return True
