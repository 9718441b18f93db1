"""`GET /.well-known/jwks.json`: the keys that verify every token the service signs."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth.signing_keys import key_set


class JwksApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="jwks",
        responses={
            200: inline_serializer("Jwks", {"keys": serializers.ListField(child=serializers.DictField())})
        },
    )
    def get(self, request: Request) -> Response:
        response = Response(key_set().jwks())
        response["Cache-Control"] = "public, max-age=300"
        return response
