"""Settings shared by every environment, driven by environment variables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ

from config.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])

DJANGO_APPS = [
    "accounts.apps.SupportAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "oauth2_provider",
    "django_tasks",
    "django_tasks_db",
]
LOCAL_APPS = [
    "accounts",
    "otp",
    "oidc",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    # Observability, outermost so it sees every answer: the request id (X-Request-ID), request
    # metrics and one log line per request (config/middleware.py). No database or cache access.
    "config.middleware.RequestObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.auth.browser_sessions.BrowserSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
# A health check is a `SELECT 1` round trip per request (8% of /auth/me, docs/benchmarks.md);
# without it, the first request on a connection the database dropped gets a 503.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=False)
# PostgreSQL: a statement run DATABASE_PREPARE_THRESHOLD times on a connection is prepared there,
# parsed and planned once; the bearer's query fell from ~260 to ~65 µs of the server's CPU
# (docs/benchmarks.md). That needs the parameters bound by the server. Behind PgBouncer in
# transaction mode without `max_prepared_statements`, set DATABASE_PREPARE_THRESHOLD=off.
_PREPARE_THRESHOLD = env.str("DATABASE_PREPARE_THRESHOLD", default="5")


def postgres_statements_prepared(database: dict) -> dict:
    """`database` with server-side binding and psycopg's prepared statements, if it is PostgreSQL."""
    if database["ENGINE"] != "django.db.backends.postgresql":
        return database
    threshold = None if _PREPARE_THRESHOLD.lower() in {"", "off", "none"} else int(_PREPARE_THRESHOLD)
    options = {"server_side_binding": True, "prepare_threshold": threshold}
    return {**database, "OPTIONS": {**options, **database.get("OPTIONS", {})}}


DATABASES["default"] = postgres_statements_prepared(DATABASES["default"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHE_BACKENDS = {"django.core.cache.backends.redis.RedisCache": "config.cache.RedisCache"}
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://auth-service")}
CACHES["default"]["BACKEND"] = CACHE_BACKENDS.get(CACHES["default"]["BACKEND"], CACHES["default"]["BACKEND"])

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]

# Argon2id first, at least OWASP's parameters (m=19 MiB, t=2, p=1); see accounts.hashers.
PASSWORD_HASHERS = [
    "accounts.core.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email",)},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "accounts.core.validators.ContextPasswordValidator"},
    {"NAME": "accounts.core.validators.MaximumLengthValidator"},
    # Last: a network call, bounded by PWNED_PASSWORDS_TIMEOUT_SECONDS.
    {"NAME": "accounts.core.validators.PwnedPasswordValidator"},
]
PASSWORD_MAX_LENGTH = 1024
# Passwords known from breaches are refused (sign-up, change, reset) and flagged at login:
# Have I Been Pwned's k-anonymity range API, only a 5-character SHA-1 prefix leaves the service
# (accounts/core/pwned_passwords.py). Any failure of the API accepts the password (fail open).
PWNED_PASSWORDS = env.bool("PWNED_PASSWORDS", default=True)
PWNED_PASSWORDS_API_URL = env.str("PWNED_PASSWORDS_API_URL", default="https://api.pwnedpasswords.com/range/")
PWNED_PASSWORDS_TIMEOUT_SECONDS = env.float("PWNED_PASSWORDS_TIMEOUT_SECONDS", default=2.0)
# A login checks the password again at most this often per user.
PWNED_PASSWORDS_RECHECK_DAYS = env.int("PWNED_PASSWORDS_RECHECK_DAYS", default=30)
# After a failure the API is left alone this long (checks fail open at once meanwhile), so a
# machine without network answers quickly.
PWNED_PASSWORDS_BACKOFF_SECONDS = env.int("PWNED_PASSWORDS_BACKOFF_SECONDS", default=60)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60)

# English and Spanish: pages, emails, SMS and the API's `detail` texts (codes never change).
# Requests follow Accept-Language (or the pages' language menu); what is sent outside a
# request (notifications, support actions, scheduled resets) follows the user's `language`.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=64 * 1024)

