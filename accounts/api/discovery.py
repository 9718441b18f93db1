"""GET /.well-known/openid-configuration: lets standard JWT libraries find our verification keys."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth.discovery import openid_configuration


class OpenIdConfigurationApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        # OpenID Connect Discovery 1.0 names: snake_case here, unlike the rest of the API.
        issuer = serializers.CharField(help_text="The `iss` of every idToken.")
        jwks_uri = serializers.URLField()
        token_endpoint = serializers.URLField(help_text="POST /auth/login (JSON, not an OAuth 2 grant).")
        id_token_signing_alg_values_supported = serializers.ListField(child=serializers.CharField())
        subject_types_supported = serializers.ListField(child=serializers.CharField())
        response_types_supported = serializers.ListField(child=serializers.CharField())
        claims_supported = serializers.ListField(child=serializers.CharField())

    @extend_schema(operation_id="openid_configuration", responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        # The operator's public origin, as in the emails' links; the request's own without one.
        base_url = settings.PUBLIC_BASE_URL or request.build_absolute_uri("/")
        response = Response(openid_configuration(base_url=base_url))
        response["Cache-Control"] = "public, max-age=300"
        return response
