"""Sessions and trusted devices on the pages: the browser's session row, the security page, the trust cookie."""

from __future__ import annotations

import html
from datetime import timedelta

import pyotp
import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.auth.browser_sessions import BROWSER_SESSION_KEY
from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.core.client import Client as ServiceClient
from accounts.models import SecurityEvent, TrustedDevice, User, UserSession
from tests.conftest import authenticate
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

FIREFOX_ON_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
CHROME_ON_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)
NEW_PASSWORD = "another perfectly fine passphrase"


def browser(user_agent: str = FIREFOX_ON_WINDOWS) -> Client:
    return Client(headers={"User-Agent": user_agent})


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def page_login(client: Client, user: User, code: str | None = None, *, trust: bool = False) -> None:
    response = client.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    if code is not None:
        form = {"code": code, **({"trust_device": "on"} if trust else {})}
        assert client.post("/account/login/code/", form).status_code == 302
    assert client.get("/account/").status_code == 200


def session_row(client: Client) -> UserSession:
    return UserSession.objects.get(pk=client.session[BROWSER_SESSION_KEY]["id"])


# --- the browser session ---------------------------------------------------------------------------


def test_a_page_login_starts_a_browser_session_under_the_django_session_key(user: User) -> None:
    client = browser()
    page_login(client, user)

    row = session_row(client)
    assert (row.kind, row.device, row.amr) == ("browser", "Firefox on Windows", ["pwd"])
    assert row.session_key == client.session.session_key
    assert row.ended_at is None


def test_the_security_page_lists_where_the_user_is_signed_in(user: User) -> None:
    tokens_for_login(
        user, amr=AMR_PASSWORD, client=ServiceClient(ip="198.51.100.4", user_agent=CHROME_ON_MAC)
    )
    client = browser()
    page_login(client, user)

    page = page_text(client.get("/account/"))

    assert "Where you're signed in" in page
    assert "Firefox on Windows" in page and "This device" in page
    assert "Chrome on macOS" in page and "198.51.100.4" in page
    assert "Sign out everywhere else" in page
    assert "Mozilla/5.0" not in page, "the last login shows the device label, not the User-Agent"


def test_ending_a_browser_session_from_the_api_logs_it_out_at_once(user: User) -> None:
    client = browser()
    page_login(client, user)
    row = session_row(client)

    response = authenticate(APIClient(), user).delete(f"/auth/sessions/{row.pk}")

    assert response.status_code == 204
    assert not Session.objects.filter(session_key=row.session_key).exists()
    assert client.get("/account/")["Location"].startswith("/account/login/")


def test_sign_out_on_the_security_page_ends_another_session(user: User) -> None:
    api_tokens = tokens_for_login(user, amr=AMR_PASSWORD)
    other = browser(CHROME_ON_MAC)
    page_login(other, user)
    client = browser()
    page_login(client, user)

    client.post(f"/account/sessions/{session_row(other).pk}/end/")

    assert other.get("/account/").status_code == 302
    assert client.get("/account/").status_code == 200
    assert authenticate_with(api_tokens.id_token).get("/auth/me").status_code == 200


