"""The API's request parser: DRF's JSON parser, refusing JSON that parses but is no valid text."""

from __future__ import annotations

import json
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """Two kinds of JSON that DRF's parser lets through as a 500 are parse errors here.

    A few kilobytes of `[[[[...` exhaust Python's recursion limit; and `"\\ud800"` parses to a
    lone surrogate that no UTF-8 answer can carry, so an error message echoing it (an
    unknown enum value) could not even be rendered.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as error:
            raise ParseError("JSON parse error - the document is nested too deeply.") from error
        try:
            json.dumps(data, ensure_ascii=False).encode()
        except UnicodeEncodeError as error:
            raise ParseError(
                "JSON parse error - a string holds a lone surrogate (\\ud800-\\udfff)."
            ) from error
        return data
