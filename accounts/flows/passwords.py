"""Passwords: the rules, a change with step-up, the reset by email link."""

from __future__ import annotations

import dataclasses
import uuid

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django_tasks import task

from accounts.auth.revocation import credentials_revoke_all
from accounts.core import notifications
from accounts.core.account_state import account_open_or_none
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.events import security_event_log_and_count, security_event_record
from accounts.core.login_throttles import (
    login_attempt_reserve,
    login_failures_forget,
)
from accounts.core.mail import email_send
from accounts.core.security_changes import security_change_record
from accounts.core.tasks import delivery_run, task_enqueue
from accounts.core.validators import PASSWORD_COMPROMISED_CODE
from accounts.flows.login import password_failure_record
from accounts.flows.password_breaches import password_breach_fields_clear
from accounts.flows.unfreezing import account_unfreeze_record
from accounts.models import SecurityEvent, User, email_normalize
from config.logs import request_id_bound, request_id_var
from otp import services as otp_services

EventType = SecurityEvent.Type


def password_validate(*, password: str, user: User, field: str) -> None:
    """Every rule of AUTH_PASSWORD_VALIDATORS: 400 password_compromised when the password is known
    from a breach, else password_invalid, with every reason on `field`."""
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        compromised = any(item.code == PASSWORD_COMPROMISED_CODE for item in error.error_list)
        code = ErrorCode.PASSWORD_COMPROMISED if compromised else ErrorCode.PASSWORD_INVALID
        raise ServiceError(code, errors={field: list(error.messages)}) from error


# --- passwords ----------------------------------------------------------------------------


def _password_set(user: User, password: str, *, keep_session: object = None) -> None:
    """New password: tokens issued before stop working, sessions but `keep_session` end, no device is
    trusted; a security change."""
    user.set_password(password)
    user.password_changed_at = security_change_record(user=user)
    saving = ["password", "password_changed_at", *password_breach_fields_clear(user)]
    credentials_revoke_all(user=user, keep_session=keep_session, saving=saving)


def password_recheck(*, user: User, password: str, client: Client) -> None:
    """The signed-in user's password again, before a sensitive change: throttled and counted as a login
    failure (403 authentication_failed) when wrong."""
    login_attempt_reserve(email=user.email, ip=client.ip)
    if not user.check_password(password):
        raise password_failure_record(email=user.email, user=user, client=client)
    login_failures_forget(email=user.email)


def password_change(
    *,
    user: User,
    current_password: str,
    new_password: str,
    otp: str | None,
    client: Client,
    keep_session: object = None,
) -> User:
    """Current password, a valid new one and step-up when MFA is on; revokes every token.

    `keep_session`: the browser session the page changes the password from, which stays.
    """
    password_recheck(user=user, password=current_password, client=client)
    password_validate(password=new_password, user=user, field="newPassword")
    otp_services.step_up_verify(user=user, otp=otp, client=client)
    with transaction.atomic():
        _password_set(user, new_password, keep_session=keep_session)
        security_event_record(user=user, type=EventType.PASSWORD_CHANGED, client=client)
        notifications.password_changed_notify(user=user)
    return user


def password_reset_request(*, email: str, client: Client) -> None:
    """Email a single-use reset link if an account has `email`; the same answer either way.

    Everything, the lookup included, is a task run after the answer: the answer takes as
    long for an unknown email as for a known one.
    """
    task_enqueue(
        password_reset_link_send,
        delivery_id=str(uuid.uuid4()),
        email=email_normalize(email),
        client=dataclasses.asdict(client),
        request_id=request_id_var.get(),
    )


@task()
def password_reset_link_send(
    *, delivery_id: str, email: str, client: dict[str, str | None], request_id: str | None, attempt: int = 1
) -> str:
    """The task behind `password_reset_request`. The link is made when it is sent, never stored.
    The request is recorded by the first attempt (twice only if a worker dies within it)."""
    # A closed account is an unknown email: no link.
    user = account_open_or_none(User.objects.filter(email=email).first())
    if attempt == 1:
        with request_id_bound(request_id):
            if user is None:
                security_event_log_and_count(
                    type=EventType.PASSWORD_RESET_REQUESTED, user_id=None, client=Client(**client)
                )
            else:
                security_event_record(
                    user=user, type=EventType.PASSWORD_RESET_REQUESTED, client=Client(**client)
                )
    if user is None:
        return "no account"

    def send() -> None:
        email_send(
            to=user.email,
            language=user.language,
            template="password_reset",
            context={
                "uid": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
                "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
                "frozen": user.status == User.Status.FROZEN,
            },
            anti_phishing_code=user.anti_phishing_code,
        )

    return delivery_run(
        task=password_reset_link_send,
        arguments={
            "delivery_id": delivery_id,
            "email": email,
            "client": client,
            "request_id": request_id,
            "attempt": attempt,
        },
        kind="password_reset",
        send=send,
    )


def _password_reset_user(uid: str, token: str) -> User:
    try:
        user = User.objects.get(pk=int(force_str(urlsafe_base64_decode(uid))))
    except (ValueError, TypeError, OverflowError, User.DoesNotExist) as error:
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID, status=400) from error
    if user.is_closed or not default_token_generator.check_token(user, token):
        raise ServiceError(ErrorCode.TOKEN_NOT_VALID, status=400)
    return user


def password_reset_confirm(*, uid: str, token: str, new_password: str, client: Client) -> User:
    """Set a new password from an emailed link. It does not log in; a lock from failed codes lifts,
    a frozen account is ACTIVE again (its second factors kept)."""
    user = _password_reset_user(uid, token)
    password_validate(password=new_password, user=user, field="newPassword")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        _password_set(user, new_password)
        if user.status == User.Status.LOCKED:
            user.save(update_fields=user.lock_lift())
            security_event_record(
                user=user, type=EventType.ACCOUNT_UNLOCKED, client=client, details={"by": "password reset"}
            )
        if user.status == User.Status.FROZEN:
            account_unfreeze_record(user=user, client=client)
        security_event_record(user=user, type=EventType.PASSWORD_RESET, client=client)
        notifications.password_reset_notify(user=user)
    return user
