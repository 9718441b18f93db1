"""`GET /auth/me`: the caller's profile (served on the hot path when all is in order)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import hot
from accounts.api.hot import HotPathApi
from accounts.api.schema import error_responses
from accounts.api.serializers import ProfileSerializer, profile_of
from accounts.core.errors import ErrorCode
from accounts.flows import registration as registration_flows
from otp.services.mfa_reset_apply import mfa_reset_apply_if_due


class MeApi(HotPathApi):
    """The profile; its GET takes the hot path (config/hot_path.py) with a valid idToken."""

    hot_method = "GET"

    class UpdateInputSerializer(serializers.Serializer):
        language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False)

    @extend_schema(operation_id="me", responses={200: ProfileSerializer, **error_responses()})
    def get(self, request: Request) -> Response:
        return Response(profile_of(mfa_reset_apply_if_due(request.user)))

    def hot_answer(self, request: HttpRequest) -> HttpResponse | None:
        def profile() -> HttpResponse | None:
            user = hot.bearer_user(request)
            if user is None:
                return None  # no token or a refused one: DRF answers 401
            request.user = user  # for the request's log line, as DRF sets it
            return self.hot_response(profile_of(mfa_reset_apply_if_due(user)))

        return hot.handled(self, profile)

    @extend_schema(
        operation_id="me_update",
        request=UpdateInputSerializer,
        responses={200: ProfileSerializer, **error_responses(ErrorCode.VALIDATION_ERROR)},
    )
    def patch(self, request: Request) -> Response:
        data = self.UpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        if "language" in data.validated_data:
            user = registration_flows.user_language_set(user=user, language=data.validated_data["language"])
        return Response(ProfileSerializer(user).data)
