"""The API's response renderer: DRF's JSON renderer writing with orjson, byte for byte the same JSON."""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework import renderers

# Compact output like DRF's COMPACT_JSON, UTF-8 like UNICODE_JSON, UTC datetimes ending in `Z`
# as DRF's encoder writes them, and non-string keys turned into strings as `json.dumps` does.
_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS
_LINE_SEPARATOR, _PARAGRAPH_SEPARATOR = "\u2028".encode(), "\u2029".encode()


class JSONRenderer(renderers.JSONRenderer):
    """orjson for the common case; DRF's own renderer for what orjson would write differently.

    Falls back for an `indent` asked for, and for what orjson refuses (integers beyond 64 bits,
    a lone surrogate) so that DRF answers or fails exactly as it did. Types orjson does not know
    (lazy translations, `Decimal`, ...) go through DRF's encoder, as before. Like DRF, it escapes
    U+2028 and U+2029, which JavaScript does not allow raw in a string.
    """

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            content = orjson.dumps(data, default=self.encoder_class().default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        if _LINE_SEPARATOR in content or _PARAGRAPH_SEPARATOR in content:
            content = content.replace(_LINE_SEPARATOR, b"\\u2028").replace(_PARAGRAPH_SEPARATOR, b"\\u2029")
        return content
