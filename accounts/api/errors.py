"""The one error shape of the API: `{code, detail, errors?}`, from every kind of failure."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from redis.exceptions import RedisError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.core.errors import ErrorCode, ServiceError

logger = logging.getLogger(__name__)

# DRF's own codes, renamed where ours would clash or read better.
DRF_CODES = {
    "method_not_allowed": "http_method_not_allowed",
    "invalid": ErrorCode.VALIDATION_ERROR,
}


def _field_errors(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(field): [str(message) for message in (messages if isinstance(messages, list) else [messages])]
            for field, messages in detail.items()
        }
    return {"nonFieldErrors": [str(message) for message in detail]}


def error_headers(error: ServiceError) -> dict[str, str] | None:
    """The headers of `error`'s answer: `Retry-After` when it says when to try again."""
    return {"Retry-After": str(error.retry_after)} if error.retry_after else None


def error_response(error: ServiceError) -> Response:
    return Response(error.body(), status=error.status, headers=error_headers(error))


def service_error_of(exc: Exception) -> ServiceError | None:
    """The refusal to answer for `exc`: a service's own, or 503 when the database or the cache failed (logged).

    None for any other error. Call it while handling `exc`, so that the log has its traceback.
    """
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, DatabaseError | RedisError):
        logger.exception("A dependency failed while serving an API request")
        return ServiceError(ErrorCode.SERVICE_UNAVAILABLE)
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    refusal = service_error_of(exc)
    if refusal is not None:
        return error_response(refusal)
    if isinstance(exc, exceptions.ValidationError):
        return Response(
            {
                "code": ErrorCode.VALIDATION_ERROR,
                "detail": _("The request is not valid."),
                "errors": _field_errors(exc.detail),
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, InvalidToken | exceptions.AuthenticationFailed):
        code, detail = "token_not_valid", _("The bearer token is missing, expired, revoked or not valid.")
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        detail = str(exc.detail) if not isinstance(exc.detail, dict | list) else exc.default_detail
    else:
        code, detail = "error", _("The request could not be served.")
    response.data = {"code": str(DRF_CODES.get(code, code)), "detail": str(detail)}
    return response


# Paths whose errors are JSON; the rest of the site gets Django's HTML error pages.
API_PATH_PREFIXES = ("/auth/", "/.well-known/", "/api/", "/healthz", "/metrics")


def _error_page(
    request: HttpRequest,
    html_view: Callable[..., HttpResponse],
    code: str,
    detail: str,
    status_code: int,
    *args: Any,
) -> HttpResponse:
    if request.path.startswith(API_PATH_PREFIXES):
        return JsonResponse({"code": code, "detail": detail}, status=status_code)
    return html_view(request, *args)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        return _error_page(
            request,
            defaults.bad_request,
            "request_too_large",
            _("The request body is larger than the service accepts."),
            413,
            exception,
        )
    return _error_page(
        request, defaults.bad_request, "bad_request", _("The request is not valid."), 400, exception
    )


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(
        request, defaults.permission_denied, "permission_denied", _("You may not do this."), 403, exception
    )


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, defaults.page_not_found, "not_found", _("Nothing is here."), 404, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    return _error_page(
        request, defaults.server_error, "server_error", _("Something went wrong on our side."), 500
    )
