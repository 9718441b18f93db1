"""The OpenID Connect endpoints under /oauth/ (found by relying parties in the discovery document)."""

from __future__ import annotations

from django.urls import path

from oidc import views

app_name = "oidc"

urlpatterns = [
    path("oauth/authorize/", views.AuthorizationView.as_view(), name="authorize"),
    path("oauth/token/", views.TokenView.as_view(), name="token"),
    path("oauth/revoke/", views.RevokeTokenView.as_view(), name="revoke"),
    path("oauth/userinfo/", views.UserInfoView.as_view(), name="userinfo"),
    path("oauth/logout/", views.LogoutView.as_view(), name="logout"),
    path("account/apps/<str:consent_id>/remove/", views.ConnectedAppRemoveView.as_view(), name="app-remove"),
]
