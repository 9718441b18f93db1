"""The OpenAPI schema at /api/schema/ is valid OpenAPI and says what ../shared/API.md says."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import phonenumbers
import pytest
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from accounts.api.schema import FRAMEWORK_CODES
from accounts.core.errors import ERROR_CATALOGUE, ErrorCode

PROFILE = {
    "email": True,
    "hasValidatedEmail": True,
    "emailVerificationDate": False,
    "hasValidatedSecret": True,
    "secretVerificationDate": False,
    "phoneNumber": False,
    "hasValidatedPhone": True,
    "phoneVerificationDate": False,
    "lastLoggedDate": True,
    "status": True,
    "lastLoggedDevice": True,
    "lastPasswordChangeDate": True,
    "hasPasskey": True,
    "passkeyCount": True,
    "mfaResetScheduledAt": False,
    "language": True,  # second wave: "The profile gains `language`"
    "pendingEmail": False,  # third wave: "The profile gains `pendingEmail`"
    "passwordCompromised": True,  # third wave: compromised passwords
    # Third wave: "Anti-phishing code", "A signal for the rest of the platform".
    "antiPhishingCode": False,
    "lastSecurityChangeDate": False,
}
PROFILE_DATES = (
    "emailVerificationDate",
    "secretVerificationDate",
    "phoneVerificationDate",
    "lastLoggedDate",
    "lastPasswordChangeDate",
    "mfaResetScheduledAt",
    "lastSecurityChangeDate",
)
STEP_UP = {403: {"otp_invalid", "account_locked"}, 429: {"otp_throttled"}}
CEREMONY = {"challengeId": True, "publicKey": True}
PASSKEY_CHECK = {
    400: {"validation_error", "challenge_invalid"},
    403: {"account_locked"},
    429: {"otp_throttled"},
}
BEARER = {401: {"not_authenticated", "token_not_valid"}}


@dataclass(frozen=True)
class Operation:
    """What API.md says of one operation: fields are name -> required."""

    status: int
    body: dict[str, bool] | None = None
    response: dict[str, bool] | None = None
    otp_header: bool | None = None  # None: no x-otp; else whether it is required
    other_headers: dict[str, bool] = field(default_factory=dict)
    bearer: bool = True
    errors: dict[int, set[str]] = field(default_factory=dict)


def _merge(*error_sets: dict[int, set[str]]) -> dict[int, set[str]]:
    merged: dict[int, set[str]] = {}
    for errors in error_sets:
        for status, codes in errors.items():
            merged.setdefault(status, set()).update(codes)
    return merged


CONTRACT: dict[tuple[str, str], Operation] = {
    ("post", "/auth/login"): Operation(
        200,
        body={"email": True, "password": True, "otpMethod": False, "webauthn": False, "trustDevice": False},
        response={"idToken": True, "refreshToken": True, "deviceToken": False},
        otp_header=False,
        other_headers={"x-device-token": False},
        bearer=False,
        errors={
            400: {"validation_error", "method_not_allowed", "challenge_invalid"},
            403: {
                "authentication_failed",
                "otp_required",
                "otp_invalid",
                "webauthn_invalid",
                "account_blocked",
                "account_frozen",
                "account_locked",
            },
            429: {"login_throttled", "otp_throttled", "otp_attempts_exhausted"},
            503: {"sms_unavailable", "service_unavailable"},
        },
    ),
    ("post", "/auth/login/refresh"): Operation(
        200,
        body={"refreshToken": True},
        response={"idToken": True, "refreshToken": False},
        bearer=False,
        errors={400: {"validation_error"}, 403: {"token_not_valid"}, 503: {"service_unavailable"}},
    ),
    ("post", "/auth/otp/methods/sms"): Operation(
        200,
        body={"phone": True, "country": True},
        response=PROFILE,
        otp_header=False,
        errors=_merge(
            BEARER,
            STEP_UP,
            {
                400: {"validation_error", "phone_invalid", "sms_already_configured", "country_not_allowed"},
                429: {"otp_attempts_exhausted"},
                503: {"sms_unavailable"},
            },
        ),
    ),
    ("delete", "/auth/otp/methods/sms"): Operation(
        200, response=PROFILE, otp_header=False, errors=_merge(BEARER, STEP_UP, {400: {"sms_not_configured"}})
    ),
    ("post", "/auth/otp/methods/totp"): Operation(
        200,
        response={**PROFILE, "secret": True, "otpauthUri": True},
        otp_header=False,
        errors=_merge(BEARER, STEP_UP, {400: {"totp_already_configured"}}),
    ),
    ("delete", "/auth/otp/methods/totp"): Operation(
        200,
        response=PROFILE,
        otp_header=False,
        errors=_merge(BEARER, STEP_UP, {400: {"totp_not_configured"}}),
    ),
    ("post", "/auth/otp/methods/recovery-codes"): Operation(
        200,
        response={"codes": True},
        otp_header=False,
        errors=_merge(BEARER, STEP_UP, {400: {"mfa_not_enabled"}}),
    ),
    ("get", "/auth/otp/code"): Operation(
        200,
        response={"validUntil": True, "channel": True, "validated": True},
        errors=_merge(
            BEARER,
            {
                400: {"validation_error", "channel_already_verified", "method_not_allowed"},
                429: {"otp_attempts_exhausted"},
                503: {"sms_unavailable"},
            },
        ),
    ),
    ("post", "/auth/otp/code"): Operation(
        200,
        body={"channel": True},
        response=PROFILE,
        otp_header=True,
        errors=_merge(
            BEARER,
            STEP_UP,
            {400: {"validation_error", "channel_not_configured", "channel_already_verified"}},
        ),
    ),
    ("get", "/auth/me"): Operation(200, response=PROFILE, errors=BEARER),
    ("delete", "/auth/me/mfa-reset"): Operation(
        204, otp_header=False, errors=_merge(BEARER, STEP_UP, {404: {"not_found"}})
    ),
    # Second wave (API.md "Languages"): the user's language.
    ("patch", "/auth/me"): Operation(
        200, body={"language": False}, response=PROFILE, errors=_merge(BEARER, {400: {"validation_error"}})
    ),
    ("post", "/auth/register"): Operation(
        202,
        body={"email": True, "password": True},
        response={"detail": True},
        bearer=False,
        errors={400: {"validation_error", "password_invalid"}, 429: {"throttled"}},
    ),
    ("post", "/auth/logout"): Operation(
        204,
        body={"refreshToken": True},
        errors=_merge(BEARER, {400: {"validation_error"}, 403: {"token_not_valid"}}),
    ),
    ("post", "/auth/logout/all"): Operation(204, errors=BEARER),
    ("post", "/auth/password/change"): Operation(
        200,
        body={"currentPassword": True, "newPassword": True},
        response=PROFILE,
        otp_header=False,
        errors=_merge(
            BEARER,
            STEP_UP,
            {
                400: {"validation_error", "password_invalid"},
                403: {"authentication_failed"},
                429: {"login_throttled"},  # wrong current passwords are throttled like logins
            },
        ),
    ),
    ("post", "/auth/password/reset"): Operation(
        202,
        body={"email": True},
        response={"detail": True},
        bearer=False,
        errors={400: {"validation_error"}, 429: {"throttled"}},
    ),
    ("post", "/auth/password/reset/confirm"): Operation(
        200,
        body={"uid": True, "token": True, "newPassword": True},
        response={"detail": True},
        bearer=False,
        errors={400: {"validation_error", "password_invalid", "token_not_valid"}},
    ),
    ("get", "/.well-known/jwks.json"): Operation(200, response={"keys": True}, bearer=False),
    ("get", "/.well-known/openid-configuration"): Operation(
        200,
        response={
            "issuer": True,
            "jwks_uri": True,
            "token_endpoint": True,
            "id_token_signing_alg_values_supported": True,
            "subject_types_supported": True,
            "response_types_supported": True,
            "claims_supported": True,
            # The OpenID Provider's (issue 22).
            "authorization_endpoint": True,
            "userinfo_endpoint": True,
            "end_session_endpoint": True,
            "revocation_endpoint": True,
            "response_modes_supported": True,
            "grant_types_supported": True,
            "code_challenge_methods_supported": True,
            "scopes_supported": True,
            "token_endpoint_auth_methods_supported": True,
            "revocation_endpoint_auth_methods_supported": True,
            "prompt_values_supported": True,
            "authorization_response_iss_parameter_supported": True,
        },
        bearer=False,
    ),
    ("get", "/healthz"): Operation(
        200, response={"status": True, "database": True, "cache": True}, bearer=False
    ),
    # Second wave: passkeys (WebAuthn).
    ("post", "/auth/otp/methods/webauthn/options"): Operation(
        200, response=CEREMONY, otp_header=False, errors=_merge(BEARER, STEP_UP)
    ),
    ("post", "/auth/otp/methods/webauthn"): Operation(
        200,
        body={"challengeId": True, "credential": True, "name": False},
        response=PROFILE,
        errors=_merge(BEARER, PASSKEY_CHECK, {400: {"webauthn_invalid"}}),
    ),
    ("get", "/auth/otp/methods/webauthn"): Operation(200, response={"passkeys": True}, errors=BEARER),
    ("delete", "/auth/otp/methods/webauthn/{id}"): Operation(
        200, response=PROFILE, otp_header=False, errors=_merge(BEARER, STEP_UP, {404: {"not_found"}})
    ),
    ("post", "/auth/login/webauthn/options"): Operation(
        200, response=CEREMONY, errors={429: {"throttled"}}, bearer=False
    ),
    ("post", "/auth/login/webauthn"): Operation(
        200,
        body={"challengeId": True, "credential": True},
        response={"idToken": True, "refreshToken": True},
        bearer=False,
        errors=_merge(PASSKEY_CHECK, {403: {"webauthn_invalid", "account_blocked", "account_frozen"}}),
    ),
    ("post", "/auth/otp/webauthn/step-up/options"): Operation(
        200, response=CEREMONY, errors=_merge(BEARER, {400: {"method_not_allowed"}})
    ),
    ("post", "/auth/otp/webauthn/step-up"): Operation(
        200,
        body={"challengeId": True, "credential": True},
        response={"stepUpToken": True, "validUntil": True},
        errors=_merge(BEARER, PASSKEY_CHECK, {403: {"webauthn_invalid"}}),
    ),
    # Third wave: changing the email address, your data and closing the account.
    ("post", "/auth/me/email"): Operation(
        202,
        body={"newEmail": True, "password": True},
        response={"validUntil": True},
        otp_header=False,
        errors=_merge(
            BEARER,
            STEP_UP,
            {400: {"validation_error"}, 403: {"authentication_failed"}, 429: {"otp_attempts_exhausted"}},
        ),
    ),
    ("delete", "/auth/me/email"): Operation(204, errors=_merge(BEARER, {404: {"not_found"}})),
    ("post", "/auth/me/email/confirm"): Operation(
        200,
        body={"code": True},
        response=PROFILE,
        errors=_merge(BEARER, {400: {"token_not_valid", "email_taken"}, 403: {"otp_invalid"}}),
    ),
    ("get", "/auth/me/export"): Operation(200, response={}, otp_header=False, errors=_merge(BEARER, STEP_UP)),
    ("post", "/auth/me/close"): Operation(
        204,
        body={"password": True},
        otp_header=False,
        errors=_merge(BEARER, STEP_UP, {403: {"authentication_failed"}}),
    ),
    # Third wave: "Freezing the account", "Anti-phishing code".
    ("post", "/auth/me/freeze"): Operation(204, errors=BEARER),
    ("put", "/auth/me/anti-phishing-code"): Operation(
        200,
        body={"code": True},
        response=PROFILE,
        otp_header=False,
        errors=_merge(BEARER, STEP_UP, {400: {"validation_error"}}),
    ),
    ("delete", "/auth/me/anti-phishing-code"): Operation(
        200, response=PROFILE, otp_header=False, errors=_merge(BEARER, STEP_UP, {404: {"not_found"}})
    ),
}
# Served beyond API.md; a new endpoint is added here once its schema has been looked at.
BEYOND_API_MD: dict[tuple[str, str], Operation] = {
    ("get", "/auth/me/events"): Operation(
        200,
        response={"count": True, "page": True, "pageSize": True, "hasNext": True, "results": True},
        errors=_merge(BEARER, {400: {"validation_error"}}),
    ),
    # API.md, second wave: Sessions and Trusted devices.
    ("get", "/auth/sessions"): Operation(200, response={"sessions": True}, errors=BEARER),
    ("delete", "/auth/sessions"): Operation(204, errors=BEARER),
    ("delete", "/auth/sessions/{session_id}"): Operation(204, errors=_merge(BEARER, {404: {"not_found"}})),
    ("get", "/auth/trusted-devices"): Operation(
        200, response={"devices": True}, other_headers={"x-device-token": False}, errors=BEARER
    ),
    ("delete", "/auth/trusted-devices/{device_id}"): Operation(
        204, errors=_merge(BEARER, {404: {"not_found"}})
    ),
}
OPERATIONS = {**CONTRACT, **BEYOND_API_MD}
# Where a code is answered with another status than the catalogue's, and why.
STATUS_EXCEPTIONS = {
    ("/auth/password/reset/confirm", "token_not_valid"): 400,  # a bad reset link is bad input
    ("/auth/otp/methods/webauthn", "webauthn_invalid"): 400,  # API.md: 400 at registration
    ("/auth/me/email/confirm", "token_not_valid"): 400,  # API.md: none pending or expired is bad input
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref`s, and the one-element `allOf` that carries a description beside a `$ref`."""
    while "$ref" in node or len(node.get("allOf", [])) == 1:
        if "allOf" in node:
            node = node["allOf"][0]
            continue
        _, _, name = node["$ref"].rpartition("/")
        node = schema["components"]["schemas"][name]
    return node


