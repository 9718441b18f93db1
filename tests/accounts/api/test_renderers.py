"""The orjson renderer writes exactly what DRF's JSON renderer writes."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer as DrfJSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict

from accounts.api.renderers import JSONRenderer

UTC = dt.UTC
SAMPLES = [
    {"validUntil": dt.datetime(2026, 12, 1, 21, 40, 5, tzinfo=UTC)},
    {"validUntil": dt.datetime(2026, 12, 1, 21, 40, 5, 123456, tzinfo=UTC)},
    {"at": dt.datetime(2026, 12, 1, 21, 40, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))},
    {"day": dt.date(2026, 12, 1), "time": dt.time(21, 40, 5, 120000)},
    {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "amount": Decimal("1.5")},
    {"detail": gettext_lazy("This field is required.")},
    {"methods": ("TOTP", "SMS"), "nested": [{"a": None, "b": True, "c": 0}]},
    {"name": "Zoë — 東京 ✓", "line": "a\u2028b\u2029c", "quote": 'say "hi"\n\t\\'},
    {1: "int key", "retryAfter": 60},
    {"huge": 2**70},
    ReturnDict({"email": "a@example.com"}, serializer=None),
    [],
    "text",
]


@pytest.mark.parametrize("data", SAMPLES, ids=range(len(SAMPLES)))
def test_the_same_bytes_as_drf(data: object) -> None:
    assert JSONRenderer().render(data) == DrfJSONRenderer().render(data)


def test_a_utc_datetime_ends_in_z() -> None:
    content = JSONRenderer().render({"validUntil": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)})

    assert content == b'{"validUntil":"2026-01-02T03:04:05Z"}'


def test_nothing_renders_as_no_bytes() -> None:
    assert JSONRenderer().render(None) == b""


def test_an_indent_asked_for_is_drfs_pretty_print() -> None:
    data = {"a": [1, 2]}

    content = JSONRenderer().render(data, "application/json; indent=2")

    assert content == DrfJSONRenderer().render(data, "application/json; indent=2")
    assert b"\n  " in content


def test_a_lone_surrogate_fails_as_with_drf() -> None:
    with pytest.raises(UnicodeEncodeError):
        DrfJSONRenderer().render({"bad": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        JSONRenderer().render({"bad": "\ud800"})


def test_the_api_renders_with_it(settings: object) -> None:
    from rest_framework.settings import api_settings

    assert [JSONRenderer] == api_settings.DEFAULT_RENDERER_CLASSES
