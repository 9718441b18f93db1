"""WSGI entry point (gunicorn, see gunicorn.conf.py): the API's paths on a lean handler, the rest on the site's."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django.setup(set_prefix=False)

from config.api_handler import api_dispatcher  # noqa: E402 - needs the settings set up

application = api_dispatcher()
