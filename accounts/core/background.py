"""Work done off the request's time: emails, and what would make an answer's timing tell something.

With `EMAIL_SEND_IN_BACKGROUND` off (the tests) the work runs at once, in the request.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)


def _run_and_close_connections(work: Callable[[], None]) -> None:
    try:
        work()
    except Exception:
        logger.exception("Background work %s failed", getattr(work, "__qualname__", work))
    finally:
        # The thread's own database connection, if the work opened one.
        connections.close_all()


def work_in_background(work: Callable[[], None]) -> None:
    """Run `work` in a thread of its own, or at once when background work is off."""
    if settings.EMAIL_SEND_IN_BACKGROUND:
        # In a copy of the request's context, so its log records keep the request id.
        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(_run_and_close_connections, work), daemon=True).start()
    else:
        work()
