"""Sign-up and the account's language."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from datetime import datetime

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from accounts.auth.new_devices import new_device_remember
from accounts.core.client import Client
from accounts.core.events import security_event_record
from accounts.core.mail import email_send
from accounts.core.tasks import delivery_run, task_enqueue
from accounts.flows.passwords import password_validate
from accounts.models import SecurityEvent, User, email_normalize
from config.logs import request_id_bound, request_id_var
from otp import services as otp_services

EventType = SecurityEvent.Type

# --- sign-up ----------------------------------------------------------------------------------


def user_register(*, email: str, password: str, client: Client) -> None:
    """Create the account and email a verification code; for a taken email, tell its owner.

    Before the answer both paths do the same work: validate and hash the password, run one
    INSERT that creates the account when the email is free and does nothing when it is taken
    (so the client can log in as soon as it has the answer), and enqueue one task. The task
    tells the two apart by the sign-up time it was given, after the answer, and does what
    differs (the account's code and first known place, or the owner's notice): neither the
    answer nor its time says whether the email was known.
    """
    email = email_normalize(email)
    password_validate(password=password, user=User(email=email), field="password")
    joined_at = timezone.now()
    account = User.objects.user_new(
        email,
        password=make_password(password),
        date_joined=joined_at,
        last_login=joined_at,
        password_changed_at=joined_at,
        last_login_device=client.user_agent,
        language=client.language or settings.LANGUAGE_CODE,
    )
    with transaction.atomic():  # an account is never left without the task that sends its code
        User.objects.bulk_create([account], ignore_conflicts=True)
        task_enqueue(
            signup_complete_or_owner_notify,
            email=email,
            joined_at=joined_at.isoformat(),
            client=dataclasses.asdict(client),
            request_id=request_id_var.get(),
        )


@task()
def signup_complete_or_owner_notify(
    *, email: str, joined_at: str, client: dict[str, str | None], request_id: str | None
) -> str:
    """The task behind `user_register`: the account this sign-up made gets its event, its first
    known place and its verification code; an account made before it, its owner's notice."""
    signed_up_from = Client(**client)
    with request_id_bound(request_id):
        user = User.objects.filter(email=email).first()
        if user is None:  # closed and purged since: nobody to tell
            return "gone"
        if user.date_joined == datetime.fromisoformat(joined_at):
            with transaction.atomic():
                security_event_record(user=user, type=EventType.SIGNED_UP, client=signed_up_from)
                new_device_remember(user=user, client=signed_up_from)
                otp_services.email_verification_code_send(user=user)
            return "created"
        task_enqueue(
            signup_attempt_notify,
            delivery_id=str(uuid.uuid4()),
            email=email,
            language=user.language,
            anti_phishing_code=user.anti_phishing_code,
        )
        return "taken"


@task()
def signup_attempt_notify(
    *, delivery_id: str, email: str, language: str, anti_phishing_code: str = "", attempt: int = 1
) -> str:
    """Tell the owner of a taken email that someone tried to sign up with it, at most once per
    `SIGNUP_ATTEMPT_NOTICE_COOLDOWN_SECONDS`: repeated sign-ups must not flood their inbox."""
    key = "signup-attempt-notice:" + hashlib.sha256(email.encode()).hexdigest()
    # The cool-down starts with the first attempt; a retry of the same notice is not held by it.
    if attempt == 1 and not cache.add(key, 1, timeout=settings.SIGNUP_ATTEMPT_NOTICE_COOLDOWN_SECONDS):
        return "cooling down"
    return delivery_run(
        task=signup_attempt_notify,
        arguments={
            "delivery_id": delivery_id,
            "email": email,
            "language": language,
            "anti_phishing_code": anti_phishing_code,
            "attempt": attempt,
        },
        kind="signup_attempt",
        send=lambda: email_send(
            to=email,
            language=language,
            template="signup_attempt",
            context={"email": email},
            anti_phishing_code=anti_phishing_code,
        ),
    )


def user_language_set(*, user: User, language: str) -> User:
    """The language of what is sent to `user` outside a request (notifications, support actions)."""
    user.language = language
    User.objects.filter(pk=user.pk).update(language=language)
    return user
