"""The second-factor pages: authenticator app, phone, recovery codes; step-up on each change."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import unquote

import pyotp
import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.core.client import Client as ServiceClient
from accounts.models import User
from otp import services as otp_services
from otp.models import SmsDevice
from otp.phone_numbers import SUPPORTED_COUNTRIES
from tests.accounts.pages.test_pages import (
    log_in,
    page_text,
    phone_verified,
    session_device_id,
    totp_device,
)
from tests.conftest import last_sms_code

pytestmark = pytest.mark.django_db

WRONG_CODE = "The one-time code is missing, wrong, expired or already used."


@pytest.fixture
def web() -> Client:
    return Client()


def next_step(authenticator: pyotp.TOTP) -> str:
    """The code of the next 30 s step: the current one may already be used (replay protection)."""
    return authenticator.at(time.time() + authenticator.interval)


# --- authenticator app (TOTP) -------------------------------------------------------------------


def test_totp_set_up_shows_the_qr_code_and_secret_then_confirms(web: Client, user: User) -> None:
    log_in(web, user)
    assert web.get("/account/totp/")["Location"] == "/account/totp/new/"
    assert 'name="otp"' not in page_text(web.get("/account/totp/new/"))  # no factor, no step-up

    assert web.post("/account/totp/new/")["Location"] == "/account/totp/"
    page = page_text(web.get("/account/totp/"))
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    authenticator = pyotp.TOTP(secret)
    assert "<svg" in page and "<script" not in page
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page

    wrong = web.post("/account/totp/", {"code": "000000"})
    right = web.post("/account/totp/", {"code": authenticator.now()}, follow=True)

    assert wrong.status_code == 403
    assert WRONG_CODE in page_text(wrong)
    assert right.redirect_chain == [("/account/", 302)]
    assert "Your authenticator app is set up." in page_text(right)
    user.refresh_from_db()
    assert user.totp_verified_at is not None
    assert session_device_id(web) == totp_device(user).persistent_id  # this session is verified
    assert web.get("/account/totp/")["Location"] == "/account/"  # the secret is never shown again


def test_totp_set_up_pages_are_never_cached(web: Client, user: User) -> None:
    log_in(web, user)
    web.post("/account/totp/new/")

    response = web.get("/account/totp/")

    assert "no-store" in response["Cache-Control"]
    assert "default-src 'none'" in response["Content-Security-Policy"]


def test_totp_set_up_beside_a_phone_needs_step_up(web: Client, user: User) -> None:
    device = phone_verified(user)
    log_in(web, user, device)
    page = page_text(web.get("/account/totp/new/"))
    assert "Code we texted you" in page and "Text a code to +34*******78" in page

    missing = web.post("/account/totp/new/", {})
    wrong = web.post("/account/totp/new/", {"otp": "000000"})
    sent = web.post("/account/phone/code/", {"next": "/account/totp/new/?method=SMS"}, follow=True)
    right = web.post("/account/totp/new/?method=SMS", {"otp": last_sms_code()})

    assert "This field is required." in page_text(missing)
    assert wrong.status_code == 403
    assert WRONG_CODE in page_text(wrong)
    assert sent.redirect_chain == [("/account/totp/new/?method=SMS", 302)]
    assert "We sent a code to +34*******78." in page_text(sent)
    assert right["Location"] == "/account/totp/"
    assert TOTPDevice.objects.filter(user=user, confirmed=False).exists()


def test_totp_set_up_when_one_is_verified_goes_back(web: Client, totp_user) -> None:
    user, _ = totp_user
    log_in(web, user, totp_device(user))

    response = web.get("/account/totp/new/", follow=True)

    assert response.redirect_chain == [("/account/", 302)]
    assert "An authenticator app is already set up." in page_text(response)


def test_totp_removal_needs_step_up_and_refuses_a_replayed_code(web: Client, totp_user) -> None:
    user, authenticator = totp_user
    log_in(web, user, totp_device(user))
    code = authenticator.now()
    otp_services.step_up_verify(user=user, otp=code, client=ServiceClient())  # this step is used

    replayed = web.post("/account/totp/remove/", {"otp": code})
    with time_machine.travel(timezone.now() + timedelta(seconds=30)):
        right = web.post("/account/totp/remove/", {"otp": authenticator.now()}, follow=True)

    assert replayed.status_code == 403
    assert WRONG_CODE in page_text(replayed)
    assert "The authenticator app is removed." in page_text(right)
    user.refresh_from_db()
    assert user.totp_verified_at is None
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_step_up_throttle_shows_the_wait(web: Client, totp_user) -> None:
    user, authenticator = totp_user
    log_in(web, user, totp_device(user))
    for _ in range(3):
        web.post("/account/totp/remove/", {"otp": "000000"})

    response = web.post("/account/totp/remove/", {"otp": authenticator.now()})

    assert response.status_code == 429
    assert "Too many wrong codes. Wait before trying again. Try again in 1 second." in page_text(response)
    assert response["Retry-After"] == "1"
    assert TOTPDevice.objects.filter(user=user).exists()


def test_factor_pages_ask_an_unverified_session_for_the_second_factor(web: Client, totp_user) -> None:
    user, _ = totp_user
    log_in(web, user)

    for path in ["/account/totp/remove/", "/account/phone/", "/account/recovery-codes/"]:
        assert web.get(path)["Location"] == "/account/login/code/"


# --- phone (SMS) -------------------------------------------------------------------------------


def test_phone_page_offers_every_supported_country_with_its_calling_code(web: Client, user: User) -> None:
    log_in(web, user)

    page = page_text(web.get("/account/phone/"))

    options = re.findall(r'<option value="([A-Z]{2})"', page)
    assert sorted(options) == SUPPORTED_COUNTRIES
    assert '<option value="ES">Spain (+34)</option>' in page
    assert 'autocomplete="tel-national"' in page


def test_phone_add_and_verify(web: Client, user: User) -> None:
    log_in(web, user)

    invalid = web.post("/account/phone/", {"country": "ES", "phone": "12"})
    added = web.post("/account/phone/", {"country": "ES", "phone": "612 34 56 78"}, follow=True)
    wrong = web.post("/account/phone/verify/", {"code": "000000"})
    right = web.post("/account/phone/verify/", {"code": last_sms_code()}, follow=True)

    assert invalid.status_code == 400
    assert "This is not a valid mobile number for the country given." in page_text(invalid)
    assert added.redirect_chain == [("/account/phone/verify/", 302)]
    assert "We sent a code to +34*******78." in page_text(added)
    assert wrong.status_code == 403
    assert WRONG_CODE in page_text(wrong)
    assert "Your phone is verified." in page_text(right)
    user.refresh_from_db()
    assert user.phone_verified_at is not None
    assert session_device_id(web) == SmsDevice.objects.get(user=user).persistent_id


def test_phone_add_beside_totp_needs_step_up(web: Client, totp_user) -> None:
    user, authenticator = totp_user
    log_in(web, user, totp_device(user))
    form = {"country": "ES", "phone": "612345678"}

    wrong = web.post("/account/phone/", {**form, "otp": "000000"})
    right = web.post("/account/phone/", {**form, "otp": authenticator.now()})

    assert wrong.status_code == 403
    assert WRONG_CODE in page_text(wrong)
    assert right["Location"] == "/account/phone/verify/"
    assert SmsDevice.objects.get(user=user).number == "+34612345678"


def test_phone_code_resend_inside_the_cooldown_shows_the_wait(web: Client, user: User) -> None:
    log_in(web, user)
    web.post("/account/phone/", {"country": "ES", "phone": "612345678"})

    response = web.post("/account/phone/code/", follow=True)

    assert response.redirect_chain == [("/account/phone/verify/", 302)]
    assert "A code was sent recently" in page_text(response)
    assert "Try again in 1 minute." in page_text(response)


def test_phone_code_send_refuses_a_foreign_next(web: Client, user: User) -> None:
    device = phone_verified(user)
    log_in(web, user, device)

    response = web.post("/account/phone/code/", {"next": "https://evil.example/"})

    assert response["Location"] == "/account/phone/verify/"


def test_phone_removal_with_an_sms_step_up_code_drops_the_recovery_codes(web: Client, user: User) -> None:
    device = phone_verified(user)
    log_in(web, user, device)
    otp_services.sms_code_send(user=user)
    otp_services.recovery_codes_generate(user=user, otp=last_sms_code(), client=ServiceClient())
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        web.post("/account/phone/code/", {"next": "/account/phone/remove/?method=SMS"})
        response = web.post("/account/phone/remove/?method=SMS", {"otp": last_sms_code()}, follow=True)

    assert "Your phone is removed." in page_text(response)
    user.refresh_from_db()
    assert user.phone_verified_at is None
    assert not StaticDevice.objects.filter(user=user).exists()


# --- recovery codes -------------------------------------------------------------------------------


def test_recovery_codes_need_a_factor(web: Client, user: User) -> None:
    log_in(web, user)

    response = web.post("/account/recovery-codes/")

    assert response.status_code == 400
    assert "Set up an authenticator app or a phone first." in page_text(response)


def test_recovery_codes_are_shown_once_with_a_download_after_step_up(web: Client, totp_user) -> None:
    user, authenticator = totp_user
    log_in(web, user, totp_device(user))

    wrong = web.post("/account/recovery-codes/", {"otp": "000000"})
    right = web.post("/account/recovery-codes/", {"otp": authenticator.now()})

    assert wrong.status_code == 403
    assert WRONG_CODE in page_text(wrong)
    assert right.status_code == 200
    assert "no-store" in right["Cache-Control"]
    page = page_text(right)
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", page)
    assert len(codes) == 10
    download = re.search(r'href="(data:text/plain;charset=utf-8,[^"]+)" download="recovery-codes.txt"', page)
    assert all(code in unquote(download.group(1)) for code in codes)
    assert otp_services.login_second_factor_verify(user=user, code=codes[0], client=ServiceClient()) == (
        otp_services.Method.RECOVERY_CODE
    )
    page = page_text(web.get("/account/recovery-codes/?method=RECOVERY_CODE"))
    assert "9</strong> unused codes" in page
    assert 'inputmode="text"' in page  # a recovery code may now confirm the next change


def test_recovery_code_is_a_step_up_code(web: Client, totp_user) -> None:
    user, authenticator = totp_user
    codes = otp_services.recovery_codes_generate(
        user=user, otp=next_step(authenticator), client=ServiceClient()
    )
    log_in(web, user, totp_device(user))

    with time_machine.travel(timezone.now() + timedelta(seconds=30)):
        response = web.post("/account/totp/remove/?method=RECOVERY_CODE", {"otp": codes[0]}, follow=True)

    assert "The authenticator app is removed." in page_text(response)
    # That was the last factor: its recovery codes went with it.
    assert not StaticDevice.objects.filter(user=user).exists()
    assert User.objects.get(pk=user.pk).has_second_factor is False
