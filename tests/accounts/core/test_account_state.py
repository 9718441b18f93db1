"""The one account-state rule: a deactivated account is refused like a BLOCKED one on every path."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.core.account_state import account_refusal
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.models import User
from otp import services as otp_services
from tests.factories import DEFAULT_PASSWORD, UserFactory


def _deactivate(user: User) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.refresh_from_db()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({}, None),
        ({"is_active": False}, ErrorCode.ACCOUNT_BLOCKED),
        ({"status": User.Status.BLOCKED}, ErrorCode.ACCOUNT_BLOCKED),
        (
            {"status": User.Status.LOCKED, "locked_until": timezone.now() + timedelta(hours=1)},
            ErrorCode.ACCOUNT_LOCKED,
        ),
        ({"status": User.Status.LOCKED, "locked_until": timezone.now() - timedelta(seconds=1)}, None),
    ],
)
def test_account_refusal_decides_from_is_active_status_and_lock_expiry(
    fields: dict, code: ErrorCode | None
) -> None:
    refusal = account_refusal(User(**fields))
    assert (refusal.code if refusal else None) == code


def test_a_deactivated_account_gets_no_tokens_from_login(api_client: APIClient, user: User) -> None:
    _deactivate(user)
    response = api_client.post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "account_blocked")
    assert "idToken" not in response.json()


def test_a_deactivated_account_is_told_only_after_the_right_password(
    api_client: APIClient, user: User
) -> None:
    _deactivate(user)
    response = api_client.post(
        "/auth/login", {"email": user.email, "password": "not the password"}, format="json"
    )
    assert response.json()["code"] == "authentication_failed"


def test_a_deactivated_account_cannot_refresh(api_client: APIClient, user: User) -> None:
    refresh_token = tokens_for_login(user, amr=AMR_PASSWORD).refresh_token
    _deactivate(user)
    response = api_client.post("/auth/login/refresh", {"refreshToken": refresh_token}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "token_not_valid")


def test_a_deactivated_accounts_id_token_is_refused(api_client: APIClient, user: User) -> None:
    id_token = tokens_for_login(user, amr=AMR_PASSWORD).id_token
    _deactivate(user)
    response = api_client.get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {id_token}")
    assert response.status_code == 401


def test_a_deactivated_account_fails_every_second_factor_check(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, totp = totp_user
    _deactivate(user)
    with pytest.raises(ServiceError) as refused:
        otp_services.login_second_factor_verify(user=user, code=totp.now(), client=Client())
    assert refused.value.code == ErrorCode.ACCOUNT_BLOCKED
    with pytest.raises(ServiceError) as refused:
        otp_services.step_up_verify(user=user, otp=totp.now(), client=Client())
    assert refused.value.code == ErrorCode.ACCOUNT_BLOCKED
    user.refresh_from_db()
    assert user.otp_failure_count == 0  # refused before the code was checked, so not counted


def test_a_deactivated_accounts_page_session_ends(client, user: User) -> None:
    client.force_login(user)
    User.objects.filter(pk=user.pk).update(status=User.Status.BLOCKED)
    response = client.get("/account/")
    assert response.status_code == 302 and response["Location"].startswith("/account/login/")
    assert "_auth_user_id" not in client.session


def test_a_blocked_staff_member_loses_the_admin(settings, db: None) -> None:
    settings.ADMIN_REQUIRE_OTP = False
    staff = UserFactory(is_staff=True, is_superuser=True)
    request = RequestFactory().get("/admin/")
    request.user = staff
    assert admin.site.has_permission(request)
    staff.status = User.Status.BLOCKED
    assert not admin.site.has_permission(request)
