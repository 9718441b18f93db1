"""Test settings: a fixed signing key, fast hashing, in-memory email and SMS.

`DATABASE_URL` and `CACHE_URL` still apply, so the same suite runs on PostgreSQL + Redis.
"""

from __future__ import annotations

import os
from pathlib import Path

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    CACHE_BACKENDS,
    JWT_ISSUER,
    TASK_BACKENDS,
    env,
    oauth2_provider_settings,
    oidc_key_read,
)

SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdefghijklmnopqrstuvwxyz"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

# The fixed test key; never used outside the test suite.
JWT_SIGNING_KEY = ""
JWT_SIGNING_KEY_FILE = str(
    Path(__file__).resolve().parent.parent.parent / "tests" / "keys" / "es256-test.pem"
)
JWT_PREVIOUS_VERIFYING_KEY = ""
JWT_PREVIOUS_VERIFYING_KEY_FILE = ""
OIDC_RSA_PRIVATE_KEY = ""
OIDC_RSA_PRIVATE_KEY_FILE = str(
    Path(__file__).resolve().parent.parent.parent / "tests" / "keys" / "rs256-test.pem"
)
OAUTH2_PROVIDER = oauth2_provider_settings(
    rsa_private_key=oidc_key_read("", OIDC_RSA_PRIVATE_KEY_FILE),
    issuer=JWT_ISSUER,
    redirect_schemes=["https", "http"],
)

# Argon2id with the production parameters is tested on its own (tests/accounts/flows/test_passwords.py);
# the rest of the suite hashes with a cheap hasher to stay fast.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "accounts.core.hashers.Argon2idPasswordHasher",
]

# In memory, unless EMAIL_URL names an SMTP server (the worker processes of
# tests/accounts/core/test_tasks_worker.py send to one the test runs).
if not env.str("EMAIL_URL", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks run in the test's process once the transaction commits; the tests of the worker
# (tests/accounts/core/test_tasks_worker.py) switch to the database backend themselves.
TASKS = {"default": {"BACKEND": TASK_BACKENDS[env.str("TASKS_BACKEND", default="immediate")]}}
SMS_BACKEND = "locmem"
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://tests")}
CACHES["default"]["BACKEND"] = CACHE_BACKENDS.get(CACHES["default"]["BACKEND"], CACHES["default"]["BACKEND"])
# Tests flush the cache between them: each pytest-xdist worker gets a Redis database of its own
# (gw0 -> /1, gw1 -> /2, ...), so one worker's flush never empties another's throttles.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if CACHES["default"]["BACKEND"].endswith("RedisCache") and _XDIST_WORKER.startswith("gw"):
    _server, _, _database = CACHES["default"]["LOCATION"].rpartition("/")
    CACHES["default"]["LOCATION"] = f"{_server}/{int(_database or 0) + 1 + int(_XDIST_WORKER[2:])}"
# No network in tests: the breach check is off unless a test turns it on against its local fake
# range API (tests/accounts/core/pwned_fake.py).
PWNED_PASSWORDS = False
PWNED_PASSWORDS_API_URL = "http://127.0.0.1:9/range/"
LOGGING = {"version": 1, "disable_existing_loggers": False}
WHITENOISE_AUTOREFRESH = True
