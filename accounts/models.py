"""The user, revoked refresh tokens, sessions, trusted and known devices and the security audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac


def email_normalize(email: str) -> str:
    """The canonical form of an email: trimmed and lower-cased, as logins are case-insensitive."""
    return email.strip().lower()


def email_obfuscate(email: str) -> str:
    """`john@example.co.uk` -> `j***@e***.uk`: first letters and the last domain label."""
    local, _, domain = email.rpartition("@")
    labels = domain.split(".")
    obfuscated_domain = f"{domain[:1]}***" + (f".{labels[-1]}" if len(labels) > 1 else "")
    return f"{local[:1]}***@{obfuscated_domain}"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=email_normalize(username or ""))

    def create_user(
        self, email: str, password: str | None = None, *, password_hash: str | None = None, **fields: object
    ) -> User:
        """`password_hash`: a password already hashed (by `make_password`), instead of `password`."""
        now = timezone.now()
        fields.setdefault("last_login", now)
        fields.setdefault("password_changed_at", now)
        user = self.model(email=email_normalize(email), **fields)
        if password_hash is not None:
            user.password = password_hash
        else:
            user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """An account: the email is the login; second-factor state is denormalised here.

    The verification dates of TOTP and phone live on the user row so that login and
    `/auth/me` decide everything from one row; the devices hold the secrets.
    """

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        LOCKED = "LOCKED", "Locked"
        BLOCKED = "BLOCKED", "Blocked"
        # By the owner (or from a security email): someone else may be using the account.
        FROZEN = "FROZEN", "Frozen"

    email = models.EmailField(max_length=254, unique=True)
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.ACTIVE)
    locked_until = models.DateTimeField(null=True, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    email_verified_at = models.DateTimeField(null=True, blank=True)
    totp_verified_at = models.DateTimeField(null=True, blank=True)
    phone_verified_at = models.DateTimeField(null=True, blank=True)
    # The user's passkeys, counted here for the same reason (kept by otp.webauthn.services).
    passkey_count = models.PositiveSmallIntegerField(default=0)

    last_login_device = models.CharField(max_length=512, blank=True, default="")
    # What is sent to the user outside a request is written in this language.
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)
    password_changed_at = models.DateTimeField(default=timezone.now)
    # Bumped by logout-all, password change/reset and block: tokens carry the value they
    # were issued with (`gen` claim) and are refused once it moves on.
    token_generation = models.PositiveIntegerField(default=0)

    # Consecutive second-factor failures, across every factor of the account.
    otp_failure_count = models.PositiveIntegerField(default=0)
    otp_last_failure_at = models.DateTimeField(null=True, blank=True)
    otp_failures_notified = models.BooleanField(default=False)

    # The due time of the pending support MFA reset (MfaResetRequest), kept on the row so
    # that login, code checks and `/auth/me` see a due reset without another query.
    mfa_reset_due_at = models.DateTimeField("MFA reset scheduled for", null=True, blank=True)

    # When the account was last frozen: a freeze link issued before it is spent.
    frozen_at = models.DateTimeField(null=True, blank=True)
    # The last password change or reset, email change, factor added, removed or reset, unfreeze
    # or anti-phishing code change (accounts.core.security_changes): platforms hold withdrawals after it.
    security_changed_at = models.DateTimeField("last security change", null=True, blank=True)
    # The word every genuine email shows at the top; empty when the user has set none.
    anti_phishing_code = models.CharField(max_length=20, blank=True, default="")
    # A change of email waiting for the code sent to the new address (accounts.flows.email_change),
    # kept on the row so that `/auth/me` shows it without another query.
    pending_email = models.EmailField("email change pending to", max_length=254, blank=True, default="")
    pending_email_until = models.DateTimeField("email change pending until", null=True, blank=True)
    # The last check of the password against the breach corpus at login, and when it was found
    # in it (accounts.flows.password_breaches): read by login from the row it loads anyway.
    password_checked_at = models.DateTimeField("password checked for breaches", null=True, blank=True)
    password_compromised_at = models.DateTimeField("password found in a breach", null=True, blank=True)
    # Closed by its owner (accounts.flows.closing): refused everywhere as an unknown email, reopened by
    # support or purged after ACCOUNT_CLOSED_RETENTION_DAYS.
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]
        indexes = [
            models.Index(fields=["status"], name="user_status_idx"),
            models.Index(fields=["date_joined"], name="user_date_joined_idx"),
            models.Index(
                fields=["closed_at"], name="user_closed_idx", condition=models.Q(closed_at__isnull=False)
            ),
        ]
        # The support actions of the admin, granted to the Support group.
        permissions = [
            ("block_user", "Can block and unblock accounts"),
            ("unlock_user", "Can unlock accounts"),
            ("reset_mfa", "Can reset the second factors of accounts"),
            ("revoke_tokens", "Can sign accounts out everywhere"),
            ("resend_email_verification", "Can resend email verification codes"),
            ("freeze_user", "Can freeze and unfreeze accounts"),
            ("reopen_user", "Can reopen closed accounts"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = email_normalize(self.email)

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Browser sessions end with every token: logout-all, password change, block and MFA
        # reset bump `token_generation`, and a changed hash logs the session out.
        return salted_hmac(
            "accounts.User.session_auth_hash",
            f"{self.password}:{self.token_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def effective_status(self, now: datetime | None = None) -> str:
        """The status as users see it: a lock whose time has passed has lifted."""
        lock_lifted = self.locked_until is not None and self.locked_until <= (now or timezone.now())
        if self.status == self.Status.LOCKED and lock_lifted:
            return self.Status.ACTIVE
        return self.status

    def lock_lift(self) -> list[str]:
        """ACTIVE again with a fresh second-factor budget; the changed fields, for the caller to save.

        The one way a lock ends: by itself once `locked_until` has passed, by a password
        reset, or by support. A lifted lock never leaves the account one failure from a new one.
        """
        self.status, self.locked_until = self.Status.ACTIVE, None
        self.otp_failure_count, self.otp_last_failure_at, self.otp_failures_notified = 0, None, False
        return ["status", "locked_until", "otp_failure_count", "otp_last_failure_at", "otp_failures_notified"]

    def lock_lift_if_expired(self, now: datetime) -> list[str]:
        """Lift a lock whose time has passed; the changed fields (none when it has not)."""
        expired = self.status == self.Status.LOCKED and self.effective_status(now) == self.Status.ACTIVE
        return self.lock_lift() if expired else []

    def lock_seconds_left(self, now: datetime) -> float | None:
        """Until a LOCKED account lifts by itself; None for a lock without an end."""
        return (self.locked_until - now).total_seconds() if self.locked_until else None

    @property
    def has_second_factor(self) -> bool:
        return (
            self.totp_verified_at is not None or self.phone_verified_at is not None or self.passkey_count > 0
        )

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def email_change_pending(self, now: datetime | None = None) -> str:
        """The address a change of email waits to confirm, or an empty string (none, or expired)."""
        until = self.pending_email_until
        if not self.pending_email or until is None or until <= (now or timezone.now()):
            return ""
        return self.pending_email

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class RevokedToken(models.Model):
    """A refresh token (by `jti`) or a whole rotation family that may no longer be used."""

    class Reason(models.TextChoices):
        LOGOUT = "LOGOUT", "Logged out"
        ROTATED = "ROTATED", "Rotated"
        REUSED_FAMILY = "REUSED_FAMILY", "Family revoked after reuse"

    jti = models.CharField(max_length=80, primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    revoked_at = models.DateTimeField(default=timezone.now)
    # After this the token has expired anyway and the row can be purged.
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.jti} ({self.reason})"

    @staticmethod
    def family_key(family: str) -> str:
        return f"family:{family}"


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
    user = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="security_events")
    type = models.CharField(max_length=32, choices=Type.choices)
    actor = models.CharField(max_length=6, choices=Actor.choices, default=Actor.USER)
    staff_member = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="event_user_created_idx")]

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


class UserSessionQuerySet(models.QuerySet["UserSession"]):
    def live(self, now: datetime | None = None) -> UserSessionQuerySet:
        """Sessions that still count: not ended, not expired (`UserSession.is_live` on one row;
        `accounts.auth.owner_query.SESSION_LIVE_SQL` in the hot statements)."""
        return self.filter(ended_at__isnull=True, expires_at__gt=now or timezone.now())


class UserSession(models.Model):
    """One login: an API session (one refresh-token family, `sid` in its tokens), a browser session,
    or an application's grant by OpenID Connect (`oidc`: its tokens point at the row, oidc/models.py).

    Live while `ended_at` is null and `expires_at` is ahead; ending it refuses its tokens
    at once (the bearer check and refresh read it in the query that loads the user).
    """

    class Kind(models.TextChoices):
        API = "api", "API"
        BROWSER = "browser", "Browser"
        OIDC = "oidc", "Application"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    kind = models.CharField(max_length=7, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    device = models.CharField(max_length=128, blank=True, default="")
    amr = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # The Django session of a browser session, deleted when the session is ended.
    session_key = models.CharField(max_length=40, blank=True, default="", db_index=True)

    objects = UserSessionQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"], name="session_user_created_idx"),
            models.Index(fields=["expires_at"], name="session_expires_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} session of {self.user_id} on {self.device}"

    def is_live(self, now: datetime | None = None) -> bool:
        return self.ended_at is None and self.expires_at > (now or timezone.now())


class TrustedDeviceQuerySet(models.QuerySet["TrustedDevice"]):
    def live(self, now: datetime | None = None) -> TrustedDeviceQuerySet:
        """Devices that still count: not revoked, not expired (`TrustedDevice.is_live` on one row)."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now())


