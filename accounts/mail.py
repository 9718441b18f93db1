"""Transactional email: a plain-text and an HTML template per message."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from .errors import ErrorCode, ServiceError

logger = logging.getLogger(__name__)


def email_send(*, to: str, template: str, context: dict[str, Any]) -> None:
    """Render `templates/emails/<template>.{subject.txt,txt,html}` and send it to `to`."""
    context = {"service_name": settings.SERVICE_NAME, "base_url": settings.PUBLIC_BASE_URL, **context}
    subject = render_to_string(f"emails/{template}.subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{template}.txt", context),
        to=[to],
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as error:
        logger.warning("Email %s could not be sent: %s", template, error.__class__.__name__)
        raise ServiceError(
            ErrorCode.SERVICE_UNAVAILABLE, detail="Email cannot be sent right now. Try again later."
        ) from error
