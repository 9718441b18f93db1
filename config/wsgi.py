"""WSGI entry point (gunicorn, see gunicorn.conf.py): the hot requests, then the API's paths on a lean handler, the rest on the site's."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django.setup(set_prefix=False)

from config.api_handler import api_dispatcher  # noqa: E402
from config.hot_path import HotPathApplication  # noqa: E402 - needs the settings set up

application = HotPathApplication(api_dispatcher())
