"""Per-IP request rates of the API's (and the pages') unauthenticated doors, as DRF throttles."""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class RegisterRateThrottle(SimpleRateThrottle):
    """Sign-up requests per IP, whatever the answer (100 an hour by default)."""

    scope = "register"

    def get_rate(self) -> str | None:
        # Read at request time, so a changed setting applies without a restart of the class.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PasswordResetRateThrottle(RegisterRateThrottle):
    scope = "password_reset"


class PasskeyLoginOptionsRateThrottle(RegisterRateThrottle):
    """Passwordless login challenges per IP (60 a minute by default).

    Each one is kept in the cache for five minutes before anyone answers it: without a limit,
    one client could fill the cache with them.
    """

    scope = "passkey_login_options"
