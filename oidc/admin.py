"""The admin of the OpenID Connect provider: applications, and a user's connected apps (read-only).

Applications use django-oauth-toolkit's admin and Django's model permissions: superusers, or
staff given `oidc.*_application`; the Support group has none of them. Tokens and codes are not
listed: an application's access is a session, ended from the user's sessions like any other.
"""

from __future__ import annotations

from django.contrib import admin

from accounts.admin.sessions import ReadOnlyInline
from accounts.admin.users import UserAdmin
from accounts.models import User
from oidc.models import AccessToken, Consent, Grant, IDToken, RefreshToken

for _model in (AccessToken, RefreshToken, IDToken, Grant):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class ConsentInline(ReadOnlyInline):
    model = Consent
    verbose_name = "connected app"
    verbose_name_plural = "connected apps"
    fields = readonly_fields = ["application", "scopes", "granted_at", "last_used_at"]
    ordering = ["-granted_at"]


class UserWithAppsAdmin(UserAdmin):
    """The user's page, with the applications they allowed."""

    inlines = [*UserAdmin.inlines, ConsentInline]


admin.site.unregister(User)
admin.site.register(User, UserWithAppsAdmin)
