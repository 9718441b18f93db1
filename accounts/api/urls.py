from __future__ import annotations

from django.urls import path

from accounts.api import account_life, me
from accounts.api import auth as auth_api
from accounts.api import events as api_events
from accounts.api import mfa_reset as api_mfa_reset
from accounts.api import passwords as passwords_api
from accounts.api import protection as protection_api
from accounts.api import sessions as api_sessions

urlpatterns = [
    path("login", auth_api.LoginApi.as_view(), name="login"),
    path("login/refresh", auth_api.RefreshApi.as_view(), name="login-refresh"),
    path("me", me.MeApi.as_view(), name="me"),
    path("me/mfa-reset", api_mfa_reset.MfaResetCancelApi.as_view(), name="me-mfa-reset"),
    path("me/events", api_events.SecurityEventListApi.as_view(), name="me-events"),
    path("me/email", account_life.EmailChangeApi.as_view(), name="me-email"),
    path("me/email/confirm", account_life.EmailChangeConfirmApi.as_view(), name="me-email-confirm"),
    path("me/export", account_life.DataExportApi.as_view(), name="me-export"),
    path("me/close", account_life.AccountCloseApi.as_view(), name="me-close"),
    path("me/freeze", protection_api.AccountFreezeApi.as_view(), name="me-freeze"),
    path("me/anti-phishing-code", protection_api.AntiPhishingCodeApi.as_view(), name="me-anti-phishing-code"),
    path("register", auth_api.RegisterApi.as_view(), name="register"),
    path("logout", auth_api.LogoutApi.as_view(), name="logout"),
    path("logout/all", auth_api.LogoutAllApi.as_view(), name="logout-all"),
    path("password/change", passwords_api.PasswordChangeApi.as_view(), name="password-change"),
    path("password/reset", passwords_api.PasswordResetApi.as_view(), name="password-reset"),
    path("sessions", api_sessions.SessionListApi.as_view(), name="sessions"),
    path("sessions/<str:session_id>", api_sessions.SessionApi.as_view(), name="session"),
    path("trusted-devices", api_sessions.TrustedDeviceListApi.as_view(), name="trusted-devices"),
    path("trusted-devices/<str:device_id>", api_sessions.TrustedDeviceApi.as_view(), name="trusted-device"),
    path(
        "password/reset/confirm",
        passwords_api.PasswordResetConfirmApi.as_view(),
        name="password-reset-confirm",
    ),
]
