"""The security audit trail and support's scheduled MFA resets."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models.user import User


class SecurityEvent(models.Model):
    """One security-relevant fact about an account. Written by services only."""

    class Type(models.TextChoices):
        SIGNED_UP = "SIGNED_UP", "Signed up"
        LOGIN_SUCCEEDED = "LOGIN_SUCCEEDED", "Login succeeded"
        LOGIN_FAILED = "LOGIN_FAILED", "Login failed"
        SECOND_FACTOR_FAILED = "SECOND_FACTOR_FAILED", "Second factor failed"
        ACCOUNT_LOCKED = "ACCOUNT_LOCKED", "Account locked"
        ACCOUNT_UNLOCKED = "ACCOUNT_UNLOCKED", "Account unlocked"
        ACCOUNT_BLOCKED = "ACCOUNT_BLOCKED", "Account blocked"
        ACCOUNT_UNBLOCKED = "ACCOUNT_UNBLOCKED", "Account unblocked"
        FACTOR_ADDED = "FACTOR_ADDED", "Factor added"
        FACTOR_VERIFIED = "FACTOR_VERIFIED", "Factor verified"
        FACTOR_REMOVED = "FACTOR_REMOVED", "Factor removed"
        MFA_RESET = "MFA_RESET", "MFA reset by support"
        MFA_RESET_SCHEDULED = "MFA_RESET_SCHEDULED", "MFA reset scheduled by support"
        MFA_RESET_CANCELLED = "MFA_RESET_CANCELLED", "Scheduled MFA reset cancelled"
        RECOVERY_CODES_GENERATED = "RECOVERY_CODES_GENERATED", "Recovery codes generated"
        RECOVERY_CODE_USED = "RECOVERY_CODE_USED", "Recovery code used"
        PASSWORD_CHANGED = "PASSWORD_CHANGED", "Password changed"
        PASSWORD_RESET_REQUESTED = "PASSWORD_RESET_REQUESTED", "Password reset requested"
        PASSWORD_RESET = "PASSWORD_RESET", "Password reset"
        TOKENS_REVOKED = "TOKENS_REVOKED", "Tokens revoked"
        LOGGED_OUT = "LOGGED_OUT", "Logged out"
        EMAIL_VERIFIED = "EMAIL_VERIFIED", "Email verified"
        EMAIL_VERIFICATION_SENT = "EMAIL_VERIFICATION_SENT", "Email verification code sent"
        REFRESH_TOKEN_REUSED = "REFRESH_TOKEN_REUSED", "Refresh token reused"
        SESSION_ENDED = "SESSION_ENDED", "Signed out of a session"
        TRUSTED_DEVICE_ADDED = "TRUSTED_DEVICE_ADDED", "Device trusted"
        TRUSTED_DEVICE_USED = "TRUSTED_DEVICE_USED", "Trusted device used"
        TRUSTED_DEVICE_REMOVED = "TRUSTED_DEVICE_REMOVED", "Trusted device removed"
        PASSKEY_COUNTER_REGRESSED = "PASSKEY_COUNTER_REGRESSED", "Passkey signature counter went backwards"
        OIDC_CONSENT_GRANTED = "OIDC_CONSENT_GRANTED", "Application allowed (OpenID Connect)"
        OIDC_ACCESS_REMOVED = "OIDC_ACCESS_REMOVED", "Application access removed (OpenID Connect)"
        EMAIL_CHANGE_REQUESTED = "EMAIL_CHANGE_REQUESTED", "Email change requested"
        EMAIL_CHANGE_CANCELLED = "EMAIL_CHANGE_CANCELLED", "Email change cancelled"
        EMAIL_CHANGED = "EMAIL_CHANGED", "Email changed"
        PASSWORD_COMPROMISED = "PASSWORD_COMPROMISED", "Password found in a data breach"
        DATA_EXPORTED = "DATA_EXPORTED", "Data exported"
        ACCOUNT_CLOSED = "ACCOUNT_CLOSED", "Account closed"
        ACCOUNT_REOPENED = "ACCOUNT_REOPENED", "Account reopened"
        NEW_DEVICE_LOGIN = "NEW_DEVICE_LOGIN", "Sign-in from a new device"
        ACCOUNT_FROZEN = "ACCOUNT_FROZEN", "Account frozen"
        ACCOUNT_UNFROZEN = "ACCOUNT_UNFROZEN", "Account unfrozen"
        ANTI_PHISHING_CODE_CHANGED = "ANTI_PHISHING_CODE_CHANGED", "Anti-phishing code changed"

    class Actor(models.TextChoices):
        USER = "USER", "The user"
        STAFF = "STAFF", "Staff member"
        SYSTEM = "SYSTEM", "System"

    # Null once a closed account is purged: its events stay, without anything personal.
    # Indexed by event_user_created_idx, which leads with it: every event pays for one index less.
    user = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="security_events", db_index=False
    )
    type = models.CharField(max_length=32, choices=Type.choices)
    actor = models.CharField(max_length=6, choices=Actor.choices, default=Actor.USER)
    staff_member = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="event_user_created_idx"),
            # Support's actions only: the users' own events (nearly all) add nothing to it.
            models.Index(
                fields=["staff_member"],
                name="event_staff_member_idx",
                condition=Q(staff_member__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} for {self.user_id} at {self.created_at:%Y-%m-%d %H:%M}"


class MfaResetRequest(models.Model):
    """A support reset of an account's second factors, due some time after it was asked for.

    At most one is PENDING per account; its `due_at` is copied to `User.mfa_reset_due_at`.
    `requested_by` is None for an operator at the command line.
    """

    class State(models.TextChoices):
        PENDING = "PENDING", "Pending"
        CANCELLED = "CANCELLED", "Cancelled"
        DONE = "DONE", "Done"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="mfa_reset_requests")
    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    reason = models.CharField(max_length=500)
    state = models.CharField(max_length=9, choices=State.choices, default=State.PENDING)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # The account's own user, or the staff member who cancelled it.
    cancelled_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cancel_reason = models.CharField(max_length=500, blank=True, default="")
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(state="PENDING"), name="mfa_reset_one_pending_per_user"
            ),
        ]
        indexes = [models.Index(fields=["state", "due_at"], name="mfa_reset_state_due_idx")]
        permissions = [("reset_mfa_now", "Can apply a scheduled MFA reset at once, without the delay")]

    def __str__(self) -> str:
        return f"MFA reset of {self.user_id} due {self.due_at:%Y-%m-%d %H:%M} ({self.state})"
