"""The profile's dates: written as DRF's DateTimeField writes them, by a shorter path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone as django_timezone
from rest_framework import serializers

from accounts.api.serializers import iso_8601

DATES = [
    datetime(2026, 12, 1, 23, 58, 21, 248244, tzinfo=UTC),
    datetime(2026, 12, 1, 23, 58, 21, tzinfo=UTC),  # no microseconds: no fraction written
    datetime(2026, 6, 1, 12, 0, tzinfo=ZoneInfo("Europe/Madrid")),
    datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5))),
    datetime(2026, 6, 1, 12, 0),  # naive
]


@pytest.mark.parametrize("value", DATES, ids=["utc", "whole second", "madrid", "offset", "naive"])
@pytest.mark.parametrize("current", ["UTC", "Europe/Madrid"])
def test_iso_8601_is_drfs_datetime_field(value: datetime, current: str) -> None:
    with django_timezone.override(ZoneInfo(current)):
        assert iso_8601(value) == serializers.DateTimeField().to_representation(value)


def test_utc_ends_in_z() -> None:
    assert iso_8601(DATES[0]) == "2026-12-01T23:58:21.248244Z"
