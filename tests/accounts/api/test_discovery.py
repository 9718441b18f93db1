"""GET /.well-known/openid-configuration, and CORS on it and on the JWKS."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from rest_framework.test import APIClient

from accounts.auth.signing_keys import key_set
from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.models import User

KEYS = Path(__file__).resolve().parents[2] / "keys"
DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/.well-known/jwks.json"


def test_document_is_a_full_openid_provider_document(api_client: APIClient, settings) -> None:
    settings.PUBLIC_BASE_URL = "https://auth.example.com/"
    settings.JWT_ISSUER = "https://auth.example.com"

    response = api_client.get(DISCOVERY)

    assert response.status_code == 200
    assert response.json() == {
        "issuer": "https://auth.example.com",
        "jwks_uri": "https://auth.example.com/.well-known/jwks.json",
        "authorization_endpoint": "https://auth.example.com/oauth/authorize/",
        "token_endpoint": "https://auth.example.com/oauth/token/",
        "userinfo_endpoint": "https://auth.example.com/oauth/userinfo/",
        "end_session_endpoint": "https://auth.example.com/oauth/logout/",
        "revocation_endpoint": "https://auth.example.com/oauth/revoke/",
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile", "offline_access"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": True,
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "jti",
            "email",
            "email_verified",
            "amr",
            "sid",
            "security_changed_at",
            "auth_time",
            "nonce",
            "locale",
        ],
    }
    assert response["Cache-Control"] == "public, max-age=300"


def test_urls_follow_the_request_without_a_public_base_url(api_client: APIClient, settings) -> None:
    settings.PUBLIC_BASE_URL = ""

    document = api_client.get(DISCOVERY, HTTP_HOST="localhost").json()

    assert document["jwks_uri"] == "http://localhost/.well-known/jwks.json"
    assert document["token_endpoint"] == "http://localhost/oauth/token/"


def test_every_algorithm_of_the_key_set_current_first(api_client: APIClient, settings) -> None:
    settings.JWT_SIGNING_KEY_FILE = str(KEYS / "rs256-test.pem")
    settings.JWT_PREVIOUS_VERIFYING_KEY_FILE = str(KEYS / "es256-previous-test.pem")

    document = api_client.get(DISCOVERY).json()

    assert document["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]


def test_the_issuer_is_the_iss_of_an_id_token(api_client: APIClient, user: User) -> None:
    document = api_client.get(DISCOVERY).json()
    id_token = tokens_for_login(user, amr=AMR_PASSWORD).id_token
    claims = jwt.decode(id_token, options={"verify_signature": False})

    assert claims["iss"] == document["issuer"]
    assert set(claims) - {"token_type", "gen"} <= set(document["claims_supported"])
    assert jwt.get_unverified_header(id_token)["alg"] in document["id_token_signing_alg_values_supported"]
    assert key_set().current.kid == jwt.get_unverified_header(id_token)["kid"]


@pytest.mark.parametrize("path", [DISCOVERY, JWKS])
def test_public_documents_may_be_read_from_any_origin(api_client: APIClient, path: str) -> None:
    response = api_client.get(path, HTTP_ORIGIN="https://app.example.org")

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.parametrize("path", [DISCOVERY, JWKS])
def test_a_preflight_is_answered(api_client: APIClient, path: str) -> None:
    response = api_client.options(
        path,
        HTTP_ORIGIN="https://app.example.org",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="if-none-match",
    )

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response["Access-Control-Allow-Methods"]
    assert response["Access-Control-Allow-Headers"] == "*"
    assert int(response["Access-Control-Max-Age"]) > 0


def test_other_endpoints_have_no_cors(api_client: APIClient) -> None:
    response = api_client.get("/healthz", HTTP_ORIGIN="https://app.example.org")

    assert "Access-Control-Allow-Origin" not in response


def test_writing_to_the_documents_is_refused(api_client: APIClient) -> None:
    response = api_client.post(DISCOVERY, {}, format="json")

    assert response.status_code == 405
    assert response.json()["code"] == "http_method_not_allowed"
    assert response["Access-Control-Allow-Origin"] == "*"


def test_document_is_in_the_schema(api_client: APIClient) -> None:
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"][DISCOVERY]["get"]
    assert operation["operationId"] == "openid_configuration"
    assert operation["security"] == [{}]
