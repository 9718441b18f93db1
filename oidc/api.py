"""GET /.well-known/openid-configuration, as a full OpenID Provider document (oidc/discovery.py)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.discovery import OpenIdConfigurationApi
from oidc.discovery import openid_provider_configuration


class OpenIdProviderConfigurationApi(OpenIdConfigurationApi):
    class OutputSerializer(OpenIdConfigurationApi.OutputSerializer):
        token_endpoint = serializers.URLField(help_text="The OAuth 2 token endpoint (RFC 6749 errors).")
        authorization_endpoint = serializers.URLField()
        userinfo_endpoint = serializers.URLField()
        end_session_endpoint = serializers.URLField()
        revocation_endpoint = serializers.URLField()
        response_modes_supported = serializers.ListField(child=serializers.CharField())
        grant_types_supported = serializers.ListField(child=serializers.CharField())
        code_challenge_methods_supported = serializers.ListField(child=serializers.CharField())
        scopes_supported = serializers.ListField(child=serializers.CharField())
        token_endpoint_auth_methods_supported = serializers.ListField(child=serializers.CharField())
        revocation_endpoint_auth_methods_supported = serializers.ListField(child=serializers.CharField())
        prompt_values_supported = serializers.ListField(child=serializers.CharField())
        authorization_response_iss_parameter_supported = serializers.BooleanField()

    @extend_schema(operation_id="openid_configuration", responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        base_url = settings.PUBLIC_BASE_URL or request.build_absolute_uri("/")
        response = Response(openid_provider_configuration(base_url=base_url))
        response["Cache-Control"] = "public, max-age=300"
        return response