class TrustedDevice(models.Model):
    """A browser or app the user told us to stop asking the second factor on; only the token's hash is kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="trusted_devices")
    token_hash = models.CharField(max_length=64, unique=True)
    device = models.CharField(max_length=128, blank=True, default="")
    user_agent = models.CharField(max_length=512, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TrustedDeviceQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="trusted_user_created_idx")]

    def __str__(self) -> str:
        return f"{self.device} trusted by {self.user_id}"

    def is_live(self, now: datetime | None = None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or timezone.now())


class EmailDelivery(models.Model):
    """One email the task queue sends at most once (accounts/core/tasks.py `delivery_run`).

    The task that sends it locks this row, sends, and marks it sent in one transaction: a task
    run again (a retry, a worker restarted) finds it sent and sends nothing.
    """

    id = models.UUIDField(primary_key=True)
    # What is sent: a template name, `password_reset`, `verification_code`; never an address.
    kind = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="email_delivery_created_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({'sent' if self.sent_at else 'not sent'})"


class KnownDevice(models.Model):
    """Where a user has signed in from, so that a sign-in from elsewhere is told (accounts.auth.new_devices).

    Either a device label and IP network (`203.0.113.0/24`, `2001:db8::/64`) seen at a login
    or the sign-up, with `cookie_hash` empty; or the SHA-256 of the pages' device cookie, with
    `device` and `network` empty. One row per user and place: a login touches it, never adds.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="known_devices")
    device = models.CharField(max_length=128, blank=True, default="")
    network = models.CharField(max_length=49, blank=True, default="")
    cookie_hash = models.CharField(max_length=64, blank=True, default="")
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # The login's one query looks rows up by this index (user first).
            models.UniqueConstraint(
                fields=["user", "device", "network", "cookie_hash"], name="known_device_unique"
            ),
        ]
        indexes = [models.Index(fields=["last_seen_at"], name="known_device_seen_idx")]

    def __str__(self) -> str:
        return f"{self.device or 'browser'} {self.network} of {self.user_id}"
