from __future__ import annotations

from django.urls import path

from . import api, api_events, api_mfa_reset, api_protection, api_sessions

urlpatterns = [
    path("login", api.LoginApi.as_view(), name="login"),
    path("login/refresh", api.RefreshApi.as_view(), name="login-refresh"),
    path("me", api.MeApi.as_view(), name="me"),
    path("me/mfa-reset", api_mfa_reset.MfaResetCancelApi.as_view(), name="me-mfa-reset"),
    path("me/events", api_events.SecurityEventListApi.as_view(), name="me-events"),
    path("me/freeze", api_protection.AccountFreezeApi.as_view(), name="me-freeze"),
    path("me/anti-phishing-code", api_protection.AntiPhishingCodeApi.as_view(), name="me-anti-phishing-code"),
    path("register", api.RegisterApi.as_view(), name="register"),
    path("logout", api.LogoutApi.as_view(), name="logout"),
    path("logout/all", api.LogoutAllApi.as_view(), name="logout-all"),
    path("password/change", api.PasswordChangeApi.as_view(), name="password-change"),
    path("password/reset", api.PasswordResetApi.as_view(), name="password-reset"),
    path("sessions", api_sessions.SessionListApi.as_view(), name="sessions"),
    path("sessions/<str:session_id>", api_sessions.SessionApi.as_view(), name="session"),
    path("trusted-devices", api_sessions.TrustedDeviceListApi.as_view(), name="trusted-devices"),
    path("trusted-devices/<str:device_id>", api_sessions.TrustedDeviceApi.as_view(), name="trusted-device"),
    path("password/reset/confirm", api.PasswordResetConfirmApi.as_view(), name="password-reset-confirm"),
]
