"""Freezing: the API, the freeze link, the page, support, every path refusing a FROZEN account, unfreezing."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pyotp
import pytest
import time_machine
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client as BrowserClient
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.auth.trusted_devices import trusted_device_create
from accounts.core.client import Client
from accounts.core.errors import ServiceError
from accounts.core.freeze_links import freeze_link_token
from accounts.flows import support
from accounts.flows.freezing import FreezeMethod, account_freeze
from accounts.models import SecurityEvent, TrustedDevice, User, UserSession
from tests.conftest import Committed, authenticate
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase here"
CLIENT = Client(ip="203.0.113.10", user_agent="pytest-agent/1.0")


def frozen_events(user: User) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.ACCOUNT_FROZEN))


def status_of(user: User) -> str:
    user.refresh_from_db()
    return user.status


def freeze(user: User) -> None:
    assert account_freeze(user=user, how=FreezeMethod.API, client=CLIENT)


def login(user: User, password: str = DEFAULT_PASSWORD, **headers: str) -> Any:
    return APIClient().post(
        "/auth/login", {"email": user.email, "password": password}, format="json", **headers
    )


def link_path(user: User) -> str:
    return f"/account/freeze/{freeze_link_token(user)}/"


def page_text(response: Any) -> str:
    return html.unescape(response.content.decode())


def reset_confirm(user: User, password: str = NEW_PASSWORD) -> Any:
    user.refresh_from_db()
    return APIClient().post(
        "/auth/password/reset/confirm",
        {
            "uid": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
            "newPassword": password,
        },
        format="json",
    )


# --- POST /auth/me/freeze ----------------------------------------------------------------------------


def test_freezing_ends_every_session_token_and_trusted_device_and_is_recorded_and_emailed(
    user: User, committed: Committed
) -> None:
    other = tokens_for_login(user, amr=AMR_PASSWORD, client=CLIENT)
    trusted_device_create(user=user, client=CLIENT)
    client = authenticate(APIClient(), user)

    with committed():
        response = client.post("/auth/me/freeze")

    assert response.status_code == 204
    assert status_of(user) == "FROZEN"
    assert client.get("/auth/me").status_code == 401
    refreshed = APIClient().post("/auth/login/refresh", {"refreshToken": other.refresh_token}, format="json")
    assert refreshed.status_code == 403 and refreshed.json()["code"] == "token_not_valid"
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert not TrustedDevice.objects.filter(user=user, revoked_at__isnull=True).exists()
    [event] = frozen_events(user)
    assert event.details == {"how": "api"}
    [message] = [m for m in mail.outbox if "frozen" in m.subject]
    assert "reset your password" in message.body


def test_freezing_cancels_a_pending_email_change(user: User) -> None:
    client = authenticate(APIClient(), user)
    client.post(
        "/auth/me/email", {"newEmail": "elsewhere@example.org", "password": DEFAULT_PASSWORD}, format="json"
    )
    user.refresh_from_db()
    assert user.email_change_pending() == "elsewhere@example.org"

    freeze(user)

    user.refresh_from_db()
    assert not user.email_change_pending()
    cancelled = SecurityEvent.objects.get(user=user, type=SecurityEvent.Type.EMAIL_CHANGE_CANCELLED)
    assert cancelled.actor == "USER"


def test_freezing_needs_no_second_factor(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, _ = totp_user

    assert authenticate(APIClient(), user).post("/auth/me/freeze").status_code == 204
    assert status_of(user) == "FROZEN"


def test_freezing_twice_is_recorded_once(user: User) -> None:
    freeze(user)

    assert account_freeze(user=user, how=FreezeMethod.PAGE, client=CLIENT) is False
    assert len(frozen_events(user)) == 1


def test_a_blocked_account_stays_blocked(user: User) -> None:
    User.objects.filter(pk=user.pk).update(status=User.Status.BLOCKED)

    assert account_freeze(user=user, how=FreezeMethod.LINK, client=CLIENT) is False
    assert status_of(user) == "BLOCKED" and frozen_events(user) == []


def test_a_locked_account_can_be_frozen(user: User) -> None:
    User.objects.filter(pk=user.pk).update(
        status=User.Status.LOCKED, locked_until=timezone.now() + timedelta(hours=1)
    )

    freeze(user)

    assert status_of(user) == "FROZEN" and user.locked_until is None


# --- every path refuses a FROZEN account, after the right credential only ----------------------------


def test_login_is_refused_with_account_frozen_only_after_the_right_password(user: User) -> None:
    freeze(user)

    wrong = login(user, password="not the password")
    right = login(user)

    assert wrong.status_code == 403 and wrong.json()["code"] == "authentication_failed"
    assert right.status_code == 403 and right.json()["code"] == "account_frozen"
    assert "reset your password" in right.json()["detail"]


def test_an_idtoken_issued_before_is_refused(user: User) -> None:
    client = authenticate(APIClient(), user)
    assert client.get("/auth/me").status_code == 200

    freeze(user)

    assert client.get("/auth/me").status_code == 401
    assert client.get("/auth/sessions").status_code == 401


def test_a_frozen_account_is_refused_even_with_a_token_of_its_current_generation(user: User) -> None:
    freeze(user)
    client = authenticate(APIClient(), user)  # minted after the freeze, as a forger with the key might

    assert client.get("/auth/me").status_code == 401


def test_a_browser_session_is_logged_out_and_the_page_login_says_frozen(user: User) -> None:
    browser = BrowserClient()
    assert (
        browser.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD}).status_code
        == 302
    )

    freeze(user)

    assert browser.get("/account/").status_code == 302
    response = browser.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 403
    assert "This account is frozen" in page_text(response)


def test_the_admin_login_refuses_a_frozen_staff_member(user: User, settings: Any) -> None:
    settings.ADMIN_REQUIRE_OTP = False
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    freeze(user)

    response = BrowserClient().post(
        "/admin/login/", {"username": user.email, "password": DEFAULT_PASSWORD, "next": "/admin/"}
    )

    assert response.status_code == 200
    assert "This account is frozen" in page_text(response)


def test_a_staff_session_opened_before_loses_the_admin(user: User, settings: Any) -> None:
    settings.ADMIN_REQUIRE_OTP = False
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    browser = BrowserClient()
    browser.force_login(user)
    assert browser.get("/admin/").status_code == 200

    User.objects.filter(pk=user.pk).update(status=User.Status.FROZEN)

    assert browser.get("/admin/").status_code == 302


# --- the freeze link ---------------------------------------------------------------------------------


def test_opening_the_link_shows_a_confirmation_and_changes_nothing(user: User) -> None:
    response = BrowserClient().get(link_path(user))

    assert response.status_code == 200
    assert "Freeze my account" in page_text(response) and "u***@e***.com" in page_text(response)
    assert status_of(user) == "ACTIVE" and frozen_events(user) == []


def test_the_links_button_freezes_without_a_login(user: User, committed: Committed) -> None:
    tokens_for_login(user, amr=AMR_PASSWORD, client=CLIENT)
    browser = BrowserClient(enforce_csrf_checks=True)
    path = link_path(user)
    browser.get(path)

    with committed():
        response = browser.post(path, {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value})

    assert response.status_code == 200 and "Your account is frozen" in page_text(response)
    assert status_of(user) == "FROZEN"
    assert [event.details for event in frozen_events(user)] == [{"how": "link"}]
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()


def test_a_link_works_once(user: User) -> None:
    path = link_path(user)
    assert BrowserClient().post(path).status_code == 200

    again = BrowserClient().post(path)

    assert again.status_code == 410 and "already used" in page_text(again)
    assert len(frozen_events(user)) == 1


def test_a_link_sent_before_an_unfreeze_no_longer_freezes(user: User) -> None:
    path = link_path(user)
    BrowserClient().post(link_path(user))
    assert reset_confirm(user).status_code == 200

    response = BrowserClient().post(path)

    assert response.status_code == 410 and status_of(user) == "ACTIVE"


def test_an_expired_link_changes_nothing(user: User, settings: Any) -> None:
    settings.FREEZE_LINK_DAYS = 7
    path = link_path(user)

    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        opened = BrowserClient().get(path)
        pressed = BrowserClient().post(path)

    assert opened.status_code == pressed.status_code == 410
    assert "expired" in page_text(pressed)
    assert status_of(user) == "ACTIVE"


@pytest.mark.parametrize(
    "alter", [lambda token: token[:-2] + "xx", lambda token: "x" + token, lambda token: "nonsense"]
)
def test_an_altered_link_changes_nothing(user: User, alter: Any) -> None:
    path = f"/account/freeze/{alter(freeze_link_token(user))}/"

    response = BrowserClient().post(path)

    assert response.status_code == 400 and "not valid" in page_text(response)
    assert status_of(user) == "ACTIVE"


def test_a_link_freezes_the_account_it_was_sent_for_whoever_is_logged_in(user: User) -> None:
    other = UserFactory()
    browser = BrowserClient()
    browser.force_login(other)

    browser.post(link_path(user))

    assert status_of(user) == "FROZEN" and status_of(other) == "ACTIVE"


def test_every_security_email_carries_a_working_freeze_link(user: User, committed: Committed) -> None:
    with committed():
        APIClient().post(
            "/auth/password/change",
            {"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {tokens_for_login(user, amr=AMR_PASSWORD).id_token}",
        )
    [message] = mail.outbox
    path = re.search(r"https?://[^/\s]+(/account/freeze/[^\s]+/)", message.body).group(1)

    assert BrowserClient().post(path).status_code == 200
    assert status_of(user) == "FROZEN"


# --- the self-service page -------------------------------------------------------------------------


def test_the_security_page_freezes_after_a_confirmation_step(user: User) -> None:
    browser = BrowserClient()
    browser.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert "Freeze my account" in page_text(browser.get("/account/"))

    confirmation = browser.get("/account/freeze/")
    assert confirmation.status_code == 200 and status_of(user) == "ACTIVE"
    response = browser.post("/account/freeze/", follow=True)

    assert status_of(user) == "FROZEN"
    assert [event.details for event in frozen_events(user)] == [{"how": "page"}]
    assert response.redirect_chain[-1][0].startswith("/account/login/")
    assert "Your account is frozen" in page_text(response)
    assert browser.get("/account/").status_code == 302


# --- support -----------------------------------------------------------------------------------------


def test_support_freezes_and_unfreezes_with_a_reason(user: User, committed: Committed) -> None:
    staff = UserFactory(is_staff=True)

    with committed():
        support.account_freeze(user=user, staff_member=staff, reason="caller reported a stolen phone")
    assert status_of(user) == "FROZEN"
    [event] = frozen_events(user)
    assert (event.actor, event.staff_member, event.details["how"]) == ("STAFF", staff, "support")

    with committed():
        support.account_unfreeze(user=user, staff_member=staff, reason="identity checked on a video call")

    assert status_of(user) == "ACTIVE"
    unfrozen = SecurityEvent.objects.get(user=user, type=SecurityEvent.Type.ACCOUNT_UNFROZEN)
    assert unfrozen.details == {"by": "support", "reason": "identity checked on a video call"}
    assert [m.subject for m in mail.outbox if "frozen" in m.subject or "active again" in m.subject]


def test_support_cannot_freeze_a_blocked_or_frozen_account_nor_unfreeze_an_active_one(user: User) -> None:
    staff = UserFactory(is_staff=True)
    with pytest.raises(ServiceError, match="not frozen"):
        support.account_unfreeze(user=user, staff_member=staff, reason="r")
    freeze(user)
    with pytest.raises(ServiceError, match="already frozen"):
        support.account_freeze(user=user, staff_member=staff, reason="r")


# --- unfreezing: the password reset ------------------------------------------------------------------


def test_the_reset_email_of_a_frozen_account_says_it_is_frozen(user: User) -> None:
    freeze(user)
    mail.outbox.clear()

    APIClient().post("/auth/password/reset", {"email": user.email}, format="json")

    [message] = mail.outbox
    assert "Your account is frozen" in message.body


def test_the_reset_confirm_unfreezes_keeps_the_factors_and_is_recorded_and_emailed(
    totp_user: tuple[User, pyotp.TOTP], committed: Committed
) -> None:
    user, authenticator = totp_user
    freeze(user)
    mail.outbox.clear()

    with committed():
        response = reset_confirm(user)

    assert response.status_code == 200
    assert status_of(user) == "ACTIVE" and user.totp_verified_at is not None
    assert SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.ACCOUNT_UNFROZEN).count() == 1
    assert any("active again" in message.subject for message in mail.outbox)
    asked = login(user, password=NEW_PASSWORD)
    assert asked.json()["code"] == "otp_required"
    assert login(user, password=NEW_PASSWORD, HTTP_X_OTP=authenticator.now()).status_code == 200


def test_a_reset_of_an_active_account_records_no_unfreeze(user: User) -> None:
    assert reset_confirm(user).status_code == 200

    assert not SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.ACCOUNT_UNFROZEN).exists()
