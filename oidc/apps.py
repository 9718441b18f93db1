"""The OpenID Connect provider app."""

from __future__ import annotations

from django.apps import AppConfig


class OidcConfig(AppConfig):
    name = "oidc"
    verbose_name = "OpenID Connect"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.flows.data_export import export_section_register
        from oidc.selectors import connected_apps_exported

        export_section_register("connectedApps", connected_apps_exported)
