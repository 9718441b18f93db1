"""URL map of the account pages under /account/, and / sending visitors there."""

from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

from accounts.pages import account, account_life
from accounts.pages import login as login_pages
from accounts.pages import mfa_reset as views_mfa_reset
from accounts.pages import passwords as passwords_pages
from accounts.pages import protection as protection_pages
from accounts.pages import sessions as session_views
from otp import views as factor_views
from otp.webauthn import views as passkey_views

app_name = "account"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="account:security"), name="home"),
    path("account/", account.SecurityView.as_view(), name="security"),
    path("account/signup/", login_pages.SignupView.as_view(), name="signup"),
    path("account/login/", login_pages.LoginView.as_view(), name="login"),
    path("account/login/code/", login_pages.LoginCodeView.as_view(), name="login-code"),
    path("account/login/code/sms/", login_pages.LoginCodeSmsView.as_view(), name="login-code-sms"),
    path("account/logout/", login_pages.LogoutView.as_view(), name="logout"),
    path("account/language/", account.LanguageView.as_view(), name="language"),
    path("account/mfa-reset/cancel/", views_mfa_reset.MfaResetCancelView.as_view(), name="mfa-reset-cancel"),
    path(
        "account/mfa-reset/cancel/<str:token>/",
        views_mfa_reset.MfaResetCancelLinkView.as_view(),
        name="mfa-reset-cancel-link",
    ),
    path(
        "account/sessions/<str:session_id>/end/", session_views.SessionEndView.as_view(), name="session-end"
    ),
    path(
        "account/sessions/end-others/",
        session_views.SessionsEndOthersView.as_view(),
        name="sessions-end-others",
    ),
    path(
        "account/trusted-devices/<str:device_id>/remove/",
        session_views.TrustedDeviceRemoveView.as_view(),
        name="trusted-device-remove",
    ),
    path("account/freeze/", protection_pages.AccountFreezeView.as_view(), name="freeze"),
    path("account/freeze/<str:token>/", protection_pages.FreezeLinkView.as_view(), name="freeze-link"),
    path(
        "account/anti-phishing-code/",
        protection_pages.AntiPhishingCodeView.as_view(),
        name="anti-phishing-code",
    ),
    path(
        "account/anti-phishing-code/remove/",
        protection_pages.AntiPhishingCodeRemoveView.as_view(),
        name="anti-phishing-code-remove",
    ),
    path("account/email/verify/", account.EmailVerifyView.as_view(), name="email-verify"),
    path("account/email/verify/resend/", account.EmailCodeSendView.as_view(), name="email-code"),
    path("account/email/", account_life.EmailChangeView.as_view(), name="email-change"),
    path(
        "account/email/confirm/", account_life.EmailChangeConfirmView.as_view(), name="email-change-confirm"
    ),
    path("account/email/cancel/", account_life.EmailChangeCancelView.as_view(), name="email-change-cancel"),
    path("account/data/", account_life.DataExportView.as_view(), name="data-export"),
    path("account/close/", account_life.AccountCloseView.as_view(), name="account-close"),
    path("account/password/", passwords_pages.PasswordChangeView.as_view(), name="password-change"),
    path("account/password/reset/", passwords_pages.PasswordResetView.as_view(), name="password-reset"),
    path(
        "account/password/reset/<str:uidb64>/<str:token>/",
        passwords_pages.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("account/totp/", factor_views.TotpSetupView.as_view(), name="totp"),
    path("account/totp/new/", factor_views.TotpStartView.as_view(), name="totp-start"),
    path("account/totp/remove/", factor_views.TotpRemoveView.as_view(), name="totp-remove"),
    path("account/phone/", factor_views.PhoneAddView.as_view(), name="phone-add"),
    path("account/phone/verify/", factor_views.PhoneVerifyView.as_view(), name="phone-verify"),
    path("account/phone/code/", factor_views.PhoneCodeSendView.as_view(), name="phone-code"),
    path("account/phone/remove/", factor_views.PhoneRemoveView.as_view(), name="phone-remove"),
    path("account/recovery-codes/", factor_views.RecoveryCodesView.as_view(), name="recovery-codes"),
    # Passkeys: the pages, and the JSON steps static/js/passkeys.js calls with the session.
    path("account/passkeys/add/", passkey_views.PasskeyAddView.as_view(), name="passkey-add"),
    path(
        "account/passkeys/<int:passkey_id>/remove/",
        passkey_views.PasskeyRemoveView.as_view(),
        name="passkey-remove",
    ),
    path(
        "account/passkeys/add/options/",
        passkey_views.PasskeyRegisterOptionsView.as_view(),
        name="passkey-register-options",
    ),
    path(
        "account/passkeys/add/complete/", passkey_views.PasskeyRegisterView.as_view(), name="passkey-register"
    ),
    path(
        "account/passkeys/step-up/options/",
        passkey_views.PasskeyStepUpOptionsView.as_view(),
        name="passkey-step-up-options",
    ),
    path("account/passkeys/step-up/", passkey_views.PasskeyStepUpView.as_view(), name="passkey-step-up"),
    path(
        "account/login/passkey/options/",
        passkey_views.PasskeyLoginOptionsView.as_view(),
        name="passkey-login-options",
    ),
    path("account/login/passkey/", passkey_views.PasskeyLoginView.as_view(), name="passkey-login"),
    path(
        "account/login/code/passkey/options/",
        passkey_views.PasskeySecondFactorOptionsView.as_view(),
        name="passkey-second-factor-options",
    ),
    path(
        "account/login/code/passkey/",
        passkey_views.PasskeySecondFactorView.as_view(),
        name="passkey-second-factor",
    ),
]
