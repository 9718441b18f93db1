"""The account endpoints: every success and every error code they can answer."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks
from rest_framework.test import APIClient

from accounts.api import health
from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.models import RevokedToken, SecurityEvent, User
from tests.conftest import USER_AGENT, authenticate
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another fine passphrase 42"


def _post(client: APIClient, path: str, body: dict | None = None, **headers: str):
    return client.post(path, body or {}, format="json", **headers)


def _login(client: APIClient, email: str, password: str = DEFAULT_PASSWORD):
    return _post(client, "/auth/login", {"email": email, "password": password})


# --- POST /auth/register ---------------------------------------------------------------------


def test_register_creates_the_account_and_emails_a_verification_code(api_client: APIClient) -> None:
    response = _post(api_client, "/auth/register", {"email": " Ana@Example.COM ", "password": NEW_PASSWORD})

    assert response.status_code == 202
    assert set(response.json()) == {"detail"}
    user = User.objects.get()
    assert user.email == "ana@example.com"
    assert user.check_password(NEW_PASSWORD)
    assert user.last_login_device == USER_AGENT
    assert user.last_login is not None and user.password_changed_at is not None
    assert user.email_verified_at is None
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ana@example.com"]
    assert re.search(r"\b\d{6}\b", mail.outbox[0].body)
    assert mail.outbox[0].alternatives, "an HTML part is sent too"
    assert SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.SIGNED_UP).exists()


def test_register_a_taken_email_answers_the_same_and_tells_the_owner(
    api_client: APIClient, user: User
) -> None:
    new = _post(api_client, "/auth/register", {"email": "fresh@example.com", "password": NEW_PASSWORD})
    taken = _post(api_client, "/auth/register", {"email": user.email.upper(), "password": NEW_PASSWORD})

    assert taken.status_code == new.status_code == 202
    assert taken.json() == new.json()
    assert User.objects.filter(email=user.email).count() == 1
    assert "tried to create" in mail.outbox[-1].body
    assert mail.outbox[-1].to == [user.email]


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1", "too short"),
        ("password123", "too common"),
        ("ana.lopez.2024", "too similar"),
        ("my auth service secret", "name of the service"),
    ],
)
def test_register_refuses_weak_passwords_with_the_reason(
    api_client: APIClient, password: str, reason: str
) -> None:
    response = _post(
        api_client, "/auth/register", {"email": "ana.lopez.2024@example.com", "password": password}
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "password_invalid"
    assert any(reason in message for message in body["errors"]["password"])
    assert not User.objects.exists()


def test_register_accepts_a_long_passphrase_without_truncation(api_client: APIClient) -> None:
    passphrase = "x7 " * 40  # 120 characters
    assert (
        _post(api_client, "/auth/register", {"email": "long@example.com", "password": passphrase}).status_code
        == 202
    )

    assert _login(api_client, "long@example.com", passphrase).status_code == 200
    assert _login(api_client, "long@example.com", passphrase[:-1]).status_code == 403


def test_register_validates_its_fields(api_client: APIClient) -> None:
    response = _post(api_client, "/auth/register", {"email": "not-an-email"})

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert set(response.json()["errors"]) == {"email", "password"}


def test_register_is_rate_limited_per_ip(api_client: APIClient, settings) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"register": "2/hour"}}
    for n in range(2):
        assert (
            _post(api_client, "/auth/register", {"email": f"r{n}@example.com", "password": "x"}).status_code
            == 400
        )

    response = _post(api_client, "/auth/register", {"email": "r3@example.com", "password": NEW_PASSWORD})

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


# --- POST /auth/login --------------------------------------------------------------------------


def test_login_issues_tokens_and_records_the_device(api_client: APIClient, user: User) -> None:
    response = api_client.post(
        "/auth/login",
        {"email": user.email.upper(), "password": DEFAULT_PASSWORD},
        format="json",
        HTTP_USER_AGENT="Firefox/140",
    )

    assert response.status_code == 200
    assert set(response.json()) == {"idToken", "refreshToken"}
    user.refresh_from_db()
    assert user.last_login_device == "Firefox/140"
    assert (timezone.now() - user.last_login).total_seconds() < 5
    event = SecurityEvent.objects.get(user=user, type=SecurityEvent.Type.LOGIN_SUCCEEDED)
    assert event.details == {"factor": "password"}


@pytest.mark.parametrize("email", ["nobody@example.com", "user-under-test"])
def test_login_failure_is_the_same_for_an_unknown_email_and_a_wrong_password(
    api_client: APIClient, email: str
) -> None:
    user = UserFactory(email="known@example.com")
    target = user.email if email == "user-under-test" else email

    response = _login(api_client, target, "wrong password")

    assert response.status_code == 403
    assert response.json() == {
        "code": "authentication_failed",
        "detail": "The email or the password is not correct.",
    }


def test_login_failures_are_delayed_per_email_and_do_not_touch_the_second_factor_budget(
    api_client: APIClient, user: User, settings
) -> None:
    settings.LOGIN_FAILURES_BEFORE_DELAY = 2
    for _ in range(3):
        assert _login(api_client, user.email, "wrong").status_code == 403

    response = _login(api_client, user.email)

    assert response.status_code == 429
    assert response.json()["code"] == "login_throttled"
    assert int(response["Retry-After"]) >= 1
    user.refresh_from_db()
    assert user.otp_failure_count == 0 and user.status == User.Status.ACTIVE


def test_login_throttle_per_email_applies_whether_or_not_the_account_exists(
    api_client: APIClient, settings
) -> None:
    settings.LOGIN_FAILURES_BEFORE_DELAY = 1
    for _ in range(2):
        _login(api_client, "ghost@example.com", "wrong")

    assert _login(api_client, "ghost@example.com", "wrong").status_code == 429


def test_login_per_ip_limit_counts_failures_only(api_client: APIClient, settings) -> None:
    settings.LOGIN_IP_MAX_FAILURES = 3
    users = UserFactory.create_batch(3)
    for user in users:
        assert _login(api_client, user.email).status_code == 200  # successes are free
    for n in range(3):
        _login(api_client, f"other{n}@example.com", "wrong")

    assert _login(api_client, users[0].email).status_code == 429
    other_ip = APIClient(REMOTE_ADDR="10.0.0.9")
    assert _login(other_ip, users[0].email).status_code == 200


def test_login_reveals_a_blocked_account_only_after_the_right_password(api_client: APIClient) -> None:
    user = UserFactory(status=User.Status.BLOCKED)

    assert _login(api_client, user.email, "wrong").json()["code"] == "authentication_failed"
    response = _login(api_client, user.email)
    assert response.status_code == 403
    assert response.json()["code"] == "account_blocked"


def test_login_refuses_a_locked_account_with_the_wait(api_client: APIClient) -> None:
    user = UserFactory(
        status=User.Status.LOCKED, locked_until=timezone.now() + timezone.timedelta(minutes=30)
    )

    response = _login(api_client, user.email)

    assert response.status_code == 403
    assert response.json()["code"] == "account_locked"
    assert 1700 < int(response["Retry-After"]) <= 1800


def test_login_after_the_lock_has_lifted_reactivates_the_account(api_client: APIClient) -> None:
    user = UserFactory(status=User.Status.LOCKED, locked_until=timezone.now() - timezone.timedelta(seconds=1))

    assert _login(api_client, user.email).status_code == 200
    user.refresh_from_db()
    assert user.status == User.Status.ACTIVE and user.locked_until is None


def test_login_ignores_x_otp_for_an_account_without_a_second_factor(
    api_client: APIClient, user: User
) -> None:
    response = api_client.post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json", HTTP_X_OTP="123456"
    )
    assert response.status_code == 200


def test_login_validates_its_fields(api_client: APIClient) -> None:
    response = _post(api_client, "/auth/login", {"email": "x@example.com", "otpMethod": "PIGEON"})

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert set(response.json()["errors"]) == {"password", "otpMethod"}


def test_login_otp_method_without_a_second_factor_is_not_allowed(api_client: APIClient, user: User) -> None:
    response = _post(
        api_client, "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD, "otpMethod": "SMS"}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "method_not_allowed"


# --- POST /auth/login/refresh ------------------------------------------------------------------


def test_refresh_returns_a_new_id_token_only(api_client: APIClient, user: User) -> None:
    tokens = _login(api_client, user.email).json()

    response = _post(api_client, "/auth/login/refresh", {"refreshToken": tokens["refreshToken"]})

    assert response.status_code == 200
    assert set(response.json()) == {"idToken"}
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['idToken']}")
    assert api_client.get("/auth/me").status_code == 200


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
def test_refresh_refuses_malformed_tokens(api_client: APIClient, token: str) -> None:
    response = _post(api_client, "/auth/login/refresh", {"refreshToken": token})

    assert response.status_code in {400, 403}
    assert response.json()["code"] == ("validation_error" if token == "" else "token_not_valid")


def test_refresh_refuses_a_user_no_longer_active(api_client: APIClient, user: User) -> None:
    tokens = _login(api_client, user.email).json()
    User.objects.filter(pk=user.pk).update(status=User.Status.BLOCKED)

    response = _post(api_client, "/auth/login/refresh", {"refreshToken": tokens["refreshToken"]})

    assert response.status_code == 403
    assert response.json()["code"] == "token_not_valid"


# --- GET /auth/me ------------------------------------------------------------------------------


def test_me_returns_the_obfuscated_profile_without_empty_optional_fields(
    auth_client: APIClient, user: User
) -> None:
    user.email = "john@example.co.uk"
    user.save()

    body = auth_client.get("/auth/me").json()

    assert body["email"] == "j***@e***.uk"
    assert body["hasValidatedEmail"] is True
    assert body["hasValidatedSecret"] is False and body["hasValidatedPhone"] is False
    assert body["status"] == "ACTIVE"
    assert body["lastLoggedDevice"] == USER_AGENT
    for absent in ("phoneNumber", "secretVerificationDate", "phoneVerificationDate"):
        assert absent not in body
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", body["lastLoggedDate"])


def test_me_before_the_first_login_shows_the_sign_up(api_client: APIClient) -> None:
    api_client.credentials(HTTP_USER_AGENT="SignUpBrowser/1")
    _post(api_client, "/auth/register", {"email": "first@example.com", "password": NEW_PASSWORD})
    user = User.objects.get()

    body = authenticate(APIClient(), user).get("/auth/me").json()

    assert body["lastLoggedDevice"] == "SignUpBrowser/1"
    assert body["lastLoggedDate"] is not None
    assert body["hasValidatedEmail"] is False and "emailVerificationDate" not in body


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer garbage", "Basic dXNlcjpwYXNz", "Token abc"],
)
def test_me_without_a_valid_bearer_token_is_401(api_client: APIClient, header: str) -> None:
    response = api_client.get("/auth/me", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response.json()["code"] in {"not_authenticated", "token_not_valid"}
    assert response["WWW-Authenticate"].startswith("Bearer")


# --- POST /auth/logout and /auth/logout/all ----------------------------------------------------


def test_logout_revokes_that_refresh_token(api_client: APIClient, user: User) -> None:
    tokens = _login(api_client, user.email).json()
    other = _login(api_client, user.email).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['idToken']}")

    response = _post(api_client, "/auth/logout", {"refreshToken": tokens["refreshToken"]})

    assert response.status_code == 204
    assert RevokedToken.objects.filter(reason=RevokedToken.Reason.LOGOUT).count() == 1
    refused = _post(api_client, "/auth/login/refresh", {"refreshToken": tokens["refreshToken"]})
    assert refused.status_code == 403 and refused.json()["code"] == "token_not_valid"
    assert (
        _post(api_client, "/auth/login/refresh", {"refreshToken": other["refreshToken"]}).status_code == 200
    )
    assert api_client.get("/auth/me").status_code == 401, "logout ends the session: its idToken too"
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {other['idToken']}")
    again = _post(api_client, "/auth/logout", {"refreshToken": tokens["refreshToken"]})
    assert again.status_code == 403 and again.json()["code"] == "token_not_valid"


def test_logout_refuses_someone_elses_or_an_invalid_token(api_client: APIClient, user: User) -> None:
    stranger = UserFactory()
    stranger_tokens = tokens_for_login(stranger, amr=AMR_PASSWORD)
    authenticate(api_client, user)

    assert (
        _post(api_client, "/auth/logout", {"refreshToken": stranger_tokens.refresh_token}).status_code == 403
    )
    assert _post(api_client, "/auth/logout", {"refreshToken": "nonsense"}).json()["code"] == "token_not_valid"
    assert not RevokedToken.objects.exists()


def test_logout_needs_a_bearer_token(api_client: APIClient) -> None:
    assert _post(api_client, "/auth/logout", {"refreshToken": "x"}).status_code == 401


def test_logout_all_revokes_every_id_and_refresh_token(api_client: APIClient, user: User) -> None:
    first = _login(api_client, user.email).json()
    second = _login(api_client, user.email).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {first['idToken']}")

    assert _post(api_client, "/auth/logout/all").status_code == 204

    for tokens in (first, second):
        assert (
            _post(APIClient(), "/auth/login/refresh", {"refreshToken": tokens["refreshToken"]}).status_code
            == 403
        )
        assert (
            APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {tokens['idToken']}").status_code == 401
        )
    assert SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.TOKENS_REVOKED).exists()
    fresh = _login(APIClient(), user.email).json()
    assert APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {fresh['idToken']}").status_code == 200


# --- POST /auth/password/change ----------------------------------------------------------------


def test_password_change_sets_the_date_revokes_tokens_and_tells_the_user(
    api_client: APIClient, user: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    tokens = _login(api_client, user.email).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['idToken']}")
    before = user.password_changed_at

    # The notification leaves when the change commits.
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            api_client,
            "/auth/password/change",
            {"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD},
        )

    assert response.status_code == 200
    assert response.json()["email"].endswith("***.com")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert user.password_changed_at > before
    assert (
        _post(APIClient(), "/auth/login/refresh", {"refreshToken": tokens["refreshToken"]}).status_code == 403
    )
    assert api_client.get("/auth/me").status_code == 401
    assert _login(APIClient(), user.email, NEW_PASSWORD).status_code == 200
    assert any("password" in message.subject.lower() for message in mail.outbox)


def test_password_change_with_a_wrong_current_password(auth_client: APIClient, user: User) -> None:
    response = _post(
        auth_client, "/auth/password/change", {"currentPassword": "nope", "newPassword": NEW_PASSWORD}
    )

    assert response.status_code == 403
    assert response.json()["code"] == "authentication_failed"
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_change_refuses_a_weak_new_password(auth_client: APIClient) -> None:
    response = _post(
        auth_client, "/auth/password/change", {"currentPassword": DEFAULT_PASSWORD, "newPassword": "123"}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "password_invalid"
    assert "newPassword" in response.json()["errors"]


def test_password_change_validates_and_needs_a_bearer(auth_client: APIClient) -> None:
    assert _post(auth_client, "/auth/password/change", {}).json()["code"] == "validation_error"
    assert _post(APIClient(), "/auth/password/change", {}).status_code == 401


# --- POST /auth/password/reset and /confirm ----------------------------------------------------


def _reset_link_parts() -> tuple[str, str]:
    match = re.search(r"uid=(\S+) and token=(\S+)\.", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1), match.group(2)


def test_password_reset_answers_the_same_for_any_email(api_client: APIClient, user: User) -> None:
    known = _post(api_client, "/auth/password/reset", {"email": user.email})
    unknown = _post(api_client, "/auth/password/reset", {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]


def test_password_reset_confirm_sets_the_password_once_and_does_not_log_in(
    api_client: APIClient, user: User
) -> None:
    old_tokens = tokens_for_login(user, amr=AMR_PASSWORD)
    _post(api_client, "/auth/password/reset", {"email": user.email})
    uid, token = _reset_link_parts()

    response = _post(
        api_client, "/auth/password/reset/confirm", {"uid": uid, "token": token, "newPassword": NEW_PASSWORD}
    )

    assert response.status_code == 200
    assert set(response.json()) == {"detail"}
    assert _login(api_client, user.email, NEW_PASSWORD).status_code == 200
    assert (
        _post(api_client, "/auth/login/refresh", {"refreshToken": old_tokens.refresh_token}).status_code
        == 403
    )
    reused = _post(
        api_client,
        "/auth/password/reset/confirm",
        {"uid": uid, "token": token, "newPassword": "yet another passphrase"},
    )
    assert reused.status_code == 400
    assert reused.json()["code"] == "token_not_valid"


@pytest.mark.parametrize(("uid", "token"), [("MQ", "bad-token"), ("!!", "x"), ("OTk5OTk5", "abc-def")])
def test_password_reset_confirm_refuses_bad_links(
    api_client: APIClient, user: User, uid: str, token: str
) -> None:
    response = _post(
        api_client, "/auth/password/reset/confirm", {"uid": uid, "token": token, "newPassword": NEW_PASSWORD}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "token_not_valid"


def test_password_reset_confirm_refuses_a_weak_password(api_client: APIClient, user: User) -> None:
    _post(api_client, "/auth/password/reset", {"email": user.email})
    uid, token = _reset_link_parts()

    response = _post(
        api_client, "/auth/password/reset/confirm", {"uid": uid, "token": token, "newPassword": "abc"}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "password_invalid"
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_reset_unlocks_a_locked_account(api_client: APIClient) -> None:
    user = UserFactory(
        status=User.Status.LOCKED,
        locked_until=timezone.now() + timezone.timedelta(hours=1),
        otp_failure_count=100,
    )
    _post(api_client, "/auth/password/reset", {"email": user.email})
    uid, token = _reset_link_parts()

    _post(
        api_client, "/auth/password/reset/confirm", {"uid": uid, "token": token, "newPassword": NEW_PASSWORD}
    )

    user.refresh_from_db()
    assert user.status == User.Status.ACTIVE and user.otp_failure_count == 0
    assert _login(api_client, user.email, NEW_PASSWORD).status_code == 200


# --- health, JWKS, schema, error pages ---------------------------------------------------------


def test_healthz_reports_database_and_cache(api_client: APIClient) -> None:
    response = api_client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_healthz_is_503_when_the_cache_is_down(api_client: APIClient, monkeypatch) -> None:

    monkeypatch.setattr(health, "_cache_ok", lambda: False)

    response = api_client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["cache"] == "unavailable"
    assert response.json()["code"] == "service_unavailable"


def test_unknown_api_paths_answer_json_404(api_client: APIClient) -> None:
    response = api_client.get("/auth/nothing-here")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_wrong_http_method_is_405_in_the_error_shape(api_client: APIClient) -> None:
    response = api_client.get("/auth/login")

    assert response.status_code == 405
    assert response.json()["code"] == "http_method_not_allowed"


def test_malformed_json_is_400_in_the_error_shape(api_client: APIClient) -> None:
    response = api_client.post("/auth/login", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_openapi_schema_and_docs_are_served(api_client: APIClient) -> None:
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]

    for path, method in [
        ("/auth/login", "post"),
        ("/auth/login/refresh", "post"),
        ("/auth/me", "get"),
        ("/auth/register", "post"),
        ("/auth/logout", "post"),
        ("/auth/logout/all", "post"),
        ("/auth/password/change", "post"),
        ("/auth/password/reset", "post"),
        ("/auth/password/reset/confirm", "post"),
        ("/auth/otp/methods/sms", "post"),
        ("/auth/otp/methods/sms", "delete"),
        ("/auth/otp/methods/totp", "post"),
        ("/auth/otp/methods/totp", "delete"),
        ("/auth/otp/methods/recovery-codes", "post"),
        ("/auth/otp/code", "get"),
        ("/auth/otp/code", "post"),
    ]:
        assert method in paths[path], f"{method.upper()} {path} is missing from the schema"
    assert "403" in paths["/auth/login"]["post"]["responses"]
    docs = api_client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_register_tells_the_owner_of_a_taken_email_once_per_cool_down(
    api_client: APIClient, user: User
) -> None:
    """Every sign-up on a taken email used to mail its owner: an inbox anyone could flood."""
    answers = [
        _post(api_client, "/auth/register", {"email": user.email, "password": NEW_PASSWORD}) for _ in range(3)
    ]
    other = UserFactory()
    _post(api_client, "/auth/register", {"email": other.email, "password": NEW_PASSWORD})

    assert {answer.status_code for answer in answers} == {202}
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert [message.to for message in mail.outbox] == [[user.email], [other.email]]


def test_swagger_ui_is_served_from_the_pinned_sidecar_not_a_cdn(api_client: APIClient) -> None:
    page = api_client.get("/api/docs/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html and "<script>" not in html  # the start-up script is its own URL
    assert "script-src 'self'" in page["Content-Security-Policy"]
    script = api_client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
