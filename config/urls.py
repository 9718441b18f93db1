"""URL map: the JSON API under /auth/, JWKS and OIDC discovery, the OpenID Connect endpoints, OpenAPI,
health, metrics, admin."""

from __future__ import annotations

from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.api.health import HealthApi
from accounts.api.keys import JwksApi
from config.cors import public_cors
from config.metrics_view import metrics_view
from oidc.api import OpenIdProviderConfigurationApi

# Swagger UI sets element styles from its script; scripts stay `'self'` only.
swagger_ui = csp_update({"style-src": ["'unsafe-inline'"]})(
    SpectacularSwaggerSplitView.as_view(url_name="schema")
)

urlpatterns = [
    path("auth/", include("accounts.api.urls")),
    path("auth/", include("otp.urls")),
    path(".well-known/jwks.json", public_cors(JwksApi.as_view()), name="jwks"),
    path(
        ".well-known/openid-configuration",
        public_cors(OpenIdProviderConfigurationApi.as_view()),
        name="openid-configuration",
    ),
    path("healthz", HealthApi.as_view(), name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", swagger_ui, name="swagger-ui"),
    path("admin/", admin.site.urls),
    path("", include("oidc.urls")),
    path("", include("accounts.pages.urls")),
]

handler400 = "accounts.api.errors.handler400"
handler403 = "accounts.api.errors.handler403"
handler404 = "accounts.api.errors.handler404"
handler500 = "accounts.api.errors.handler500"
