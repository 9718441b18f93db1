"""Sessions, revoked refresh tokens, trusted devices and the places a user logged in from."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import models
from django.utils import timezone

from accounts.models.user import User


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
    # Indexed by session_user_created_idx, which leads with it: every session insert pays for one index less.
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions", db_index=False)
    kind = models.CharField(max_length=7, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    device = models.CharField(max_length=128, blank=True, default="")
    amr = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # The Django session of a browser session, deleted when the session is ended. Read from the
    # row, never looked up by: no index (and a key cycle's update stays a HOT update).
    session_key = models.CharField(max_length=40, blank=True, default="")

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
