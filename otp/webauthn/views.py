"""Passkey pages: the JSON steps static/js/passkeys.js calls with the session, and the removal page.

The browser's WebAuthn calls need JavaScript; these endpoints answer it with JSON (the API's
error shape) and use the same services as the API. They are session + CSRF, not bearer.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.views import View
from django.views.decorators.cache import never_cache
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle

from accounts.api.throttles import PasskeyLoginOptionsRateThrottle
from accounts.core.account_state import account_status_check
from accounts.core.client import client_from
from accounts.core.errors import ErrorCode, ServiceError
from accounts.flows import login as login_flows
from accounts.flows import passwordless_login as login
from accounts.pages.forms import StepUpForm
from accounts.pages.framework import ServiceFormView, StepUpMixin, page_decorators, safe_next
from accounts.pages.login_steps import (
    PENDING_LOGIN_SESSION_KEY,
    login_complete,
    pending_login_user,
    verified_session_required,
)
from otp.services import Method
from otp.webauthn import registration as registration_webauthn
from otp.webauthn import relying_party, services
from otp.webauthn.forms import PasskeyAddForm
from otp.webauthn.models import WebAuthnDevice

MAX_BODY_BYTES = 64 * 1024


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if len(request.body) > MAX_BODY_BYTES:
        raise ServiceError(ErrorCode.VALIDATION_ERROR)
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ServiceError(ErrorCode.VALIDATION_ERROR) from None
    if not isinstance(body, dict):
        raise ServiceError(ErrorCode.VALIDATION_ERROR)
    return body


def _text(body: dict[str, Any], name: str, max_length: int = 64) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > max_length:
        raise ServiceError(ErrorCode.VALIDATION_ERROR, errors={name: [gettext("Not a valid value.")]})
    return value


def _ceremony(options: relying_party.CeremonyOptions) -> JsonResponse:
    return JsonResponse({"challengeId": options.challenge_id, "publicKey": options.public_key})


def _redirect_body(response: HttpResponse) -> JsonResponse:
    """The redirect as JSON for static/js/passkeys.js, with the cookies it sets (the device cookie)."""
    body = JsonResponse({"redirect": response["Location"]})
    body.cookies = response.cookies
    return body


def _throttled_response(throttle: SimpleRateThrottle) -> JsonResponse:
    """429 as the API's DRF views answer it: `throttled`, DRF's text, `Retry-After`."""
    refusal = Throttled(wait=throttle.wait())
    response = JsonResponse({"code": refusal.default_code, "detail": str(refusal.detail)}, status=429)
    response["Retry-After"] = str(math.ceil(refusal.wait or 1))
    return response


class PasskeyJsonView(View):
    """POST only, JSON in and out; a `ServiceError` becomes the API's error body and status.

    `throttle_classes` are DRF throttles, shared with the API's door to the same service (the
    same class: the same cache keys and rate).
    """

    http_method_names = ["post"]
    session_required = True
    throttle_classes: list[type[SimpleRateThrottle]] = []

    def handle(self, request: HttpRequest, body: dict[str, Any]) -> JsonResponse:
        raise NotImplementedError

    @method_decorator(never_cache)
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        for throttle in (throttle_class() for throttle_class in self.throttle_classes):
            if not throttle.allow_request(request, self):
                return _throttled_response(throttle)
        try:
            if self.session_required:
                if not request.user.is_authenticated:
                    return JsonResponse(
                        {"code": "not_authenticated", "detail": gettext("Log in first.")}, status=401
                    )
                account_status_check(request.user)
            return self.handle(request, _json_body(request))
        except ServiceError as error:
            response = JsonResponse(error.body(), status=error.status)
            if error.retry_after:
                response["Retry-After"] = str(error.retry_after)
            return response


class PasskeyRegisterOptionsView(PasskeyJsonView):
    def handle(self, request: HttpRequest, body: dict[str, Any]) -> JsonResponse:
        otp = _text(body, "otp").strip() or None
        return _ceremony(
            registration_webauthn.registration_options_generate(
                user=request.user, otp=otp, client=client_from(request)
            )
        )


class PasskeyRegisterView(PasskeyJsonView):
    def handle(self, request: HttpRequest, body: dict[str, Any]) -> JsonResponse:
        registration_webauthn.registration_complete(
            user=request.user,
            challenge_id=_text(body, "challengeId"),
            credential=body.get("credential"),
            name=_text(body, "name", registration_webauthn.NAME_MAX_LENGTH),
            client=client_from(request),
        )
        messages.success(request, gettext("Your passkey is added. You can sign in with it now."))
        return JsonResponse({"redirect": reverse("account:security")})


class PasskeyStepUpOptionsView(PasskeyJsonView):
    def handle(self, request: HttpRequest, body: dict[str, Any]) -> JsonResponse:
        return _ceremony(services.step_up_options_generate(user=request.user))


class PasskeyStepUpView(PasskeyJsonView):
    def handle(self, request: HttpRequest, body: dict[str, Any]) -> JsonResponse:
        token = services.step_up_complete(
            user=request.user,
            challenge_id=_text(body, "challengeId"),
            credential=body.get("credential"),
            client=client_from(request),
        )
        return JsonResponse({"stepUpToken": token.token, "validUntil": token.valid_until.isoformat()})


class PasskeyLoginOptionsView(PasskeyJsonView):
    session_required = False
    throttle_classes = [PasskeyLoginOptionsRateThrottle]

    def handle(self, request: HttpRequest, body: dict[str, Any]) -> JsonResponse:
        return _ceremony(services.passwordless_options_generate())


class PasskeyLoginView(PasskeyJsonView):
    """A passkey alone signs in: the session is verified by it."""

    session_required = False

    def handle(self, request: HttpRequest, body: dict[str, Any]) -> JsonResponse:
        user = login.passwordless_login_verify(
            challenge_id=_text(body, "challengeId"),
            credential=body.get("credential"),
            client=client_from(request),
        )
        request.session.pop(PENDING_LOGIN_SESSION_KEY, None)
        response = login_complete(
            request, user, method=Method.WEBAUTHN, next_url=safe_next(request), passwordless=True
        )
        return _redirect_body(response)


def _pending_user_or_refuse(request: HttpRequest) -> Any:
    user = pending_login_user(request)
    if user is None:
        raise ServiceError(
            ErrorCode.CHALLENGE_INVALID,
            detail=gettext("Enter your email and password first. A login not finished in time starts over."),
        )
    return user


class PasskeySecondFactorOptionsView(PasskeyJsonView):
    session_required = False

    def handle(self, request: HttpRequest, body: dict[str, Any]) -> JsonResponse:
        user = _pending_user_or_refuse(request)
        if not user.passkey_count:
            raise ServiceError(ErrorCode.METHOD_NOT_ALLOWED)
        return _ceremony(services.second_factor_options_generate(user=user))


class PasskeySecondFactorView(PasskeyJsonView):
    """The second step of a login (or of re-verifying a session) with a passkey."""

    session_required = False

    def handle(self, request: HttpRequest, body: dict[str, Any]) -> JsonResponse:
        user = _pending_user_or_refuse(request)
        method = login_flows.login_second_factor(
            user=user,
            otp=None,
            otp_method=None,
            client=client_from(request),
            webauthn={"challengeId": _text(body, "challengeId"), "credential": body.get("credential")},
        )
        next_url = request.session.pop(PENDING_LOGIN_SESSION_KEY)["next"]
        return _redirect_body(login_complete(request, user, method=method, next_url=next_url))


@method_decorator([*page_decorators, verified_session_required], name="dispatch")
class PasskeyAddView(StepUpMixin, ServiceFormView):
    """The add form: a name, and the step-up code when another factor is verified. The script
    runs the ceremony; without JavaScript the form explains that passkeys need it."""

    form_class = PasskeyAddForm
    template_name = "account/passkey_add.html"

    def form_valid(self, form: PasskeyAddForm) -> HttpResponse:
        form.add_error(
            None,
            gettext(
                "Adding a passkey needs JavaScript. Turn it on, or use a browser that supports passkeys."
            ),
        )
        return self.refusal_response(form, status=400, retry_after=None)


@method_decorator([*page_decorators, verified_session_required], name="dispatch")
class PasskeyRemoveView(StepUpMixin, ServiceFormView):
    form_class = StepUpForm
    template_name = "account/passkey_remove.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.passkey = get_object_or_404(WebAuthnDevice, user=request.user, pk=kwargs["passkey_id"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "passkey": self.passkey}

    def perform(self, form: StepUpForm) -> None:
        services.passkey_delete(
            user=self.request.user, passkey_id=self.passkey.pk, otp=form.otp, client=client_from(self.request)
        )
        messages.success(
            self.request, gettext("The passkey “%(name)s” is removed.") % {"name": self.passkey.name}
        )
