"""The service's URLs plus the in-project ceiling the benchmark compares it with (the stock app is bench/stock/)."""

from __future__ import annotations

from django.urls import path
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


urlpatterns = [
    *service_urlpatterns,
    path("bench/ceiling", CeilingApi.as_view(), name="bench-ceiling"),
]
