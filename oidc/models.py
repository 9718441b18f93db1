"""django-oauth-toolkit's models, each token tied to the session row of its grant, and the consents.

An application's grant is a session (`accounts.UserSession`, kind `oidc`): its access, refresh and
ID tokens point at that row and count only while it is live, so every way a session ends
(the sessions list, logout-all, a password change or reset, a block, an MFA reset) ends the
application's access too, with no second list of revocations.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractApplication,
    AbstractGrant,
    AbstractIDToken,
    AbstractRefreshToken,
)

from accounts.models import UserSession


class Application(AbstractApplication):
    """A relying party registered in the admin or with `manage.py createapplication`."""

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"


class Grant(AbstractGrant):
    """An authorization code; it remembers how the browser had signed in when it was issued."""

    # The `amr` of the browser session (accounts.tokens) and when that login happened.
    amr = models.JSONField(default=list, blank=True)
    auth_time = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractGrant.Meta):
        swappable = "OAUTH2_PROVIDER_GRANT_MODEL"


class AccessToken(AbstractAccessToken):
    session = models.ForeignKey(
        UserSession, null=True, blank=True, on_delete=models.CASCADE, related_name="oidc_access_tokens"
    )
    auth_time = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAccessToken.Meta):
        swappable = "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL"


class RefreshToken(AbstractRefreshToken):
    session = models.ForeignKey(
        UserSession, null=True, blank=True, on_delete=models.CASCADE, related_name="oidc_refresh_tokens"
    )
    auth_time = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractRefreshToken.Meta):
        swappable = "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL"


class IDToken(AbstractIDToken):
    session = models.ForeignKey(
        UserSession, null=True, blank=True, on_delete=models.CASCADE, related_name="oidc_id_tokens"
    )

    class Meta(AbstractIDToken.Meta):
        swappable = "OAUTH2_PROVIDER_ID_TOKEN_MODEL"


class Consent(models.Model):
    """The scopes a user allowed an application ("Connected apps"); asked again for any other scope."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_consents")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="consents")
    scopes = models.JSONField(default=list)
    granted_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "application"], name="oidc_consent_one_per_app"),
        ]

    def __str__(self) -> str:
        return f"{self.application} allowed by {self.user_id}"

    def covers(self, scopes: list[str]) -> bool:
        return set(scopes) <= set(self.scopes)
