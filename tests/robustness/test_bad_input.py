"""Bad input on every endpoint it applies to: always a clear 4xx in the `{code, detail}` shape.

Invalid JSON, wrong content types, oversized bodies, missing, extra and mistyped fields,
very long and hostile strings, Unicode and IDN emails, garbage phones and countries, and
`x-otp` values that are no code at all.
"""

from __future__ import annotations

import json
from typing import Any

import pyotp
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import User
from otp.models import SmsDevice
from tests.conftest import authenticate
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

# Each endpoint with a JSON body: whether it needs a bearer token, and a well-formed body.
BODIES: dict[str, tuple[bool, dict[str, str]]] = {
    "/auth/login": (False, {"email": "someone@example.com", "password": "a wrong password"}),
    "/auth/login/refresh": (False, {"refreshToken": "not.a.token"}),
    "/auth/register": (False, {"email": "newcomer@example.com", "password": "a fine passphrase"}),
    "/auth/password/reset": (False, {"email": "someone@example.com"}),
    "/auth/password/reset/confirm": (
        False,
        {"uid": "MQ", "token": "abc-def", "newPassword": "a fine passphrase"},
    ),
    "/auth/logout": (True, {"refreshToken": "not.a.token"}),
    "/auth/password/change": (True, {"currentPassword": "wrong", "newPassword": "a fine passphrase"}),
    "/auth/otp/methods/sms": (True, {"phone": "612 34 56 78", "country": "ES"}),
    "/auth/otp/code": (True, {"channel": "TOTP"}),
}
PATHS = sorted(BODIES)