def json_schema(schema: dict[str, Any], holder: dict[str, Any]) -> dict[str, Any]:
    return resolve(schema, holder["content"]["application/json"]["schema"])


def fields_of(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, bool]:
    node = resolve(schema, node)
    required = set(node.get("required", []))
    return {name: name in required for name in node.get("properties", {})}


def enum_of(schema: dict[str, Any], node: dict[str, Any]) -> list[str]:
    return resolve(schema, node)["enum"]


def test_schema_is_valid_openapi(schema: dict[str, Any]) -> None:
    validate(schema)
    assert schema["openapi"].startswith("3.")


def test_every_documented_operation_and_no_other(schema: dict[str, Any]) -> None:
    served = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert set(CONTRACT) <= served, "API.md operations missing from the schema"
    assert served - set(CONTRACT) <= set(BEYOND_API_MD), (
        "operations beyond API.md: describe them in BEYOND_API_MD of tests/robustness/test_contract.py"
    )


@pytest.mark.parametrize(("method", "path"), sorted(OPERATIONS))
def test_operation_matches_the_contract(schema: dict[str, Any], method: str, path: str) -> None:
    expected = OPERATIONS[(method, path)]
    operation = schema["paths"][path][method]

    body = operation.get("requestBody")
    if expected.body is None:
        assert body is None
    else:
        assert body.get("required", False) is (method != "patch")  # PATCH changes what it is sent
        assert fields_of(schema, body["content"]["application/json"]["schema"]) == expected.body

    headers = {
        p["name"]: p.get("required", False) for p in operation.get("parameters", []) if p["in"] == "header"
    }
    otp = {} if expected.otp_header is None else {"x-otp": expected.otp_header}
    assert headers == {**otp, **expected.other_headers}

    success = operation["responses"][str(expected.status)]
    if expected.response is None:
        assert "content" not in success
    else:
        assert fields_of(schema, success["content"]["application/json"]["schema"]) == expected.response

    (bearer_scheme,) = schema["components"]["securitySchemes"]
    assert operation["security"] == ([{bearer_scheme: []}] if expected.bearer else [{}])


