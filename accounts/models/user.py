"""The user: the account, its state and second-factor dates denormalised for the hot paths."""

from __future__ import annotations

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

    def create_user(self, email: str, password: str | None = None, **fields: object) -> User:
        user = self.user_new(email, **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def user_new(self, email: str, **fields: object) -> User:
        """A new account, not saved yet: its last login and password change are now (the sign-up's)."""
        now = timezone.now()
        fields.setdefault("last_login", now)
        fields.setdefault("password_changed_at", now)
        return self.model(email=email_normalize(email), **fields)

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
