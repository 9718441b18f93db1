"""`GET /auth/me/events`: the caller's security history, newest first, a page at a time."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors
from accounts.api.schema import error_responses
from accounts.core.errors import ErrorCode
from accounts.models import SecurityEvent

PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100
# Keeps the SQL offset within a 64-bit integer.
PAGE_MAX = 1_000_000


class SecurityEventSerializer(serializers.Serializer):
    """An event as its user sees it: who did it (never which staff member), from where, and details."""

    type = serializers.ChoiceField(choices=SecurityEvent.Type.choices)
    actor = serializers.ChoiceField(
        choices=SecurityEvent.Actor.choices, help_text="USER (you), STAFF (our support team) or SYSTEM."
    )
    createdAt = serializers.DateTimeField(source="created_at")
    ipAddress = serializers.IPAddressField(source="ip_address", allow_null=True)
    userAgent = serializers.CharField(source="user_agent", allow_blank=True)
    details = serializers.DictField(
        help_text="What the event is about, e.g. the factor or the reason support gave; never a secret."
    )


class SecurityEventListApi(APIView):
    class InputSerializer(serializers.Serializer):
        page = serializers.IntegerField(min_value=1, max_value=PAGE_MAX, default=1)
        pageSize = serializers.IntegerField(min_value=1, max_value=PAGE_SIZE_MAX, default=PAGE_SIZE_DEFAULT)

    class OutputSerializer(serializers.Serializer):
        count = serializers.IntegerField(help_text="Events in the whole history.")
        page = serializers.IntegerField()
        pageSize = serializers.IntegerField()
        hasNext = serializers.BooleanField()
        results = SecurityEventSerializer(many=True)

    @extend_schema(
        operation_id="me_events",
        parameters=[InputSerializer],
        responses={
            200: OpenApiResponse(OutputSerializer, description="A page of the history, newest first"),
            **error_responses(ErrorCode.VALIDATION_ERROR),
        },
    )
    def get(self, request: Request) -> Response:
        query = self.InputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page, page_size = query.validated_data["page"], query.validated_data["pageSize"]
        events = selectors.security_events_for_user(user=request.user)
        count = events.count()
        offset = (page - 1) * page_size
        body = {
            "count": count,
            "page": page,
            "pageSize": page_size,
            "hasNext": offset + page_size < count,
            "results": SecurityEventSerializer(events[offset : offset + page_size], many=True).data,
        }
        return Response(body)