@pytest.mark.parametrize(("method", "path"), sorted(OPERATIONS))
def test_error_responses_list_the_codes_of_the_contract(
    schema: dict[str, Any], method: str, path: str
) -> None:
    responses = schema["paths"][path][method]["responses"]
    for status, codes in OPERATIONS[(method, path)].errors.items():
        assert str(status) in responses, f"{method} {path} documents no {status}"
        error = json_schema(schema, responses[str(status)])
        assert codes <= set(enum_of(schema, error["properties"]["code"])), (method, path, status)


@pytest.mark.parametrize(("method", "path"), sorted(OPERATIONS))
def test_error_codes_sit_under_their_status(schema: dict[str, Any], method: str, path: str) -> None:
    """Every code documented under a status is answered with that status (errors.py, DRF)."""
    known = {str(code): status for code, (status, _) in ERROR_CATALOGUE.items()}
    for status, response in schema["paths"][path][method]["responses"].items():
        if not status.startswith(("4", "5")) or path == "/healthz":
            continue
        error = json_schema(schema, response)
        assert set(error["required"]) == {"code", "detail"}
        for code in enum_of(schema, error["properties"]["code"]):
            allowed = {known.get(code), FRAMEWORK_CODES.get(code), STATUS_EXCEPTIONS.get((path, code))}
            assert int(status) in allowed, f"{method} {path}: {code} under {status}"


