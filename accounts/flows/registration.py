"""Sign-up and the account's language."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.db import IntegrityError, transaction
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

    Before the answer, both paths do the same work: validate and hash the password, enqueue one
    task. Whether the email is taken is looked up by that task, after the answer, with what
    differs (the account and its code, or the owner's notice), so neither the answer nor its
    time says whether the email was known.
    """
    email = email_normalize(email)
    password_validate(password=password, user=User(email=email), field="password")
    task_enqueue(
        user_create_or_owner_notify,
        email=email,
        password_hash=make_password(password),
        client=dataclasses.asdict(client),
        request_id=request_id_var.get(),
    )


@task()
def user_create_or_owner_notify(
    *, email: str, password_hash: str, client: dict[str, str | None], request_id: str | None
) -> str:
    """The task behind `user_register`: a new email's account and code, or a taken email's notice."""
    signed_up_from = Client(**client)
    with request_id_bound(request_id):
        owner = User.objects.filter(email=email).values_list("language", "anti_phishing_code").first()
        owner_language, owner_code = owner if owner is not None else (None, "")
        if owner_language is None:
            try:
                with transaction.atomic():
                    user = User.objects.create_user(
                        email,
                        password_hash=password_hash,  # hashed before the answer, as for a taken email
                        last_login_device=signed_up_from.user_agent,
                        language=signed_up_from.language or settings.LANGUAGE_CODE,
                    )
                    security_event_record(user=user, type=EventType.SIGNED_UP, client=signed_up_from)
                    new_device_remember(user=user, client=signed_up_from)
                    otp_services.email_verification_code_send(user=user)
                return "created"
            except IntegrityError:
                # Registered concurrently: as for a taken email.
                owner_language = signed_up_from.language or settings.LANGUAGE_CODE
        task_enqueue(
            signup_attempt_notify,
            delivery_id=str(uuid.uuid4()),
            email=email,
            language=owner_language,
            anti_phishing_code=owner_code,
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