# --- Email -------------------------------------------------------------------------
if env.str("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "emails"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Auth Service <no-reply@localhost>")
SERVICE_NAME = env.str("SERVICE_NAME", default="Auth Service")
# Absolute origin used in links sent by email (password reset, "change your password").
# `localhost`, not 127.0.0.1: browsers refuse WebAuthn on an IP address.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://localhost:8000")

# --- Task queue (accounts/core/tasks.py): every email leaves through it ---------------
# `database`: tasks are rows written in the transaction of the change they report, run by
# `manage.py tasks_worker` (production). `immediate`: run in the process once the transaction
# commits, no worker needed (`make run`, the tests, a management command with no worker).
TASK_BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
}
TASKS = {"default": {"BACKEND": TASK_BACKENDS[env.str("TASKS_BACKEND", default="database")]}}
# An email whose SMTP server fails is tried again after 30 s, 1, 2, 4 ... minutes (doubling),
# NOTIFICATION_MAX_ATTEMPTS times in all (about 2 hours with 8), then kept as a failed task
# and counted in `auth_notifications_failed_total`. Retries need the database backend.
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=8)
NOTIFICATION_RETRY_BASE_SECONDS = env.float("NOTIFICATION_RETRY_BASE_SECONDS", default=30.0)
# A task still RUNNING after this long when a worker starts belongs to a worker that died: it is
# run again (a worker's own tasks from before its restart are run again at once).
TASKS_STALE_AFTER_SECONDS = env.int("TASKS_STALE_AFTER_SECONDS", default=15 * 60)

# --- Passkeys (WebAuthn) -----------------------------------------------------------
# An empty PUBLIC_BASE_URL (discovery then uses the request's origin) leaves the local relying party.
_PUBLIC_BASE = urlsplit(PUBLIC_BASE_URL or "http://localhost:8000")
WEBAUTHN_RP_ID = env.str("WEBAUTHN_RP_ID", default=_PUBLIC_BASE.hostname or "localhost")
WEBAUTHN_RP_NAME = env.str("WEBAUTHN_RP_NAME", default=SERVICE_NAME)
WEBAUTHN_ORIGINS = env.list("WEBAUTHN_ORIGINS", default=[f"{_PUBLIC_BASE.scheme}://{_PUBLIC_BASE.netloc}"])
# Registration, login, second factor and step-up challenges, and the step-up tokens, in seconds.
WEBAUTHN_CHALLENGE_SECONDS = env.int("WEBAUTHN_CHALLENGE_SECONDS", default=5 * 60)
WEBAUTHN_STEP_UP_TOKEN_SECONDS = env.int("WEBAUTHN_STEP_UP_TOKEN_SECONDS", default=5 * 60)

# --- SMS -----------------------------------------------------------------------------
SMS_BACKEND = env.str("SMS_BACKEND", default="console")
SMS_FILE_PATH = env.str("SMS_FILE_PATH", default=str(BASE_DIR / "var" / "sms.jsonl"))
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=10.0)
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="https://api.twilio.com")
# Empty means every region libphonenumber supports.
SMS_ALLOWED_COUNTRIES = env.list("SMS_ALLOWED_COUNTRIES", default=[])
SMS_RESEND_COOLDOWN_SECONDS = env.int("SMS_RESEND_COOLDOWN_SECONDS", default=60)
SMS_MAX_PER_USER_PER_DAY = env.int("SMS_MAX_PER_USER_PER_DAY", default=10)
SMS_MAX_PER_NUMBER_PER_DAY = env.int("SMS_MAX_PER_NUMBER_PER_DAY", default=10)
SMS_MAX_PER_DAY = env.int("SMS_MAX_PER_DAY", default=10_000)

