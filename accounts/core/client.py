"""Who is asking: the client's IP address and User-Agent, as services record them."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils import translation

USER_AGENT_MAX_LENGTH = 512


@dataclass(frozen=True)
class Client:
    ip: str | None = None
    user_agent: str = ""
    # The language the request asked for (Accept-Language or the pages' menu); empty outside one.
    language: str = ""


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the address `NUM_PROXIES` trusted proxies put in X-Forwarded-For."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.NUM_PROXIES and forwarded:
        addresses = [address.strip() for address in forwarded.split(",")]
        return addresses[-min(settings.NUM_PROXIES, len(addresses))]
    return request.META.get("REMOTE_ADDR")


def client_from(request: HttpRequest) -> Client:
    return Client(
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX_LENGTH],
        language=translation.get_language() or settings.LANGUAGE_CODE,
    )