@pytest.mark.parametrize(("method", "path"), sorted(op for op, spec in OPERATIONS.items() if spec.body))
def test_every_body_documents_the_http_level_errors(schema: dict[str, Any], method: str, path: str) -> None:
    responses = schema["paths"][path][method]["responses"]
    for status, code in [(400, "parse_error"), (413, "request_too_large"), (415, "unsupported_media_type")]:
        error = json_schema(schema, responses[str(status)])
        assert code in enum_of(schema, error["properties"]["code"]), (method, path, status)


def test_bearer_scheme_is_a_jwt(schema: dict[str, Any]) -> None:
    (scheme,) = schema["components"]["securitySchemes"].values()
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")


def test_country_enum_is_every_libphonenumber_region(schema: dict[str, Any]) -> None:
    body = json_schema(schema, schema["paths"]["/auth/otp/methods/sms"]["post"]["requestBody"])
    countries = enum_of(schema, body["properties"]["country"])
    assert countries == sorted(phonenumbers.SUPPORTED_REGIONS)
    assert len(countries) == 245
    assert countries[0] == "AC"
    assert countries[-1] == "ZW"
    assert resolve(schema, body["properties"]["phone"])["minLength"] == 1


def test_the_other_enums(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    login = json_schema(schema, paths["/auth/login"]["post"]["requestBody"])
    assert enum_of(schema, login["properties"]["otpMethod"]) == ["WEBAUTHN", "TOTP", "SMS", "RECOVERY_CODE"]
    (method,) = paths["/auth/otp/code"]["get"]["parameters"]
    assert (method["name"], method["in"], method["required"]) == ("method", "query", True)
    assert method["schema"]["enum"] == ["EMAIL", "SMS"]
    confirm = json_schema(schema, paths["/auth/otp/code"]["post"]["requestBody"])
    assert enum_of(schema, confirm["properties"]["channel"]) == ["EMAIL", "SMS", "TOTP"]
    sent = json_schema(schema, paths["/auth/otp/code"]["get"]["responses"]["200"])
    assert enum_of(schema, sent["properties"]["channel"]) == ["EMAIL", "SMS"]
    profile = json_schema(schema, paths["/auth/me"]["get"]["responses"]["200"])
    assert enum_of(schema, profile["properties"]["status"]) == ["ACTIVE", "LOCKED", "BLOCKED", "FROZEN"]
    otp_required = json_schema(schema, paths["/auth/login"]["post"]["responses"]["403"])
    assert enum_of(schema, otp_required["properties"]["methods"]["items"]) == [
        "WEBAUTHN",
        "TOTP",
        "SMS",
        "RECOVERY_CODE",
    ]


def test_formats_of_the_values(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    profile = json_schema(schema, paths["/auth/me"]["get"]["responses"]["200"])["properties"]
    assert all(resolve(schema, profile[name])["format"] == "date-time" for name in PROFILE_DATES)
    # Obfuscated (`j***@e***.com`): no valid address, so not declared as `format: email`.
    assert "format" not in profile["email"]
    login = json_schema(schema, paths["/auth/login"]["post"]["requestBody"])["properties"]
    assert login["email"]["format"] == "email"
    sent = json_schema(schema, paths["/auth/otp/code"]["get"]["responses"]["200"])["properties"]
    assert sent["validUntil"]["format"] == "date-time"
    assert sent["validated"]["type"] == "boolean"
    codes = json_schema(schema, paths["/auth/otp/methods/recovery-codes"]["post"]["responses"]["200"])
    assert (codes["properties"]["codes"]["minItems"], codes["properties"]["codes"]["maxItems"]) == (10, 10)


def test_every_error_code_is_documented_somewhere(schema: dict[str, Any]) -> None:
    documented = set()
    for item in schema["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and "code" in json_schema(schema, response)["properties"]:
                    documented.update(enum_of(schema, json_schema(schema, response)["properties"]["code"]))
    assert {str(code) for code in ErrorCode} <= documented


def test_schema_and_docs_are_served() -> None:
    client = APIClient()
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
