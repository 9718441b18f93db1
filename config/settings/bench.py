"""Benchmark: production settings on local PostgreSQL + Redis, with the limits a load generator trips lifted.

Everything that costs time in production stays: DEBUG off, Argon2id, ES256 signing, the
database and cache round trips. What changes is only what would refuse or slow the load
generator (resend cool-downs, SMS caps, failure throttles, the HTTPS redirect) and where
codes go (files instead of a console or a gateway).
"""

from __future__ import annotations

import os
from pathlib import Path

# Production insists on a secret from the environment; a benchmark on loopback may use a fixed one.
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-secret-key-not-for-production-0123456789abcdefghijklmnop")

from config.settings.production import *  # noqa: F403
from config.settings.production import (
    BASE_DIR,
    CACHE_BACKENDS,
    DATABASES,
    REST_FRAMEWORK,
    env,
    postgres_statements_prepared,
)

BENCH_DIR = Path(env.str("BENCH_DIR", default=str(BASE_DIR / "var" / "bench")))

ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "config.urls_bench"

DATABASES["default"] = postgres_statements_prepared(
    env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/bench")
)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = None  # one connection per worker, as behind a pooler
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
CACHES = {"default": env.cache("CACHE_URL", default="redis://127.0.0.1:6379/7")}
CACHES["default"]["BACKEND"] = CACHE_BACKENDS.get(CACHES["default"]["BACKEND"], CACHES["default"]["BACKEND"])

JWT_SIGNING_KEY = ""
JWT_SIGNING_KEY_FILE = env.str(
    "JWT_SIGNING_KEY_FILE", default=str(BASE_DIR / "tests" / "keys" / "es256-test.pem")
)
JWT_PREVIOUS_VERIFYING_KEY = ""
JWT_PREVIOUS_VERIFYING_KEY_FILE = ""

# Loopback plain HTTP: no TLS proxy in front to redirect to.
SECURE_SSL_REDIRECT = False

# Codes land in files: a console would make the terminal the bottleneck.
SMS_BACKEND = "file"
SMS_FILE_PATH = str(BENCH_DIR / "sms.jsonl")
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = str(BENCH_DIR / "emails")

# The load generator asks for codes back to back, from one IP, for the same users.
SMS_RESEND_COOLDOWN_SECONDS = 0
EMAIL_RESEND_COOLDOWN_SECONDS = 0
SMS_MAX_PER_USER_PER_DAY = 10**9
SMS_MAX_PER_NUMBER_PER_DAY = 10**9
SMS_MAX_PER_DAY = 10**9
LOGIN_IP_MAX_FAILURES = 10**9
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {scope: "1000000/second" for scope in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]},
}

# Request logs off; security events still go to the database as in production.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "root": {"handlers": ["null"], "level": "WARNING"},
}
