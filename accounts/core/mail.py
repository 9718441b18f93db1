"""Transactional email: a plain-text and an HTML template per message."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.core.errors import ErrorCode, ServiceError

logger = logging.getLogger(__name__)


def email_send(
    *, to: str, language: str, template: str, context: dict[str, Any], anti_phishing_code: str
) -> None:
    """Render `templates/emails/<template>.{subject.txt,txt,html}` in `language` and send it to `to`.

    The language is the recipient's, not the request's: a Spanish user gets Spanish email
    whatever language the request that caused it asked for. `anti_phishing_code` is the
    recipient's (empty when none): every template extends `emails/base.txt` and
    `emails/base.html`, which show it at the top, so a caller must say it and no email can leave it out.
    """
    context = {
        "service_name": settings.SERVICE_NAME,
        "base_url": settings.PUBLIC_BASE_URL,
        **context,
        "anti_phishing_code": anti_phishing_code,
    }
    with translation.override(language):
        subject = render_to_string(f"emails/{template}.subject.txt", context).strip()
        message = EmailMultiAlternatives(
            subject=subject,
            body=render_to_string(f"emails/{template}.txt", context),
            to=[to],
        )
        html = render_to_string(f"emails/{template}.html", {**context, "language": language})
        message.attach_alternative(html, "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as error:
        logger.warning("Email %s could not be sent: %s", template, error.__class__.__name__)
        raise ServiceError(
            ErrorCode.SERVICE_UNAVAILABLE, detail=_("Email cannot be sent right now. Try again later.")
        ) from error
