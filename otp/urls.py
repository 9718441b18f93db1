from __future__ import annotations

from django.urls import path

from . import api

urlpatterns = [
    path("otp/methods/sms", api.SmsMethodApi.as_view(), name="otp-methods-sms"),
    path("otp/methods/totp", api.TotpMethodApi.as_view(), name="otp-methods-totp"),
    path("otp/methods/recovery-codes", api.RecoveryCodesApi.as_view(), name="otp-methods-recovery-codes"),
    path("otp/code", api.CodeApi.as_view(), name="otp-code"),
]
