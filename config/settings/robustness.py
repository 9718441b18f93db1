"""The live server of the robustness suite: test settings served by gunicorn, codes written to files.

Started by `tests/robustness/live_server.py` with its own database, cache and file paths in
the environment, so a harness outside the process reads every SMS and email it sends.
"""

from __future__ import annotations

from config.settings.base import CACHE_BACKENDS, env
from config.settings.test import *  # noqa: F403

DEBUG = False
# `localhost` for the browser and the relying parties of the OpenID Connect tests.
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

SMS_BACKEND = "file"
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://robustness")}
CACHES["default"]["BACKEND"] = CACHE_BACKENDS.get(CACHES["default"]["BACKEND"], CACHES["default"]["BACKEND"])
# Each live server keeps its keys apart from every other user of the same Redis database.
CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", default="")

# Unexpected errors go to gunicorn's stderr, where the suite shows them on failure.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}},
}

# The pages' stylesheet and scripts straight from static/ (no collectstatic before a test run).
WHITENOISE_USE_FINDERS = True
