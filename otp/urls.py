from __future__ import annotations

from django.urls import path

from otp import api
from otp.webauthn import api as webauthn_api

urlpatterns = [
    path("otp/methods/sms", api.SmsMethodApi.as_view(), name="otp-methods-sms"),
    path("otp/methods/totp", api.TotpMethodApi.as_view(), name="otp-methods-totp"),
    path("otp/methods/recovery-codes", api.RecoveryCodesApi.as_view(), name="otp-methods-recovery-codes"),
    path("otp/code", api.CodeApi.as_view(), name="otp-code"),
    path(
        "otp/methods/webauthn/options",
        webauthn_api.WebAuthnOptionsApi.as_view(),
        name="otp-methods-webauthn-options",
    ),
    path("otp/methods/webauthn", webauthn_api.WebAuthnMethodApi.as_view(), name="otp-methods-webauthn"),
    path(
        "otp/methods/webauthn/<int:id>",
        webauthn_api.WebAuthnPasskeyApi.as_view(),
        name="otp-methods-webauthn-passkey",
    ),
    path(
        "login/webauthn/options",
        webauthn_api.WebAuthnLoginOptionsApi.as_view(),
        name="login-webauthn-options",
    ),
    path("login/webauthn", webauthn_api.WebAuthnLoginApi.as_view(), name="login-webauthn"),
    path(
        "otp/webauthn/step-up/options",
        webauthn_api.WebAuthnStepUpOptionsApi.as_view(),
        name="otp-webauthn-step-up-options",
    ),
    path("otp/webauthn/step-up", webauthn_api.WebAuthnStepUpApi.as_view(), name="otp-webauthn-step-up"),
]
