"""Every answer carrying a token or a secret says `Cache-Control: no-store` (RFC 6749 §5.1, SECURITY.md 29).

The walk below produces each such answer; a check on the OpenAPI document makes sure the
walk knows every operation that answers a token or a secret, so a new one cannot be missed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from unittest import mock

import pyotp
import pytest
from django.test import Client as BrowserClient
from django.test import override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.api import auth as auth_api
from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.models import User
from tests.conftest import authenticate
from tests.factories import DEFAULT_PASSWORD, UserFactory, user_with_every_factor
from tests.otp.webauthn.authenticator import SoftwareAuthenticator
from tests.otp.webauthn.conftest import passkey_register

pytestmark = pytest.mark.django_db

# Members of an answer that are a credential or a secret.
SECRET_MEMBERS = {"idToken", "refreshToken", "deviceToken", "stepUpToken", "secret", "otpauthUri", "codes"}


def _totp_now(user: User) -> str:
    device = TOTPDevice.objects.get(user=user)
    return pyotp.TOTP(base64.b32encode(device.bin_key).decode()).now()


def _login(client: APIClient, user: User, **body: Any) -> Any:
    return client.post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD, **body}, format="json"
    )


def login_plain() -> Any:
    return _login(APIClient(), UserFactory())


def login_with_device_token() -> Any:
    user, _ = user_with_every_factor()
    answer = _login(APIClient(HTTP_X_OTP=_totp_now(user)), user, trustDevice=True)
    assert "deviceToken" in answer.json(), answer.json()
    return answer


def login_on_a_trusted_device() -> Any:
    user, _ = user_with_every_factor()
    device_token = _login(APIClient(HTTP_X_OTP=_totp_now(user)), user, trustDevice=True).json()["deviceToken"]
    return _login(APIClient(HTTP_X_DEVICE_TOKEN=device_token), user)


def _refresh() -> Any:
    token = tokens_for_login(UserFactory(), amr=AMR_PASSWORD).refresh_token
    return APIClient().post("/auth/login/refresh", {"refreshToken": token}, format="json")


def refresh_hot() -> Any:
    return _refresh()


def refresh_by_drf() -> Any:
    with mock.patch.object(auth_api.RefreshApi, "hot_answer", return_value=None):
        return _refresh()


def refresh_rotated() -> Any:
    with override_settings(JWT_ROTATE_REFRESH_TOKENS=True):
        answer = _refresh()
    assert "refreshToken" in answer.json()
    return answer


def passwordless_login() -> Any:
    authenticator = SoftwareAuthenticator()
    passkey_register(UserFactory(), authenticator)
    client = APIClient()
    options = client.post("/auth/login/webauthn/options", {}, format="json").json()
    return client.post(
        "/auth/login/webauthn",
        {"challengeId": options["challengeId"], "credential": authenticator.get(options["publicKey"])},
        format="json",
    )


def totp_secret() -> Any:
    return authenticate(APIClient(), UserFactory()).post("/auth/otp/methods/totp")


def recovery_codes() -> Any:
    user, _ = user_with_every_factor()
    return authenticate(APIClient(HTTP_X_OTP=_totp_now(user)), user).post("/auth/otp/methods/recovery-codes")


def passkey_step_up_token() -> Any:
    authenticator = SoftwareAuthenticator()
    user = passkey_register(UserFactory(), authenticator)
    client = authenticate(APIClient(), user)
    options = client.post("/auth/otp/webauthn/step-up/options").json()
    return client.post(
        "/auth/otp/webauthn/step-up",
        {"challengeId": options["challengeId"], "credential": authenticator.get(options["publicKey"])},
        format="json",
    )


def page_passkey_step_up_token() -> Any:
    authenticator = SoftwareAuthenticator()
    user = passkey_register(UserFactory(), authenticator)
    browser = BrowserClient()
    browser.force_login(user)
    options = browser.post("/account/passkeys/step-up/options/", "{}", content_type="application/json").json()
    body = {"challengeId": options["challengeId"], "credential": authenticator.get(options["publicKey"])}
    return browser.post("/account/passkeys/step-up/", json.dumps(body), content_type="application/json")


# Operation of the OpenAPI document -> the answers of it that the walk produces.
WALK: dict[str, list[Callable[[], Any]]] = {
    "POST /auth/login": [login_plain, login_with_device_token, login_on_a_trusted_device],
    "POST /auth/login/refresh": [refresh_hot, refresh_by_drf, refresh_rotated],
    "POST /auth/login/webauthn": [passwordless_login],
    "POST /auth/otp/methods/totp": [totp_secret],
    "POST /auth/otp/methods/recovery-codes": [recovery_codes],
    "POST /auth/otp/webauthn/step-up": [passkey_step_up_token],
}
# The same secrets answered to the pages' scripts.
PAGE_WALK = [page_passkey_step_up_token]


@pytest.mark.parametrize(
    "answer",
    [answer for answers in WALK.values() for answer in answers] + PAGE_WALK,
    ids=lambda answer: answer.__name__,
)
def test_every_answer_with_a_token_or_secret_is_no_store(answer: Callable[[], Any]) -> None:
    response = answer()

    assert response.status_code == 200, response.content
    assert SECRET_MEMBERS & set(response.json()), response.json()
    assert "no-store" in response["Cache-Control"].split(", ")


def _members(schema: dict[str, Any], components: dict[str, Any]) -> set[str]:
    if not schema:
        return set()
    if "$ref" in schema:
        return _members(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    members = set(schema.get("properties", {}))
    for nested in [*schema.get("properties", {}).values(), *schema.get("allOf", []), schema.get("items", {})]:
        members |= _members(nested, components)
    return members


def test_the_walk_knows_every_operation_answering_a_token_or_secret() -> None:
    document = SchemaGenerator().get_schema(request=None, public=True)
    components = document["components"]["schemas"]
    answering_secrets = {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status, response in operation["responses"].items()
        if status.startswith("2")
        for content in response.get("content", {}).values()
        if SECRET_MEMBERS & _members(content["schema"], components)
    }

    assert answering_secrets == set(WALK)
