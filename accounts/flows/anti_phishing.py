"""The anti-phishing code: a word the user picks that every genuine email shows at the top.

Setting, changing and removing it are sensitive changes (step-up, as for a factor): an
attacker in the account could otherwise set the word and imitate our emails. Each is
recorded, a security change, and emailed with the freeze link. The code itself is never
written to the audit trail or the logs.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.core import notifications
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.events import security_event_record
from accounts.core.security_changes import security_change_record
from accounts.models import SecurityEvent, User
from otp import services as otp_services

CODE_MIN_LENGTH, CODE_MAX_LENGTH = 4, 20
CODE_PATTERN = re.compile(rf"[A-Za-z0-9]{{{CODE_MIN_LENGTH},{CODE_MAX_LENGTH}}}")
CODE_RULE = _("4 to 20 letters (A-Z, a-z) and digits, nothing else.")


def anti_phishing_code_validate(code: str, *, field: str = "code") -> str:
    """`code` if it is 4 to 20 ASCII letters and digits; else 400 validation_error on `field`."""
    if not CODE_PATTERN.fullmatch(code):
        raise ServiceError(ErrorCode.VALIDATION_ERROR, errors={field: [str(CODE_RULE)]})
    return code


def _change_record(*, user: User, action: str, client: Client) -> None:
    security_event_record(
        user=user,
        type=SecurityEvent.Type.ANTI_PHISHING_CODE_CHANGED,
        client=client,
        details={"action": action},
    )
    security_change_record(user=user)
    notifications.anti_phishing_code_changed_notify(user=user, action=action)


def anti_phishing_code_set(*, user: User, code: str, otp: str | None, client: Client) -> User:
    """Set or change the code, with step-up when the account has a verified factor."""
    code = anti_phishing_code_validate(code)
    otp_services.step_up_verify(user=user, otp=otp, client=client)
    with transaction.atomic():
        action = "changed" if user.anti_phishing_code else "set"
        user.anti_phishing_code = code
        User.objects.filter(pk=user.pk).update(anti_phishing_code=code)
        _change_record(user=user, action=action, client=client)
    return user


def anti_phishing_code_remove(*, user: User, otp: str | None, client: Client) -> User:
    """Remove the code (404 not_found when none is set), with step-up like setting it."""
    if not user.anti_phishing_code:
        raise ServiceError(ErrorCode.NOT_FOUND, detail=_("No anti-phishing code is set."))
    otp_services.step_up_verify(user=user, otp=otp, client=client)
    with transaction.atomic():
        user.anti_phishing_code = ""
        User.objects.filter(pk=user.pk).update(anti_phishing_code="")
        _change_record(user=user, action="removed", client=client)
    return user
