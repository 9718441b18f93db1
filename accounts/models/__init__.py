"""The user, sessions, trusted devices, revoked tokens, the security audit trail, scheduled MFA
resets and email deliveries: one module per group, all importable from `accounts.models`."""

from accounts.models.audit import MfaResetRequest, SecurityEvent
from accounts.models.deliveries import EmailDelivery
from accounts.models.sessions import (
    KnownDevice,
    RevokedToken,
    TrustedDevice,
    TrustedDeviceQuerySet,
    UserSession,
    UserSessionQuerySet,
)
from accounts.models.user import User, UserManager, email_normalize, email_obfuscate

__all__ = [
    "EmailDelivery",
    "KnownDevice",
    "MfaResetRequest",
    "RevokedToken",
    "SecurityEvent",
    "TrustedDevice",
    "TrustedDeviceQuerySet",
    "User",
    "UserManager",
    "UserSession",
    "UserSessionQuerySet",
    "email_normalize",
    "email_obfuscate",
]
