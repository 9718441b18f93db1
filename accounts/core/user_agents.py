"""A readable label for a User-Agent ("Firefox on Windows", "Safari on iPhone"), parsed by ua-parser."""

from __future__ import annotations

import functools

from ua_parser import parse

UNKNOWN_DEVICE = "Unknown device"
DEVICE_LABEL_MAX_LENGTH = 128

# The parser's names where people know a shorter one.
_BROWSER_NAMES = {
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari",
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome",
    "HeadlessChrome": "Chrome",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
}
_SYSTEM_NAMES = {"Mac OS X": "macOS"}
# Devices named rather than their system: "Safari on iPhone", not "Safari on iOS".
_NAMED_DEVICES = frozenset({"iPhone", "iPad", "iPod"})


@functools.lru_cache(maxsize=1024)
def device_label(user_agent: str) -> str:
    """`Firefox on Windows`; the browser or the system alone when only one is known."""
    if not user_agent:
        return UNKNOWN_DEVICE
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else ""
    browser = _BROWSER_NAMES.get(browser, browser)
    if result.device and result.device.family in _NAMED_DEVICES:
        platform = result.device.family
    else:
        system = result.os.family if result.os else ""
        platform = _SYSTEM_NAMES.get(system, system)
    label = " on ".join(part for part in (browser, platform) if part and part != "Other")
    return (label or UNKNOWN_DEVICE)[:DEVICE_LABEL_MAX_LENGTH]