def authenticate_with(id_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {id_token}")
    return client


def test_sign_out_on_this_session_logs_out(user: User) -> None:
    client = browser()
    page_login(client, user)
    response = client.post(f"/account/sessions/{session_row(client).pk}/end/")
    assert response["Location"] == "/account/login/"
    assert client.get("/account/").status_code == 302


def test_sign_out_of_an_unknown_or_foreign_session_changes_nothing(user: User) -> None:
    from tests.factories import UserFactory

    stranger = UserFactory()
    foreign = tokens_for_login(stranger, amr=AMR_PASSWORD)
    client = browser()
    page_login(client, user)

    response = client.post(f"/account/sessions/{UserSession.objects.get(user=stranger).pk}/end/", follow=True)

    assert "Nothing with this id belongs to the account." in page_text(response)
    assert authenticate_with(foreign.id_token).get("/auth/me").status_code == 200


def test_sign_out_everywhere_else_keeps_this_browser(user: User) -> None:
    api_tokens = tokens_for_login(user, amr=AMR_PASSWORD)
    other = browser(CHROME_ON_MAC)
    page_login(other, user)
    client = browser()
    page_login(client, user)

    response = client.post("/account/sessions/end-others/", follow=True)

    assert "Signed out of 2 other sessions." in page_text(response)
    assert client.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302
    assert authenticate_with(api_tokens.id_token).get("/auth/me").status_code == 401


def test_logout_ends_the_browser_session(user: User) -> None:
    client = browser()
    page_login(client, user)
    row = session_row(client)
    client.post("/account/logout/")
    row.refresh_from_db()
    assert row.ended_at is not None


def test_last_used_is_stamped_at_most_once_a_minute(user: User) -> None:
    client = browser()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        page_login(client, user)
        row = session_row(client)
        started = row.last_used_at

        clock.shift(timedelta(seconds=30))
        client.get("/account/")
        row.refresh_from_db()
        assert row.last_used_at == started, "not on every request"

        clock.shift(timedelta(seconds=31))
        client.get("/account/")
        row.refresh_from_db()
        assert row.last_used_at - started >= timedelta(seconds=61)


def test_a_browser_whose_row_has_ended_is_logged_out_at_its_next_stamp(user: User) -> None:
    """Even when its Django session survived (e.g. under a key the row did not know)."""
    client = browser()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        page_login(client, user)
        UserSession.objects.filter(pk=session_row(client).pk).update(ended_at=timezone.now(), session_key="")
        clock.shift(timedelta(seconds=61))
        assert client.get("/account/").status_code == 302


def test_a_password_change_on_the_page_keeps_this_session_and_ends_the_others(user: User) -> None:
    api_tokens = tokens_for_login(user, amr=AMR_PASSWORD)
    client = browser()
    page_login(client, user)

    client.post("/account/password/", {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD})

    row = session_row(client)
    assert row.ended_at is None
    assert row.session_key == client.session.session_key, "the row follows the new session key"
    assert UserSession.objects.filter(user=user, ended_at__isnull=True).count() == 1
    assert authenticate_with(api_tokens.id_token).get("/auth/me").status_code == 401


# --- trusting this browser ---------------------------------------------------------------------------


def test_the_second_step_offers_to_trust_this_browser(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, _ = totp_user
    client = browser()
    client.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert "Trust this browser for 30 days" in page_text(client.get("/account/login/code/"))


def test_trusting_this_browser_sets_a_secure_httponly_cookie_and_skips_the_code_next_time(
    totp_user: tuple[User, pyotp.TOTP],
) -> None:
    user, authenticator = totp_user
    client = browser()
    page_login(client, user, authenticator.now(), trust=True)

    cookie = client.cookies[settings.TRUSTED_DEVICE_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == 30 * 24 * 60 * 60
    assert TrustedDevice.objects.get(user=user).device == "Firefox on Windows"
    assert "Trusted devices" in page_text(client.get("/account/"))

    client.post("/account/logout/")
    response = client.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})

    assert response["Location"] == "/account/", "no second step"
    assert session_row(client).amr == ["pwd", "trusted_device"]
    assert SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.TRUSTED_DEVICE_USED).exists()


def test_a_login_on_a_trusted_browser_still_asks_for_a_code_before_changing_a_factor(
    totp_user: tuple[User, pyotp.TOTP],
) -> None:
    user, authenticator = totp_user
    client = browser()
    page_login(client, user, authenticator.now(), trust=True)
    client.post("/account/logout/")
    client.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})

    assert client.get("/account/totp/remove/")["Location"] == "/account/login/code/"


def test_the_cookie_is_secure_when_the_session_cookie_is(
    totp_user: tuple[User, pyotp.TOTP], settings
) -> None:
    settings.SESSION_COOKIE_SECURE = True
    user, authenticator = totp_user
    client = browser()
    client.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    client.post("/account/login/code/", {"code": authenticator.now(), "trust_device": "on"})
    assert client.cookies[settings.TRUSTED_DEVICE_COOKIE_NAME]["secure"] is True


def test_without_the_tick_no_device_is_trusted(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, authenticator = totp_user
    client = browser()
    page_login(client, user, authenticator.now())
    assert settings.TRUSTED_DEVICE_COOKIE_NAME not in client.cookies
    assert not TrustedDevice.objects.exists()


def test_removing_the_trusted_device_on_the_security_page_asks_for_the_code_again(
    totp_user: tuple[User, pyotp.TOTP],
) -> None:
    user, authenticator = totp_user
    client = browser()
    page_login(client, user, authenticator.now(), trust=True)
    device = TrustedDevice.objects.get(user=user)
    assert "This device" in page_text(client.get("/account/"))

    response = client.post(f"/account/trusted-devices/{device.pk}/remove/", follow=True)

    assert "That device is no longer trusted" in page_text(response)
    client.post("/account/logout/")
    again = client.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert again["Location"] == "/account/login/code/"


def test_a_foreign_cookie_is_ignored(totp_user: tuple[User, pyotp.TOTP]) -> None:
    from accounts.auth.trusted_devices import trusted_device_create
    from tests.factories import UserFactory

    user, _ = totp_user
    foreign = trusted_device_create(user=UserFactory(), client=ServiceClient()).token
    client = browser()
    client.cookies[settings.TRUSTED_DEVICE_COOKIE_NAME] = foreign
    response = client.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert response["Location"] == "/account/login/code/"
