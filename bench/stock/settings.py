"""The stock app's settings: `django-admin startproject`'s, DRF with SimpleJWT's documented setup, nothing tuned.

What is not a default, and why: DEBUG off and loopback hosts (a benchmark of production mode),
the service's Argon2id parameters (the same hash on both sides), persistent database
connections (as the service's bench settings: with Django's default of none, the stock app
would pay a PostgreSQL connect per request and look slower than it can be), and no logging.
The database is its own, on the same PostgreSQL server as the service's; its name must
contain "bench" (it is emptied at each run).
"""

from __future__ import annotations

from datetime import timedelta

import environ

env = environ.Env()

SECRET_KEY = env.str("STOCK_SECRET_KEY", default="stock-bench-secret-key-not-for-production-0123456789abcdef")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
]

# startproject's list, less the admin (not installed).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bench.stock.urls"
WSGI_APPLICATION = "bench.stock.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/bench_stock")}
DATABASES["default"]["CONN_MAX_AGE"] = None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The service's Argon2id costs (m=19 MiB, t=2, p=1): the class only sets those three numbers.
PASSWORD_HASHERS = ["accounts.core.hashers.Argon2idPasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

# SimpleJWT's "Getting started": its authentication class, every other SIMPLE_JWT setting
# its default (HS256 with SECRET_KEY, 1-day refresh tokens).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ("rest_framework_simplejwt.authentication.JWTAuthentication",),
}
# The one change: access tokens made at the start of a run must outlive it (the default is 5
# minutes, a run lasts up to 10). A lifetime changes no work done per request.
SIMPLE_JWT = {"ACCESS_TOKEN_LIFETIME": timedelta(hours=1)}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "root": {"handlers": ["null"], "level": "WARNING"},
}
