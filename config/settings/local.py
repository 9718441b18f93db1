"""Local development: SQLite, console email and SMS, a generated signing key."""

from __future__ import annotations

from accounts.auth.signing_keys import ensure_development_key
from config.settings.base import *  # noqa: F403
from config.settings.base import BASE_DIR, TASK_BACKENDS, env, oauth2_provider_settings, oidc_key_read

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="django-insecure-local-development-only")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

if not (JWT_SIGNING_KEY or JWT_SIGNING_KEY_FILE):
    JWT_SIGNING_KEY_FILE = str(ensure_development_key(BASE_DIR / ".keys" / "jwt-dev.pem"))
if not (OIDC_RSA_PRIVATE_KEY or OIDC_RSA_PRIVATE_KEY_FILE):
    OIDC_RSA_PRIVATE_KEY_FILE = str(ensure_development_key(BASE_DIR / ".keys" / "oidc-dev.pem", rsa_key=True))
# Applications on a developer machine may redirect to http://localhost.
OAUTH2_PROVIDER = oauth2_provider_settings(
    rsa_private_key=oidc_key_read(OIDC_RSA_PRIVATE_KEY, OIDC_RSA_PRIVATE_KEY_FILE),
    issuer=JWT_ISSUER,
    redirect_schemes=["https", "http"],
)

# Staff may use the admin without a second factor on a developer machine only.
ADMIN_REQUIRE_OTP = env.bool("ADMIN_REQUIRE_OTP", default=False)
WHITENOISE_AUTOREFRESH = True
# Emails leave in the process once the transaction commits: `make run` needs no worker.
TASKS = {"default": {"BACKEND": TASK_BACKENDS[env.str("TASKS_BACKEND", default="immediate")]}}
