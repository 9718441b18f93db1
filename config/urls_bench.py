"""The service's URLs plus what the benchmark compares it with in-project: the ceiling (a trivial DRF view) and
the floor of a login (the bare Argon2id check). The stock app is bench/stock/."""

from __future__ import annotations

import functools

import orjson
from django.contrib.auth.hashers import check_password, make_password
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as service_urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


class CeilingApi(APIView):
    """The fastest a DRF view can answer on this stack: no authentication, no database."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


HASH_FLOOR_PASSWORD = "bench-floor-password"  # noqa: S105 - a benchmark's, on loopback


@functools.cache
def _floor_hash() -> str:
    return make_password(HASH_FLOOR_PASSWORD)


@csrf_exempt
def hash_floor(request: HttpRequest) -> HttpResponse:
    """The floor of a login: the body's password checked against one Argon2id hash, nothing else."""
    password = orjson.loads(request.body).get("password", "")
    return JsonResponse({"ok": check_password(password, _floor_hash())})


urlpatterns = [
    *service_urlpatterns,
    path("bench/ceiling", CeilingApi.as_view(), name="bench-ceiling"),
    path("bench/hash-floor", hash_floor, name="bench-hash-floor"),
]
