"""The accounts app, and the admin site it installs as Django's default (`SupportAdminSite`)."""

from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self) -> None:
        from accounts.admin import events, mfa_resets, users  # noqa: F401  (register their ModelAdmins)
        from accounts.api import schema  # noqa: F401  (registers the OpenAPI bearer scheme)


class SupportAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the support site as `admin.site`, by Django's supported hook."""

    default = False  # INSTALLED_APPS names it; "accounts" alone means AccountsConfig

    default_site = "accounts.admin.site.SupportAdminSite"
