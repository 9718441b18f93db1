"""The session and trusted-device endpoints: list where the user is signed in, end one, stop trusting one."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.schema import error_responses
from accounts.auth import sessions, trusted_devices
from accounts.core.client import client_from
from accounts.core.errors import ErrorCode
from accounts.models import TrustedDevice, UserSession


def _id_parameter(name: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, OpenApiTypes.UUID, OpenApiParameter.PATH, description="The id as the list gives it."
    )


def _current_session_id(request: Request) -> str | None:
    return request.auth.get("sid") if request.auth is not None else None


class SessionListApi(APIView):
    class SessionSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        kind = serializers.ChoiceField(choices=UserSession.Kind.values)
        createdAt = serializers.DateTimeField(source="created_at")
        lastUsedAt = serializers.DateTimeField(source="last_used_at")
        ip = serializers.IPAddressField(allow_null=True)
        device = serializers.CharField(
            help_text='A readable label: "Firefox on Windows", "Safari on iPhone".'
        )
        userAgent = serializers.CharField(source="user_agent", allow_blank=True)
        amr = serializers.ListField(child=serializers.CharField())
        current = serializers.SerializerMethodField(help_text="The session of the bearer token.")

        def get_current(self, session: UserSession) -> bool:
            return str(session.pk) == self.context["current"]

    @extend_schema(
        operation_id="sessions_list",
        responses={
            200: OpenApiResponse(
                inline_serializer("SessionList", {"sessions": SessionSerializer(many=True)}),
                description="The live sessions of the user, newest first",
            ),
            **error_responses(),
        },
    )
    def get(self, request: Request) -> Response:
        listed = self.SessionSerializer(
            sessions.sessions_live_of(user=request.user),
            many=True,
            context={"current": _current_session_id(request)},
        )
        return Response({"sessions": listed.data})

    @extend_schema(
        operation_id="sessions_end_others",
        request=None,
        responses={
            204: OpenApiResponse(description="Every session of the user but the current one has ended"),
            **error_responses(),
        },
    )
    def delete(self, request: Request) -> Response:
        sessions.sessions_end_others(
            user=request.user, current_id=_current_session_id(request), client=client_from(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionApi(APIView):
    @extend_schema(
        operation_id="session_end",
        parameters=[_id_parameter("session_id")],
        request=None,
        responses={
            204: OpenApiResponse(
                description="The session has ended: its tokens are refused, a browser is logged out"
            ),
            **error_responses(ErrorCode.NOT_FOUND),
        },
    )
    def delete(self, request: Request, session_id: str) -> Response:
        sessions.session_end(user=request.user, session_id=session_id, client=client_from(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TrustedDeviceListApi(APIView):
    class DeviceSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        device = serializers.CharField()
        createdAt = serializers.DateTimeField(source="created_at")
        lastUsedAt = serializers.DateTimeField(
            source="last_used_at", required=False, help_text="Absent until the device is used."
        )
        expiresAt = serializers.DateTimeField(source="expires_at")
        current = serializers.SerializerMethodField(help_text="The device of the request's `x-device-token`.")

        def get_current(self, device: TrustedDevice) -> bool:
            return device.pk == self.context["current"]

        def to_representation(self, device: TrustedDevice) -> dict[str, Any]:
            row = super().to_representation(device)
            if row["lastUsedAt"] is None:  # optional fields are absent, never null
                del row["lastUsedAt"]
            return row

    @extend_schema(
        operation_id="trusted_devices_list",
        parameters=[
            OpenApiParameter(
                "x-device-token",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description="This device's token, to mark it `current`.",
            )
        ],
        responses={
            200: OpenApiResponse(
                inline_serializer("TrustedDeviceList", {"devices": DeviceSerializer(many=True)}),
                description="The devices the user trusts, newest first",
            ),
            **error_responses(),
        },
    )
    def get(self, request: Request) -> Response:
        mine = trusted_devices.trusted_device_of(
            user=request.user, token=request.headers.get("x-device-token")
        )
        listed = self.DeviceSerializer(
            trusted_devices.trusted_devices_live_of(user=request.user),
            many=True,
            context={"current": mine.pk if mine is not None else None},
        )
        return Response({"devices": listed.data})


class TrustedDeviceApi(APIView):
    @extend_schema(
        operation_id="trusted_device_remove",
        parameters=[_id_parameter("device_id")],
        request=None,
        responses={
            204: OpenApiResponse(description="The device is no longer trusted"),
            **error_responses(ErrorCode.NOT_FOUND),
        },
    )
    def delete(self, request: Request, device_id: str) -> Response:
        trusted_devices.trusted_device_remove(
            user=request.user, device_id=device_id, client=client_from(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