# --- One-time codes and second factors -------------------------------------------
OTP_CODE_VALIDITY_SECONDS = env.int("OTP_CODE_VALIDITY_SECONDS", default=10 * 60)
EMAIL_RESEND_COOLDOWN_SECONDS = env.int("EMAIL_RESEND_COOLDOWN_SECONDS", default=60)
OTP_TOTP_ISSUER = SERVICE_NAME
# The TOTP window is exactly the current step +-1: no drift learning.
OTP_TOTP_SYNC = False
# Second-factor failures are counted per account (accounts.User), not per device.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
OTP_FAILURES_BEFORE_DELAY = env.int("OTP_FAILURES_BEFORE_DELAY", default=2)
OTP_DELAY_MAX_SECONDS = env.int("OTP_DELAY_MAX_SECONDS", default=15 * 60)
OTP_FAILURES_BEFORE_LOCK = env.int("OTP_FAILURES_BEFORE_LOCK", default=100)
# After this many consecutive second-factor failures at login the user is told, once per
# streak, that someone may know the password.
OTP_FAILURES_BEFORE_NOTIFY = env.int("OTP_FAILURES_BEFORE_NOTIFY", default=5)
ACCOUNT_LOCK_SECONDS = env.int("ACCOUNT_LOCK_SECONDS", default=60 * 60)
RECOVERY_CODE_COUNT = 10
# A support MFA reset takes effect this long after it is asked for; the user is emailed at
# once and may cancel it meanwhile (an attacker talking support into it is then too slow).
SUPPORT_MFA_RESET_DELAY_SECONDS = env.int("SUPPORT_MFA_RESET_DELAY_SECONDS", default=72 * 60 * 60)
# A closed account can be reopened by support this long; then `manage.py accounts_purge_closed`
# deletes it.
ACCOUNT_CLOSED_RETENTION_DAYS = env.int("ACCOUNT_CLOSED_RETENTION_DAYS", default=30)

# --- Password and sign-up throttles -----------------------------------------------
# A sign-up on a taken email tells its owner, at most once in this time per address.
SIGNUP_ATTEMPT_NOTICE_COOLDOWN_SECONDS = env.int("SIGNUP_ATTEMPT_NOTICE_COOLDOWN_SECONDS", default=60 * 60)
LOGIN_FAILURES_BEFORE_DELAY = env.int("LOGIN_FAILURES_BEFORE_DELAY", default=5)
LOGIN_DELAY_MAX_SECONDS = env.int("LOGIN_DELAY_MAX_SECONDS", default=15 * 60)
LOGIN_FAILURE_MEMORY_SECONDS = env.int("LOGIN_FAILURE_MEMORY_SECONDS", default=24 * 60 * 60)
LOGIN_IP_MAX_FAILURES = env.int("LOGIN_IP_MAX_FAILURES", default=100)
LOGIN_IP_WINDOW_SECONDS = env.int("LOGIN_IP_WINDOW_SECONDS", default=15 * 60)
# Number of reverse proxies in front of the service whose X-Forwarded-For is trusted.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)

# --- JWT -----------------------------------------------------------------------------
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="", multiline=True)
JWT_SIGNING_KEY_FILE = env.str("JWT_SIGNING_KEY_FILE", default="")
# Public key(s) of retired signing keys, still listed in the JWKS and accepted until
# the tokens they signed have expired.
JWT_PREVIOUS_VERIFYING_KEY = env.str("JWT_PREVIOUS_VERIFYING_KEY", default="", multiline=True)
JWT_PREVIOUS_VERIFYING_KEY_FILE = env.str("JWT_PREVIOUS_VERIFYING_KEY_FILE", default="")
JWT_ISSUER = env.str("JWT_ISSUER", default="auth-service")
JWT_AUDIENCE = env.str("JWT_AUDIENCE", default="auth-service-clients")
JWT_ROTATE_REFRESH_TOKENS = env.bool("JWT_ROTATE_REFRESH_TOKENS", default=False)
# Tokens each worker remembers as verified, so a client's next request with the same token skips
# the signature check (`exp` is still checked): about 1.5 KB each (accounts/auth/tokens.py VerifiedTokens).
JWT_VERIFIED_TOKENS_KEPT = env.int("JWT_VERIFIED_TOKENS_KEPT", default=4096)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_TOKEN_LIFETIME_SECONDS", default=15 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        seconds=env.int("JWT_REFRESH_TOKEN_LIFETIME_SECONDS", default=30 * 24 * 60 * 60)
    ),
    "ROTATE_REFRESH_TOKENS": JWT_ROTATE_REFRESH_TOKENS,
    "ISSUER": JWT_ISSUER,
    "AUDIENCE": JWT_AUDIENCE,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "AUTH_TOKEN_CLASSES": ("accounts.auth.tokens.IdToken",),
    "UPDATE_LAST_LOGIN": False,
}