def assert_error(response: Any, status: int, *codes: str) -> dict[str, Any]:
    """A JSON `{code, detail}` body with `status` and one of `codes`; returns the body."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body.get("detail"), str) and body["detail"]
    assert body["code"] in codes, body
    return body


def client_for(path: str) -> APIClient:
    client = APIClient(HTTP_USER_AGENT="robustness/1.0")
    return authenticate(client, UserFactory()) if BODIES[path][0] else client


def post_raw(path: str, data: bytes | str, content_type: str = "application/json", **headers: str) -> Any:
    return client_for(path).generic("POST", path, data=data, content_type=content_type, **headers)


# --- the body as a whole ------------------------------------------------------------------------


INVALID_JSON = {
    "truncated": '{"email": ',
    "single quotes": "{'email': 'a@b.com'}",
    "trailing comma": '{"email": "a@b.com",}',
    "NaN": '{"email": NaN}',
    "bare word": "email",
    "UTF-8 BOM": '\ufeff{"email": "a@b.com"}',
    "latin-1 bytes": b'{"email": "\xe9@example.com"}',
    "NUL byte": '{"email": "a@b.com"}\x00',
    "nested 20,000 deep": "[" * 20_000 + "]" * 20_000,
    "objects 10,000 deep": '{"a":' * 10_000 + "1" + "}" * 10_000,
    "5,000-digit number": '{"email": ' + "9" * 5_000 + "}",
}


@pytest.mark.parametrize("body", INVALID_JSON.values(), ids=INVALID_JSON.keys())
@pytest.mark.parametrize("path", PATHS)
def test_invalid_json_is_a_parse_error(path: str, body: str | bytes) -> None:
    assert_error(post_raw(path, body), 400, "parse_error")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/xml",
        "",
    ],
)
@pytest.mark.parametrize("path", PATHS)
def test_a_body_that_is_not_json_is_415(path: str, content_type: str) -> None:
    assert_error(post_raw(path, json.dumps(BODIES[path][1]), content_type), 415, "unsupported_media_type")


@pytest.mark.parametrize("path", PATHS)
def test_a_body_over_the_upload_limit_is_413(path: str) -> None:
    body = json.dumps({**BODIES[path][1], "padding": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    assert_error(post_raw(path, body), 413, "request_too_large")


@pytest.mark.parametrize("body", ["[]", '"text"', "1", "null", "true", '[{"email": "a@b.com"}]'])
@pytest.mark.parametrize("path", PATHS)
def test_json_that_is_not_an_object_is_a_validation_error(path: str, body: str) -> None:
    assert_error(post_raw(path, body), 400, "validation_error")


@pytest.mark.parametrize("path", PATHS)
def test_missing_fields_are_named(path: str) -> None:
    body = assert_error(post_raw(path, "{}"), 400, "validation_error")
    assert set(body["errors"]) == set(BODIES[path][1])


@pytest.mark.parametrize("path", PATHS)
def test_an_empty_body_is_a_validation_error(path: str) -> None:
    assert_error(post_raw(path, ""), 400, "validation_error")


@pytest.mark.parametrize("path", PATHS)
def test_extra_fields_are_ignored_and_change_nothing(path: str) -> None:
    """Unknown members are ignored (clients may send more), never obeyed, never a 5xx."""
    plain = post_raw(path, json.dumps(BODIES[path][1]))
    extra = {"isStaff": True, "is_superuser": True, "status": "ACTIVE", "id": 1, "amr": ["pwd", "otp"]}
    with_extras = post_raw(path, json.dumps({**BODIES[path][1], **extra}))

    assert with_extras.status_code == plain.status_code < 500
    if plain.status_code >= 400:
        assert with_extras.json()["code"] == plain.json()["code"]
    assert not User.objects.filter(is_staff=True).exists()


# --- one field at a time -----------------------------------------------------------------------

WRONG_TYPES = {"list": [], "object": {}, "null": None, "boolean": True, "list of strings": ["a@b.com"]}


@pytest.mark.parametrize("value", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
@pytest.mark.parametrize(("path", "field"), [(path, field) for path in PATHS for field in BODIES[path][1]])
def test_a_field_of_the_wrong_type_is_named(path: str, field: str, value: Any) -> None:
    body = assert_error(
        post_raw(path, json.dumps({**BODIES[path][1], field: value})), 400, "validation_error"
    )
    assert list(body["errors"]) == [field]


HOSTILE_STRINGS = {
    "5,000 characters": "x" * 5_000,
    "NUL character": "ab\x00cd@example.com",
}


@pytest.mark.parametrize("value", HOSTILE_STRINGS.values(), ids=HOSTILE_STRINGS.keys())
@pytest.mark.parametrize(("path", "field"), [(path, field) for path in PATHS for field in BODIES[path][1]])
def test_a_hostile_string_is_named(path: str, field: str, value: str) -> None:
    body = assert_error(
        post_raw(path, json.dumps({**BODIES[path][1], field: value})), 400, "validation_error"
    )
    assert list(body["errors"]) == [field]


@pytest.mark.parametrize(("path", "field"), [(path, field) for path in PATHS for field in BODIES[path][1]])
def test_a_lone_surrogate_is_a_parse_error(path: str, field: str) -> None:
    """Valid JSON (`"\\ud800"`) but no valid text: refused before any code could echo it."""
    body = json.dumps({**BODIES[path][1], field: "\ud800abc@example.com"})
    assert "\\ud800" in body
    assert_error(post_raw(path, body), 400, "parse_error")


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register", "/auth/password/change"])
def test_a_password_with_every_kind_of_unicode_is_not_a_server_error(path: str) -> None:
    """Emoji, right-to-left override, combining marks, zero-width joiner: just characters."""
    password = "pass 🔐\u202e\u0301\u200d wörd ∑ 密码 " * 3
    fields = {"/auth/login": "password", "/auth/register": "password", "/auth/password/change": "newPassword"}
    response = post_raw(path, json.dumps({**BODIES[path][1], fields[path]: password}))
    assert response.status_code in {200, 202, 403}, response.content


# --- emails ------------------------------------------------------------------------------------

BAD_EMAILS = [
    "用户@例子.广告",
    "jürgen@bücher.example",
    "no-at-sign",
    "two@@example.com",
    "a@b",
    "spaces in@example.com",
    "x" * 250 + "@example.com",
    "a@" + "b" * 250 + ".com",
    "<script>@example.com",
    "a@example.com\nBcc: victim@example.com",
]


@pytest.mark.parametrize("email", BAD_EMAILS)
@pytest.mark.parametrize("path", ["/auth/login", "/auth/register", "/auth/password/reset"])
def test_an_invalid_email_is_a_validation_error(path: str, email: str) -> None:
    body = assert_error(
        post_raw(path, json.dumps({**BODIES[path][1], "email": email})), 400, "validation_error"
    )
    assert list(body["errors"]) == ["email"]


def test_an_idn_email_signs_up_and_logs_in() -> None:
    """An internationalised domain is fine; a non-ASCII local part is not (no SMTPUTF8)."""
    client = APIClient()
    email, password = "juergen@bücher.example", "a fine passphrase"
    assert (
        client.post("/auth/register", {"email": email, "password": password}, format="json").status_code
        == 202
    )

    response = client.post(
        "/auth/login", {"email": "JUERGEN@BÜCHER.example", "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['idToken']}")
    assert client.get("/auth/me").json()["email"] == "j***@b***.example"


def test_an_unknown_unicode_email_fails_login_like_any_other() -> None:
    response = APIClient().post(
        "/auth/login", {"email": "unknown@bücher.example", "password": DEFAULT_PASSWORD}, format="json"
    )
    assert_error(response, 403, "authentication_failed")


# --- phones and countries -------------------------------------------------------------------------

GARBAGE_PHONES = [
    "abc",
    "+",
    "0",
    "0" * 64,
    "+34 912 34 56 78",  # a Spanish landline: not a mobile
    "+1 202-555-01",
    "+999 612345678",
    "١٢٣٤٥٦٧٨٩",
    "'; DROP TABLE otp_smsdevice; --",
    "+34 612 34 56 78 +34 612 34 56 78",
]


@pytest.mark.parametrize("phone", GARBAGE_PHONES)
def test_a_garbage_phone_is_phone_invalid_and_nothing_is_stored(phone: str) -> None:
    user = UserFactory()
    response = authenticate(APIClient(), user).post(
        "/auth/otp/methods/sms", {"phone": phone, "country": "ES"}, format="json"
    )
    assert_error(response, 400, "phone_invalid")
    assert not SmsDevice.objects.filter(user=user).exists()


@pytest.mark.parametrize("country", ["XX", "es", "ESP", "", " ES", "ZZ", "EU", 34, None, ["ES"], "É"])
def test_a_garbage_country_is_a_validation_error(country: Any) -> None:
    response = authenticate(APIClient(), UserFactory()).post(
        "/auth/otp/methods/sms", {"phone": "612345678", "country": country}, format="json"
    )
    body = assert_error(response, 400, "validation_error")
    assert list(body["errors"]) == ["country"]


@pytest.mark.parametrize("method", ["", "sms", "TOTP", "EMAIL,SMS", "S" * 1000, "ÉMAIL", "null"])
def test_a_garbage_code_method_is_a_validation_error(method: str) -> None:
    response = authenticate(APIClient(), UserFactory()).get("/auth/otp/code", {"method": method})
    body = assert_error(response, 400, "validation_error")
    assert list(body["errors"]) == ["method"]


def test_a_missing_code_method_is_a_validation_error() -> None:
    body = assert_error(
        authenticate(APIClient(), UserFactory()).get("/auth/otp/code"), 400, "validation_error"
    )
    assert list(body["errors"]) == ["method"]


# --- x-otp ---------------------------------------------------------------------------------------

GARBAGE_OTPS = {
    "letters": "abcdef",
    "digits and letters": "12a456",
    "spaces inside": "123 456",
    "1,000 digits": "1" * 1_000,
    "seven digits": "1234567",
    "five digits": "12345",
    "signs": "+12345",
    "latin-1": "ÀÁÂÃÄÅ",
    "recovery-shaped": "zzzzz-zzzzz",
    "SQL": "' OR 1=1 --",
}


def _step_up_requests(user: User) -> dict[str, tuple[str, str, dict[str, str] | None]]:
    return {
        "login": ("post", "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}),
        "delete totp": ("delete", "/auth/otp/methods/totp", None),
        "recovery codes": ("post", "/auth/otp/methods/recovery-codes", None),
        "add phone": ("post", "/auth/otp/methods/sms", {"phone": "612345678", "country": "ES"}),
        "password change": (
            "post",
            "/auth/password/change",
            {"currentPassword": DEFAULT_PASSWORD, "newPassword": "a brand new passphrase"},
        ),
    }


@pytest.mark.parametrize("otp", GARBAGE_OTPS.values(), ids=GARBAGE_OTPS.keys())
@pytest.mark.parametrize("action", ["login", "delete totp", "recovery codes", "add phone", "password change"])
def test_a_garbage_x_otp_is_otp_invalid_and_counted(
    action: str, otp: str, totp_user: tuple[User, pyotp.TOTP]
) -> None:
    user, _ = totp_user
    method, path, body = _step_up_requests(user)[action]
    client = APIClient() if action == "login" else authenticate(APIClient(), user)

    response = getattr(client, method)(path, body, format="json", HTTP_X_OTP=otp)

    assert_error(response, 403, "otp_invalid")
    user.refresh_from_db()
    assert user.otp_failure_count == 1
    assert user.totp_verified_at is not None


@pytest.mark.parametrize("otp", GARBAGE_OTPS.values(), ids=GARBAGE_OTPS.keys())
def test_a_garbage_x_otp_does_not_confirm_a_pending_channel(otp: str) -> None:
    user = UserFactory()
    client = authenticate(APIClient(), user)
    assert client.post("/auth/otp/methods/totp").status_code == 200

    assert_error(
        client.post("/auth/otp/code", {"channel": "TOTP"}, format="json", HTTP_X_OTP=otp), 403, "otp_invalid"
    )
    user.refresh_from_db()
    assert user.totp_verified_at is None


@pytest.mark.parametrize("otp", ["", "   ", "\t"])
def test_a_blank_x_otp_counts_as_none(otp: str, totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, _ = totp_user
    response = APIClient().post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json", HTTP_X_OTP=otp
    )
    body = assert_error(response, 403, "otp_required")
    assert body["methods"] == ["TOTP"]


# --- HTTP itself ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PATHS, "/auth/me", "/auth/logout/all"])
def test_an_unsupported_method_is_405_in_the_error_shape(path: str) -> None:
    client = authenticate(APIClient(), UserFactory())
    assert_error(client.put(path, {}, format="json"), 405, "http_method_not_allowed")


@pytest.mark.parametrize("path", ["/auth/nothing", "/auth/login/", "/auth/%00", "/auth/" + "a" * 2000])
def test_an_unknown_path_is_404_in_the_error_shape(path: str) -> None:
    assert_error(APIClient().get(path), 404, "not_found")


def test_an_accept_header_the_api_cannot_serve_is_406_in_the_error_shape() -> None:
    response = APIClient().post(
        "/auth/login", BODIES["/auth/login"][1], format="json", HTTP_ACCEPT="text/html"
    )
    assert_error(response, 406, "not_acceptable")
