"""Sign-up and the account's language."""

from __future__ import annotations

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
from otp import services as otp_services

EventType = SecurityEvent.Type

# --- sign-up ----------------------------------------------------------------------------------


def user_register(*, email: str, password: str, client: Client) -> None:
    """Create the account and email a verification code; for a taken email, tell its owner.

    Both paths validate, hash and enqueue one email, so the answer and its timing do not
    say whether the email was known; what differs (the cool-down of the notice) is done by
    the task, after the answer.
    """
    email = email_normalize(email)
    password_validate(password=password, user=User(email=email), field="password")
    owner = User.objects.filter(email=email).values_list("language", "anti_phishing_code").first()
    owner_language, owner_code = owner if owner is not None else (None, "")
    if owner_language is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    email,
                    password,
                    last_login_device=client.user_agent,
                    language=client.language or settings.LANGUAGE_CODE,
                )
                security_event_record(user=user, type=EventType.SIGNED_UP, client=client)
                new_device_remember(user=user, client=client)
                otp_services.email_verification_code_send(user=user)
            return
        except IntegrityError:
            # Registered concurrently: answer as for a taken email.
            owner_language = client.language or settings.LANGUAGE_CODE
    make_password(password)
    task_enqueue(
        signup_attempt_notify,
        delivery_id=str(uuid.uuid4()),
        email=email,
        language=owner_language,
        anti_phishing_code=owner_code,
    )


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
