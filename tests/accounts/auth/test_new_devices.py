"""New-device sign-in alerts: which logins are from a known device, and what an unknown one sends."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import pyotp
import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client as BrowserClient
from django.utils import timezone
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from accounts.auth.new_devices import ip_network_of, new_device_login_check, new_device_remember
from accounts.core.client import Client
from accounts.models import KnownDevice, SecurityEvent, User
from tests.conftest import Committed, last_email_code
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.otp.webauthn.authenticator import SoftwareAuthenticator
from tests.otp.webauthn.conftest import passkey_register

pytestmark = pytest.mark.django_db

FIREFOX_ON_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
FIREFOX_130_ON_WINDOWS = FIREFOX_ON_WINDOWS.replace("120.0", "130.0")
SAFARI_ON_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Mobile/15E148 Safari/604.1"
)
HOME = "203.0.113.10"
HOME_NEIGHBOUR = "203.0.113.200"
ELSEWHERE = "198.51.100.7"


def api_login(
    user: User,
    *,
    ip: str = HOME,
    user_agent: str = FIREFOX_ON_WINDOWS,
    password: str = DEFAULT_PASSWORD,
    **extra: Any,
) -> Any:
    client = APIClient(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip)
    return client.post("/auth/login", {"email": user.email, "password": password}, format="json", **extra)


def signed_up_at(user: User, *, ip: str = HOME, user_agent: str = FIREFOX_ON_WINDOWS) -> User:
    new_device_remember(user=user, client=Client(ip=ip, user_agent=user_agent))
    return user


def alerts_of(user: User) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.NEW_DEVICE_LOGIN))


def alert_emails() -> list[Any]:
    return [message for message in mail.outbox if "new sign-in" in message.subject]


def new_device_logins_counted() -> float:
    return REGISTRY.get_sample_value("auth_new_device_logins_total") or 0.0


# --- the network of an address -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("203.0.113.10", "203.0.113.0/24"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.10", "203.0.113.0/24"),
        (None, ""),
        ("not an address", ""),
    ],
)
def test_the_network_of_a_login_is_its_ipv4_24_or_ipv6_64(ip: str | None, network: str) -> None:
    assert ip_network_of(ip) == network


# --- unknown devices are told ----------------------------------------------------------------------


def test_a_login_from_a_new_device_is_recorded_counted_and_emailed_with_the_freeze_link(
    user: User, committed: Committed
) -> None:
    signed_up_at(user)
    counted = new_device_logins_counted()

    with committed():
        response = api_login(user, ip=ELSEWHERE, user_agent=SAFARI_ON_IPHONE)

    assert response.status_code == 200
    [event] = alerts_of(user)
    assert event.details == {"device": "Safari on iPhone", "ip": ELSEWHERE}
    assert new_device_logins_counted() == counted + 1
    [message] = alert_emails()
    assert message.to == [user.email]
    assert "Safari on iPhone" in message.body and ELSEWHERE in message.body
    assert "New sign-in to your account" in message.body
    assert f"{settings.PUBLIC_BASE_URL}/account/freeze/" in message.body
    html_part = html.unescape(message.alternatives[0][0])
    assert "Safari on iPhone" in html_part and "/account/freeze/" in html_part


def test_the_same_device_label_from_another_network_is_new(user: User) -> None:
    signed_up_at(user)

    assert api_login(user, ip=ELSEWHERE).status_code == 200

    assert len(alerts_of(user)) == 1


def test_another_device_from_the_same_network_is_new(user: User) -> None:
    signed_up_at(user)

    assert api_login(user, user_agent=SAFARI_ON_IPHONE).status_code == 200

    assert len(alerts_of(user)) == 1


def test_a_place_not_seen_for_the_memory_days_is_new_again(user: User, settings: Any) -> None:
    settings.NEW_DEVICE_MEMORY_DAYS = 90
    signed_up_at(user)

    with time_machine.travel(timezone.now() + timedelta(days=91)):
        assert api_login(user).status_code == 200

    assert len(alerts_of(user)) == 1


def test_a_known_place_seen_again_stays_known(user: User, settings: Any) -> None:
    settings.NEW_DEVICE_MEMORY_DAYS = 90
    signed_up_at(user)
    with time_machine.travel(timezone.now() + timedelta(days=60)):
        assert api_login(user).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=120)):
        assert api_login(user).status_code == 200

    assert alerts_of(user) == []


def test_a_passwordless_passkey_login_from_a_new_device_is_told(user: User) -> None:
    authenticator = SoftwareAuthenticator()
    passkey_register(user, authenticator)
    signed_up_at(user)
    client = APIClient(HTTP_USER_AGENT=SAFARI_ON_IPHONE, REMOTE_ADDR=ELSEWHERE)
    options = client.post("/auth/login/webauthn/options", {}, format="json").json()

    response = client.post(
        "/auth/login/webauthn",
        {"challengeId": options["challengeId"], "credential": authenticator.get(options["publicKey"])},
        format="json",
    )

    assert response.status_code == 200
    assert [event.details["device"] for event in alerts_of(user)] == ["Safari on iPhone"]


def test_a_login_with_a_second_factor_is_told_once_it_has_passed(
    totp_user: tuple[User, pyotp.TOTP], committed: Committed
) -> None:
    user, authenticator = totp_user
    signed_up_at(user)

    with committed():
        asked = api_login(user, ip=ELSEWHERE)
    assert asked.json()["code"] == "otp_required"
    assert alerts_of(user) == [] and alert_emails() == []

    with committed():
        response = api_login(user, ip=ELSEWHERE, HTTP_X_OTP=authenticator.now())

    assert response.status_code == 200
    assert len(alerts_of(user)) == 1 and len(alert_emails()) == 1


def test_no_alert_without_a_successful_login(user: User, committed: Committed) -> None:
    signed_up_at(user)

    with committed():
        response = api_login(user, ip=ELSEWHERE, password="not the password")

    assert response.status_code == 403
    assert alerts_of(user) == [] and alert_emails() == []
    assert not KnownDevice.objects.filter(user=user, network=ip_network_of(ELSEWHERE)).exists()


def test_alerts_can_be_turned_off(user: User, settings: Any) -> None:
    settings.NEW_DEVICE_ALERTS = False

    assert api_login(user, ip=ELSEWHERE).status_code == 200

    assert alerts_of(user) == []
    assert not KnownDevice.objects.filter(user=user).exists()


# --- known devices are not told --------------------------------------------------------------------


def test_the_first_login_from_where_the_account_was_made_alerts_no_one(
    api_client: APIClient, committed: Committed
) -> None:
    client = APIClient(HTTP_USER_AGENT=FIREFOX_ON_WINDOWS, REMOTE_ADDR=HOME)
    email = "new-person@example.com"
    with committed():
        assert (
            client.post(
                "/auth/register", {"email": email, "password": DEFAULT_PASSWORD}, format="json"
            ).status_code
            == 202
        )
        response = client.post("/auth/login", {"email": email, "password": DEFAULT_PASSWORD}, format="json")

    assert response.status_code == 200
    assert alerts_of(User.objects.get(email=email)) == [] and alert_emails() == []


def test_the_same_device_label_from_the_same_network_is_known(user: User) -> None:
    signed_up_at(user)

    # Another address of the same /24, and a newer version of the same browser: the same label.
    assert api_login(user, ip=HOME_NEIGHBOUR, user_agent=FIREFOX_130_ON_WINDOWS).status_code == 200

    assert alerts_of(user) == []


def test_the_same_ipv6_64_is_the_same_network(user: User) -> None:
    signed_up_at(user, ip="2001:db8:1:2::10")

    assert api_login(user, ip="2001:db8:1:2:ffff::1").status_code == 200
    assert api_login(user, ip="2001:db8:1:3::1").status_code == 200

    assert len(alerts_of(user)) == 1


def test_a_device_seen_at_a_login_is_known_at_the_next(user: User) -> None:
    assert api_login(user, ip=ELSEWHERE).status_code == 200
    assert api_login(user, ip=ELSEWHERE).status_code == 200

    assert len(alerts_of(user)) == 1
    assert KnownDevice.objects.filter(user=user).count() == 1


def test_a_trusted_device_token_of_the_user_makes_the_device_known(
    totp_user: tuple[User, pyotp.TOTP],
) -> None:
    user, authenticator = totp_user
    signed_up_at(user)
    client = APIClient(HTTP_USER_AGENT=FIREFOX_ON_WINDOWS, REMOTE_ADDR=HOME)
    token = client.post(
        "/auth/login",
        {"email": user.email, "password": DEFAULT_PASSWORD, "trustDevice": True},
        format="json",
        HTTP_X_OTP=authenticator.now(),
    ).json()["deviceToken"]

    response = api_login(user, ip=ELSEWHERE, user_agent=SAFARI_ON_IPHONE, HTTP_X_DEVICE_TOKEN=token)

    assert response.status_code == 200
    assert alerts_of(user) == []


def test_the_pages_device_cookie_makes_the_browser_known_from_anywhere(user: User) -> None:
    browser = BrowserClient(headers={"User-Agent": FIREFOX_ON_WINDOWS}, REMOTE_ADDR=ELSEWHERE)
    assert (
        browser.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD}).status_code
        == 302
    )
    cookie = browser.cookies[settings.DEVICE_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and len(cookie.value) >= 40
    assert len(alerts_of(user)) == 1
    assert KnownDevice.objects.filter(user=user).exclude(cookie_hash="").get().cookie_hash != cookie.value
    browser.post("/account/logout/")

    # The same browser from another network, another User-Agent: known by its cookie.
    browser.defaults["REMOTE_ADDR"] = "192.0.2.99"
    browser.defaults["HTTP_USER_AGENT"] = SAFARI_ON_IPHONE
    assert (
        browser.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD}).status_code
        == 302
    )

    assert len(alerts_of(user)) == 1


def test_another_users_device_cookie_does_not_make_the_browser_known(user: User) -> None:
    other = UserFactory()
    browser = BrowserClient(headers={"User-Agent": FIREFOX_ON_WINDOWS}, REMOTE_ADDR=ELSEWHERE)
    browser.post("/account/login/", {"email": other.email, "password": DEFAULT_PASSWORD})
    browser.post("/account/logout/")

    assert (
        browser.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD}).status_code
        == 302
    )

    assert len(alerts_of(user)) == 1


def test_a_page_login_from_a_new_device_is_told(user: User, committed: Committed) -> None:
    signed_up_at(user)
    browser = BrowserClient(headers={"User-Agent": SAFARI_ON_IPHONE}, REMOTE_ADDR=ELSEWHERE)

    with committed():
        response = browser.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})

    assert response.status_code == 302
    assert len(alerts_of(user)) == 1 and len(alert_emails()) == 1


def test_the_login_check_reads_one_indexed_query_and_writes_nothing_for_a_known_place(
    user: User, django_assert_num_queries: Any
) -> None:
    signed_up_at(user)
    assert api_login(user).status_code == 200  # refreshes nothing: the sign-up was just now

    with django_assert_num_queries(1):
        known = new_device_login_check(user=user, client=Client(ip=HOME, user_agent=FIREFOX_ON_WINDOWS))

    assert known is True


def test_a_verification_code_email_is_not_a_sign_in(api_client: APIClient) -> None:
    client = APIClient(HTTP_USER_AGENT=FIREFOX_ON_WINDOWS, REMOTE_ADDR=HOME)
    client.post("/auth/register", {"email": "code@example.com", "password": DEFAULT_PASSWORD}, format="json")

    assert last_email_code()
    assert alert_emails() == []