# --- OpenID Connect provider (django-oauth-toolkit; oidc/, README "Sign in with this service") ---
# id_tokens for other applications are signed RS256 with this RSA key (2048 bits or more), listed
# in the JWKS beside the ES256 keys; without it no application can be given RS256.
OIDC_RSA_PRIVATE_KEY = env.str("OIDC_RSA_PRIVATE_KEY", default="", multiline=True)
OIDC_RSA_PRIVATE_KEY_FILE = env.str("OIDC_RSA_PRIVATE_KEY_FILE", default="")
# The models of django-oauth-toolkit, each with the session row its tokens belong to (oidc/models.py).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oidc.Application"
OAUTH2_PROVIDER_GRANT_MODEL = "oidc.Grant"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oidc.AccessToken"  # noqa: S105 - a model name
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oidc.RefreshToken"  # noqa: S105 - a model name
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oidc.IDToken"  # noqa: S105 - a model name
# Redirect URI schemes an application may register; local and test settings add http.
OIDC_REDIRECT_URI_SCHEMES = env.list("OIDC_REDIRECT_URI_SCHEMES", default=["https"])


def oauth2_provider_settings(*, rsa_private_key: str, issuer: str, redirect_schemes: list[str]) -> dict:
    """django-oauth-toolkit's settings: OpenID Connect on, RFC 9700's choices, this service's lifetimes."""
    return {
        "OIDC_ENABLED": True,
        "OIDC_RSA_PRIVATE_KEY": rsa_private_key,
        "OIDC_ISS_ENDPOINT": issuer,
        "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
        # The id_token_hint names the session it ends; a hint of another user still asks first.
        "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
        "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
        # The grant the id_token names ends (oidc/views.py), not every application's tokens.
        "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": False,
        # The consent is remembered by oidc.Consent, not guessed from live tokens.
        "REQUEST_APPROVAL_PROMPT": "force",
        "OAUTH2_VALIDATOR_CLASS": "oidc.validators.OAuth2Validator",
        "SCOPES": {
            "openid": "Your account's identifier",
            "email": "Your email address",
            "profile": "Your account's language",
            "offline_access": "Staying signed in",
        },
        "DEFAULT_SCOPES": ["openid"],
        "ALLOWED_REDIRECT_URI_SCHEMES": redirect_schemes,
        "ALLOWED_SCHEMES": redirect_schemes,
        "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
        "ACCESS_TOKEN_EXPIRE_SECONDS": 15 * 60,
        "ID_TOKEN_EXPIRE_SECONDS": 15 * 60,
        "REFRESH_TOKEN_EXPIRE_SECONDS": 30 * 24 * 60 * 60,
        "ROTATE_REFRESH_TOKEN": True,
        "REFRESH_TOKEN_REUSE_PROTECTION": True,
        "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
        "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
        "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
        "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
        "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
        "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
        "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
        "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
        "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
        "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    }


def oidc_key_read(value: str, file_path: str) -> str:
    """The PEM text of the OpenID Connect signing key, from the variable or the file it names."""
    return value or (Path(file_path).read_text() if file_path else "")


OAUTH2_PROVIDER = oauth2_provider_settings(
    rsa_private_key=oidc_key_read(OIDC_RSA_PRIVATE_KEY, OIDC_RSA_PRIVATE_KEY_FILE),
    issuer=JWT_ISSUER,
    redirect_schemes=OIDC_REDIRECT_URI_SCHEMES,
)

# --- REST framework and OpenAPI -------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.auth.authentication.IdTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["accounts.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["accounts.api.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "accounts.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "accounts.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "register": env.str("REGISTER_RATE", default="100/hour"),
        "password_reset": env.str("PASSWORD_RESET_RATE", default="20/hour"),
        "passkey_login_options": env.str("PASSKEY_LOGIN_OPTIONS_RATE", default="60/minute"),
    },
    "NUM_PROXIES": NUM_PROXIES or None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Auth Service API",
    "DESCRIPTION": (
        "Email + password login issuing JWTs, second factors (TOTP, SMS, recovery "
        "codes), one-time codes, email verification and step-up with `x-otp`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/auth",
    "ENUM_NAME_OVERRIDES": {
        "CountryEnum": "otp.phone_numbers.SUPPORTED_COUNTRIES",
        "AccountStatusEnum": "accounts.models.User.Status",
        "SecondFactorMethodEnum": "otp.methods.METHOD_CHOICES",
        "HealthStateEnum": ["ok", "unavailable"],
        "LanguageEnum": LANGUAGES,
    },
    # Swagger UI's assets from the pinned drf-spectacular-sidecar package, served as our own
    # static files: no CDN, and the page keeps the site's Content-Security-Policy.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}

# --- Logs and metrics ----------------------------------------------------------------
# `json`: one JSON object per line (production's default), `plain` text otherwise (config/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
# GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it is a 404 for all.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Regions tried, in order, when staff search for a phone typed without its calling code.
PHONE_SEARCH_REGIONS = env.list("PHONE_SEARCH_REGIONS", default=["US", "GB", "ES", "FR", "DE"])

# --- Admin -------------------------------------------------------------------------------
# Staff need a verified second factor for the admin (django-otp's OTPAdminSite); only local
# development may turn this off.
ADMIN_REQUIRE_OTP = True

# --- Pages (account pages under /account/) ---------------------------------------------
LOGIN_URL = "account:login"
LOGIN_REDIRECT_URL = "account:security"
# Time allowed between the password and the second factor of a browser login.
LOGIN_SECOND_STEP_SECONDS = env.int("LOGIN_SECOND_STEP_SECONDS", default=10 * 60)
# "Don't ask again on this device": how long a trusted device skips the second factor.
TRUSTED_DEVICE_DAYS = env.int("TRUSTED_DEVICE_DAYS", default=30)
# The pages keep the trusted device's token in this HttpOnly, SameSite=Lax cookie (Secure
# when the session cookie is, as in production).
TRUSTED_DEVICE_COOKIE_NAME = "trusted_device"

# --- Account protection (accounts.auth.new_devices, accounts.flows.freezing) ------------------------
# Email "New sign-in to your account" after a login from a device the account has not used.
NEW_DEVICE_ALERTS = env.bool("NEW_DEVICE_ALERTS", default=True)
# An API login's rows commit without waiting for the disk flush (accounts/auth/login_rows.py):
# a PostgreSQL crash can lose the last moments' logins whole, whose tokens then fail closed.
LOGIN_COMMIT_ASYNC = env.bool("LOGIN_COMMIT_ASYNC", default=True)
# A device label and IP network seen at a login (or the sign-up) this recently is known.
NEW_DEVICE_MEMORY_DAYS = env.int("NEW_DEVICE_MEMORY_DAYS", default=90)
# The pages' long-lived device cookie (random, HttpOnly, SameSite=Lax, Secure when the session
# cookie is): a browser that sends it back is known to the users who logged in with it.
DEVICE_COOKIE_NAME = "device"
DEVICE_COOKIE_DAYS = 400
# How long the "This wasn't me: freeze my account" link of a security email works.
FREEZE_LINK_DAYS = env.int("FREEZE_LINK_DAYS", default=7)
# A browser session's `last_used_at` is written at most this often.
# A session's "last used" is stamped at most this often: by a browser's requests, and by
# refreshes on PostgreSQL (most refreshes then write nothing).
SESSION_TOUCH_SECONDS = 60
BROWSER_SESSION_TOUCH_SECONDS = SESSION_TOUCH_SECONDS

# Content-Security-Policy (django-csp): the pages load only their own stylesheet and script;
# the QR code is inline SVG. Swagger UI (/api/docs/) runs under it too: its assets and its
# start-up script are our own static files and a script URL of the docs view.
MIDDLEWARE += ["csp.middleware.CSPMiddleware"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    },
}
