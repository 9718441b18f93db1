"""Every refusal the service can give, under a stable code, in one place.

Services raise `ServiceError`; the API turns it into `{code, detail, ...}` and the pages
into a message. Codes are API; the text may change, and is translated (a lazy translation,
rendered in the language of the request that shows it).
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

from django.utils.translation import gettext_lazy as _

StrOrPromise = Any  # a str, or a lazy translation rendered in the language active when it is shown


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "validation_error"
    PASSWORD_INVALID = "password_invalid"
    PASSWORD_COMPROMISED = "password_compromised"
    EMAIL_TAKEN = "email_taken"
    AUTHENTICATION_FAILED = "authentication_failed"
    LOGIN_THROTTLED = "login_throttled"
    ACCOUNT_BLOCKED = "account_blocked"
    ACCOUNT_LOCKED = "account_locked"
    ACCOUNT_FROZEN = "account_frozen"
    TOKEN_NOT_VALID = "token_not_valid"
    OTP_REQUIRED = "otp_required"
    OTP_INVALID = "otp_invalid"
    OTP_THROTTLED = "otp_throttled"
    OTP_ATTEMPTS_EXHAUSTED = "otp_attempts_exhausted"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    PHONE_INVALID = "phone_invalid"
    COUNTRY_NOT_ALLOWED = "country_not_allowed"
    SMS_ALREADY_CONFIGURED = "sms_already_configured"
    SMS_NOT_CONFIGURED = "sms_not_configured"
    TOTP_ALREADY_CONFIGURED = "totp_already_configured"
    TOTP_NOT_CONFIGURED = "totp_not_configured"
    CHANNEL_NOT_CONFIGURED = "channel_not_configured"
    CHANNEL_ALREADY_VERIFIED = "channel_already_verified"
    MFA_NOT_ENABLED = "mfa_not_enabled"
    SMS_UNAVAILABLE = "sms_unavailable"
    SERVICE_UNAVAILABLE = "service_unavailable"
    WEBAUTHN_INVALID = "webauthn_invalid"
    CHALLENGE_INVALID = "challenge_invalid"
    NOT_FOUND = "not_found"


ERROR_CATALOGUE: dict[ErrorCode, tuple[int, StrOrPromise]] = {
    ErrorCode.VALIDATION_ERROR: (400, _("The request is not valid.")),
    ErrorCode.PASSWORD_INVALID: (400, _("This password cannot be used.")),
    ErrorCode.PASSWORD_COMPROMISED: (
        400,
        _("This password appears in a known data breach. Choose another one."),
    ),
    ErrorCode.EMAIL_TAKEN: (400, _("This email address is already in use. The email was not changed.")),
    ErrorCode.AUTHENTICATION_FAILED: (403, _("The email or the password is not correct.")),
    ErrorCode.LOGIN_THROTTLED: (429, _("Too many failed sign-in attempts. Try again later.")),
    ErrorCode.ACCOUNT_BLOCKED: (403, _("This account is blocked. Contact support.")),
    ErrorCode.ACCOUNT_LOCKED: (
        403,
        _("This account is locked after too many failed codes. Wait, reset the password or contact support."),
    ),
    ErrorCode.ACCOUNT_FROZEN: (
        403,
        _("This account is frozen to protect it. To use it again, reset your password."),
    ),
    ErrorCode.TOKEN_NOT_VALID: (403, _("The token is not valid.")),
    ErrorCode.OTP_REQUIRED: (403, _("A second factor is required: send a code in the x-otp header.")),
    ErrorCode.OTP_INVALID: (403, _("The one-time code is missing, wrong, expired or already used.")),
    ErrorCode.OTP_THROTTLED: (429, _("Too many wrong codes. Wait before trying again.")),
    ErrorCode.OTP_ATTEMPTS_EXHAUSTED: (
        429,
        _("A code was sent recently or too many were sent. Wait before asking again."),
    ),
    ErrorCode.METHOD_NOT_ALLOWED: (400, _("This method is not set up for the account.")),
    ErrorCode.PHONE_INVALID: (400, _("This is not a valid mobile number for the country given.")),
    ErrorCode.COUNTRY_NOT_ALLOWED: (400, _("Text messages cannot be sent to this country.")),
    ErrorCode.SMS_ALREADY_CONFIGURED: (400, _("A verified phone is already set up. Remove it first.")),
    ErrorCode.SMS_NOT_CONFIGURED: (400, _("No phone is set up.")),
    ErrorCode.TOTP_ALREADY_CONFIGURED: (
        400,
        _("A verified authenticator app is already set up. Remove it first."),
    ),
    ErrorCode.TOTP_NOT_CONFIGURED: (400, _("No authenticator app is set up.")),
    ErrorCode.CHANNEL_NOT_CONFIGURED: (400, _("This channel is not set up.")),
    ErrorCode.CHANNEL_ALREADY_VERIFIED: (400, _("This channel is already verified.")),
    ErrorCode.MFA_NOT_ENABLED: (400, _("Set up an authenticator app or a phone first.")),
    ErrorCode.SMS_UNAVAILABLE: (503, _("Text messages cannot be sent right now. Try again later.")),
    ErrorCode.SERVICE_UNAVAILABLE: (503, _("The service is temporarily unavailable.")),
    # 403 at login, second factor and step-up; registration answers it with 400.
    ErrorCode.WEBAUTHN_INVALID: (403, _("The passkey could not be verified.")),
    ErrorCode.CHALLENGE_INVALID: (400, _("The challenge is unknown, expired or already used. Start again.")),
    ErrorCode.NOT_FOUND: (404, _("Nothing with this id belongs to the account.")),
}


class ServiceError(Exception):
    """A rule said no. `extra` holds additional camelCase members of the error body."""

    def __init__(
        self,
        code: ErrorCode,
        *,
        detail: StrOrPromise | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        errors: dict[str, list[str]] | None = None,
        **extra: Any,
    ) -> None:
        default_status, default_detail = ERROR_CATALOGUE[code]
        self.code = code
        self.status = status or default_status
        self.detail = detail or default_detail
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))
        self.errors = errors
        self.extra = extra
        super().__init__(f"{code}: {self.detail}")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": str(self.code), "detail": str(self.detail)}
        if self.errors:
            body["errors"] = self.errors
        if self.retry_after is not None:
            body["retryAfter"] = self.retry_after
        body.update(self.extra)
        return body
