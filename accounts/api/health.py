"""`GET /healthz`: whether the database and the cache answer."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.core.errors import ErrorCode


class HealthApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=["ok", "unavailable"])
        database = serializers.ChoiceField(choices=["ok", "unavailable"])
        cache = serializers.ChoiceField(choices=["ok", "unavailable"])

    @extend_schema(
        operation_id="healthz",
        responses={
            200: OutputSerializer,
            503: OpenApiResponse(OutputSerializer, description="A dependency is down"),
        },
    )
    def get(self, request: Request) -> Response:
        checks = {"database": _database_ok(), "cache": _cache_ok()}
        healthy = all(checks.values())
        body: dict[str, str] = {"status": "ok" if healthy else "unavailable"}
        body.update({name: "ok" if ok else "unavailable" for name, ok in checks.items()})
        if not healthy:
            body.update(code=ErrorCode.SERVICE_UNAVAILABLE, detail=_("A dependency of the service is down."))
        return Response(body, status=200 if healthy else 503)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means the database cannot serve us
        return False


def _cache_ok() -> bool:
    try:
        cache.set("healthz", "ok", timeout=5)
        return cache.get("healthz") == "ok"
    except Exception:  # noqa: BLE001 - any failure means the cache cannot serve us
        return False
