"""`GET /auth/me` and refresh answered outside DRF's request cycle, when everything is in order.

Why: they are most of what clients send (an idToken lives 15 minutes, and a client reads the
profile and refreshes around it), and DRF's cycle around them (request wrapping, content
negotiation, the permission and throttle passes, the response's rendering) cost more than
what they do (docs/benchmarks.md, "Where the time goes").

How: `MeApi` and `RefreshApi` are `HotPathApi` views. A request of the view's `hot_method`
is first offered to `hot_answer`, which does the same work with the same parts (the
authentication class, the service, the profile, the renderer) and answers only when it can
answer exactly as DRF would. Anything else (no or a refused token, a body that is not a
small JSON object with a string `refreshToken`, another content type) makes it return None
before anything is done, and DRF serves the request as before, errors included. The answer
is an ordinary Django response. tests/accounts/api/test_hot.py holds each hot answer to
DRF's, header for header.

Under gunicorn, `config.hot_path.HotPathApplication` also spares these requests the middleware
chain, doing its work itself; everywhere else (Django's test client, DEBUG) the chain runs
around the hot answer as around every other answer.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import APIException
from rest_framework.views import APIView

from accounts.api.errors import error_headers, service_error_of
from accounts.api.renderers import JSONRenderer
from accounts.auth.authentication import IdTokenAuthentication
from accounts.core.errors import ServiceError

# A refresh body is one token of well under 1 KB; anything larger is DRF's to judge.
REFRESH_BODY_MAX_BYTES = 8 * 1024
JSON_MEDIA_TYPE = "application/json"
UTF_8_NAMES = frozenset({"utf-8", "utf8"})


class HotPathApi(APIView):
    """An APIView whose `hot_method` requests are offered to `hot_answer` first."""

    hot_method = ""

    def hot_answer(self, request: HttpRequest) -> HttpResponse | None:
        """The answer DRF would give, or None to let DRF answer."""
        return None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == self.hot_method:
            response = self.hot_answer(request)
            if response is not None:
                return response
        return super().dispatch(request, *args, **kwargs)

    def hot_response(
        self, body: dict[str, Any], *, status: int = 200, headers: dict | None = None
    ) -> HttpResponse:
        """`body` as DRF renders it, with the headers DRF adds (`Allow`: this view's methods)."""
        response = HttpResponse(
            JSONRenderer().render(body), status=status, content_type=JSON_MEDIA_TYPE, headers=headers
        )
        response["Allow"] = ", ".join(self.allowed_methods)
        response.hot_path_answer = True  # for HotPathApplication, which learns the chain's headers from it
        return response

    def hot_error(self, error: ServiceError) -> HttpResponse:
        """A service's refusal in the API's one error shape, as `api_errors.error_response` gives it."""
        return self.hot_response(error.body(), status=error.status, headers=error_headers(error))


def bearer_user(request: HttpRequest) -> Any | None:
    """The user of a valid bearer idToken, by the API's authentication class; None for any other request."""
    try:
        authenticated = IdTokenAuthentication().authenticate(request)
    except APIException:  # refused: DRF answers 401 with its own headers
        return None
    return None if authenticated is None else authenticated[0]


def json_object_of(request: HttpRequest, max_bytes: int) -> dict[str, Any] | None:
    """The body as a JSON object if it is one, UTF-8 and at most `max_bytes`; else None."""
    charset = request.content_params.get("charset", "utf-8").lower()
    if request.content_type != JSON_MEDIA_TYPE or charset not in UTF_8_NAMES:
        return None
    try:
        if int(request.META.get("CONTENT_LENGTH") or 0) > max_bytes:
            return None
        data = orjson.loads(request.body)
    except (ValueError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def handled(view: HotPathApi, work: Any) -> HttpResponse:
    """`work()`'s answer; a service refusal or a failed dependency in the error shape DRF's handler gives."""
    try:
        return work()
    except Exception as error:
        refusal = service_error_of(error)
        if refusal is None:
            raise
        return view.hot_error(refusal)
