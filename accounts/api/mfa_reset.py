"""`DELETE /auth/me/mfa-reset`: the user cancels the reset of their second factors that support scheduled."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.headers import otp_header
from accounts.api.schema import OTP_HEADER, error_responses
from accounts.core.client import client_from
from accounts.core.errors import ErrorCode
from accounts.flows.mfa_resets import mfa_reset_cancel_by_owner


class MfaResetCancelApi(APIView):
    @extend_schema(
        operation_id="me_mfa_reset_cancel",
        request=None,
        parameters=[OTP_HEADER],
        responses={
            204: OpenApiResponse(description="The scheduled reset is cancelled; the user is emailed"),
            **error_responses(
                ErrorCode.NOT_FOUND,
                ErrorCode.OTP_INVALID,
                ErrorCode.OTP_THROTTLED,
                ErrorCode.ACCOUNT_LOCKED,
            ),
        },
    )
    def delete(self, request: Request) -> Response:
        mfa_reset_cancel_by_owner(user=request.user, otp=otp_header(request), client=client_from(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
