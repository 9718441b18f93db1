"""The stock app's WSGI entry point (`gunicorn bench.stock.wsgi`), as startproject writes it."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.stock.settings")

application = get_wsgi_application()
