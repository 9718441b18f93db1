"""The account pages through Django's test client: each page, each refusal, the session rules."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.core.client import Client as ServiceClient
from accounts.models import SecurityEvent, User
from otp import services as otp_services
from otp.models import SmsDevice
from tests.conftest import commit_callbacks_run, last_email_code, last_sms_code
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

USER_AGENT = "pytest-browser/1.0"
NEW_PASSWORD = "another perfectly fine passphrase"
PHONE = "+34612345678"


@pytest.fixture
def web() -> Client:
    return Client(headers={"User-Agent": USER_AGENT})


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def log_in(client: Client, user: User, device: Device | None = None) -> None:
    """A session of `user`; verified (django-otp) by `device` when one is given."""
    client.force_login(user)
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()


def session_device_id(client: Client) -> str | None:
    return client.session.get(DEVICE_ID_SESSION_KEY)


def phone_verified(user: User, number: str = PHONE) -> SmsDevice:
    device = SmsDevice.objects.create(user=user, name="Phone", number=number, confirmed=True)
    User.objects.filter(pk=user.pk).update(phone_verified_at=timezone.now())
    user.refresh_from_db()
    return device


def totp_device(user: User) -> TOTPDevice:
    return TOTPDevice.objects.get(user=user, confirmed=True)


def password_step(client: Client, email: str, password: str = DEFAULT_PASSWORD, **extra: str):
    return client.post("/account/login/", {"email": email, "password": password, **extra})


# --- the site ----------------------------------------------------------------------------------


def test_root_redirects_to_the_account_pages(web: Client) -> None:
    response = web.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/account/"


def test_account_pages_need_a_session(web: Client) -> None:
    response = web.get("/account/")

    assert response.status_code == 302
    assert response["Location"] == "/account/login/?next=/account/"


def test_pages_send_a_content_security_policy_and_are_never_cached(web: Client) -> None:
    response = web.get("/account/login/")

    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "style-src 'self'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert "no-store" in response["Cache-Control"]


def test_the_stylesheet_is_served_locally_by_whitenoise(settings) -> None:
    # Production serves the collected files; here whitenoise finds them where they are.
    settings.WHITENOISE_USE_FINDERS = True
    web = Client()
    page = page_text(web.get("/account/login/"))
    response = web.get("/static/css/site.css")

    assert '<link rel="stylesheet" href="/static/css/site.css">' in page
    assert "http" not in re.sub(r"<a [^>]*>", "", page.split("<body>")[0])  # no CDN in <head>
    assert response.status_code == 200
    assert b".card" in b"".join(response.streaming_content)


# --- sign-up ------------------------------------------------------------------------------------


def test_signup_page_fields_are_labelled_for_password_managers(web: Client) -> None:
    page = page_text(web.get("/account/signup/"))

    assert '<label for="id_email">Email</label>' in page
    assert 'autocomplete="email"' in page
    assert 'autocomplete="new-password"' in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_signup_creates_the_account_and_emails_a_code(web: Client) -> None:
    response = web.post(
        "/account/signup/", {"email": "New@Example.com", "password": NEW_PASSWORD}, follow=True
    )

    assert response.redirect_chain == [("/account/login/", 302)]
    assert "we sent a code to verify your email" in page_text(response)
    user = User.objects.get(email="new@example.com")
    assert user.last_login_device == USER_AGENT
    assert re.search(r"\b\d{6}\b", mail.outbox[-1].body)


def test_signup_with_a_taken_email_answers_the_same(web: Client, user: User) -> None:
    response = web.post("/account/signup/", {"email": user.email, "password": NEW_PASSWORD}, follow=True)

    assert response.redirect_chain == [("/account/login/", 302)]
    assert "we sent a code to verify your email" in page_text(response)
    assert User.objects.count() == 1
    assert mail.outbox[-1].to == [user.email]


def test_signup_refuses_a_weak_password_with_the_reason(web: Client) -> None:
    response = web.post("/account/signup/", {"email": "new@example.com", "password": "password"})

    assert response.status_code == 400
    assert "This password is too common." in page_text(response)
    assert not User.objects.exists()


def test_signup_shares_the_api_rate_limit_and_shows_the_wait(web: Client, settings) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"register": "1/hour"}}
    web.post("/account/signup/", {"email": "one@example.com", "password": NEW_PASSWORD})

    response = web.post("/account/signup/", {"email": "two@example.com", "password": NEW_PASSWORD})

    assert response.status_code == 429
    assert "Too many requests from your network. Try again in 1 hour." in page_text(response)
    assert response["Retry-After"] == "3600"
    assert not User.objects.filter(email="two@example.com").exists()


# --- login, first step ----------------------------------------------------------------------


def test_login_page_fields(web: Client) -> None:
    page = page_text(web.get("/account/login/"))

    assert 'autocomplete="current-password"' in page
    assert 'autocomplete="username"' in page
    assert "autofocus" in page


def test_login_without_a_second_factor_opens_the_session(web: Client, user: User) -> None:
    response = password_step(web, user.email)

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert web.get("/account/").status_code == 200
    user.refresh_from_db()
    assert user.last_login_device == USER_AGENT
    assert SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.LOGIN_SUCCEEDED).exists()


def test_login_sends_an_unverified_email_to_its_verification(web: Client) -> None:
    user = UserFactory(email_verified_at=None)

    response = password_step(web, user.email)

    assert response["Location"] == "/account/email/verify/"


def test_login_refuses_a_wrong_password_as_an_unknown_email(web: Client, user: User) -> None:
    wrong = password_step(web, user.email, "not the password")
    unknown = password_step(web, "nobody@example.com")

    assert wrong.status_code == unknown.status_code == 403
    assert "The email or the password is not correct." in page_text(wrong)
    assert "The email or the password is not correct." in page_text(unknown)
    assert "_auth_user_id" not in web.session


def test_login_throttle_shows_the_wait(web: Client, user: User, settings) -> None:
    settings.LOGIN_FAILURES_BEFORE_DELAY = 0
    password_step(web, user.email, "not the password")

    response = password_step(web, user.email)

    assert response.status_code == 429
    assert "Too many failed sign-in attempts." in page_text(response)
    assert "Try again in 1 second." in page_text(response)
    assert response["Retry-After"] == "1"


def test_login_of_a_blocked_account_says_so(web: Client) -> None:
    user = UserFactory(status=User.Status.BLOCKED)

    response = password_step(web, user.email)

    assert response.status_code == 403
    assert "This account is blocked. Contact support." in page_text(response)
    assert "_auth_user_id" not in web.session


def test_login_of_a_locked_account_shows_the_wait(web: Client) -> None:
    user = UserFactory(status=User.Status.LOCKED, locked_until=timezone.now() + timedelta(minutes=30))

    response = password_step(web, user.email)

    assert response.status_code == 403
    assert "This account is locked" in page_text(response)
    assert "Try again in 30 minutes." in page_text(response)


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [("/account/password/", "/account/password/"), ("https://evil.example/", "/account/")],
)
def test_login_follows_next_only_on_this_site(web: Client, user: User, next_url: str, expected: str) -> None:
    response = password_step(web, user.email, next=next_url)

    assert response["Location"] == expected


def test_login_page_of_a_logged_in_user_goes_to_the_account(web: Client, user: User) -> None:
    log_in(web, user)

    assert web.get("/account/login/")["Location"] == "/account/"


# --- login, second step ---------------------------------------------------------------------


def test_login_with_totp_verifies_the_session_after_the_code(web: Client, totp_user) -> None:
    user, authenticator = totp_user
    anonymous_key = web.session.session_key

    response = password_step(web, user.email)

    assert response["Location"] == "/account/login/code/"
    assert "_auth_user_id" not in web.session
    assert web.session.session_key != anonymous_key
    page = page_text(web.get("/account/login/code/"))
    assert "Code from your authenticator app" in page
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page

    response = web.post("/account/login/code/", {"code": authenticator.now()})

    assert response["Location"] == "/account/"
    assert web.session["_auth_user_id"] == str(user.pk)
    assert session_device_id(web) == totp_device(user).persistent_id
    event = SecurityEvent.objects.filter(user=user, type=SecurityEvent.Type.LOGIN_SUCCEEDED).first()
    assert event.details == {"factor": "totp"}


def test_login_code_wrong_is_refused(web: Client, totp_user) -> None:
    user, _ = totp_user
    password_step(web, user.email)

    response = web.post("/account/login/code/", {"code": "000000"})

    assert response.status_code == 403
    assert "The one-time code is missing, wrong, expired or already used." in page_text(response)
    assert "_auth_user_id" not in web.session


def test_login_code_throttle_shows_the_wait(web: Client, totp_user) -> None:
    user, authenticator = totp_user
    password_step(web, user.email)
    for _ in range(3):
        web.post("/account/login/code/", {"code": "000000"})

    response = web.post("/account/login/code/", {"code": authenticator.now()})

    assert response.status_code == 429
    assert "Too many wrong codes." in page_text(response)
    assert "Try again in 1 second." in page_text(response)
    assert "_auth_user_id" not in web.session


def test_login_code_of_a_locked_account_shows_the_wait(web: Client, totp_user) -> None:
    user, authenticator = totp_user
    password_step(web, user.email)
    User.objects.filter(pk=user.pk).update(
        status=User.Status.LOCKED, locked_until=timezone.now() + timedelta(hours=1)
    )

    response = web.post("/account/login/code/", {"code": authenticator.now()})

    assert response.status_code == 403
    assert "This account is locked" in page_text(response)
    assert "Try again in 1 hour." in page_text(response)


def test_login_code_step_times_out(web: Client, totp_user, settings) -> None:
    user, _ = totp_user
    password_step(web, user.email)

    with time_machine.travel(timezone.now() + timedelta(seconds=settings.LOGIN_SECOND_STEP_SECONDS + 1)):
        response = web.get("/account/login/code/", follow=True)

    assert response.redirect_chain == [("/account/login/", 302)]
    assert "Enter your email and password first." in page_text(response)


def test_login_code_step_needs_the_password_step(web: Client) -> None:
    assert web.get("/account/login/code/")["Location"] == "/account/login/"
    assert web.post("/account/login/code/sms/")["Location"] == "/account/login/"


def test_login_with_an_sms_code(web: Client, user: User) -> None:
    device = phone_verified(user)
    password_step(web, user.email)
    assert "Text a code to +34*******78" in page_text(web.get("/account/login/code/"))

    response = web.post("/account/login/code/sms/", follow=True)

    assert response.redirect_chain == [("/account/login/code/?method=SMS", 302)]
    assert "We sent a code to +34*******78. It works for 10 minutes." in page_text(response)
    response = web.post("/account/login/code/?method=SMS", {"code": last_sms_code()})
    assert response["Location"] == "/account/"
    assert session_device_id(web) == device.persistent_id


def test_login_sms_resend_inside_the_cooldown_shows_the_wait(web: Client, user: User) -> None:
    phone_verified(user)
    password_step(web, user.email)
    web.post("/account/login/code/sms/")

    response = web.post("/account/login/code/sms/", follow=True)

    assert "A code was sent recently" in page_text(response)
    assert "Try again in 1 minute." in page_text(response)


def test_login_with_a_recovery_code(web: Client, totp_user) -> None:
    user, authenticator = totp_user
    codes = otp_services.recovery_codes_generate(user=user, otp=authenticator.now(), client=ServiceClient())
    password_step(web, user.email)
    page = page_text(web.get("/account/login/code/?method=RECOVERY_CODE"))
    assert "Recovery code" in page and 'inputmode="text"' in page

    response = web.post("/account/login/code/?method=RECOVERY_CODE", {"code": codes[0]})

    assert response["Location"] == "/account/"
    device = StaticDevice.objects.get(user=user)
    assert session_device_id(web) == device.persistent_id
    assert device.token_set.count() == 9


# --- logout ---------------------------------------------------------------------------------


def test_logout_asks_then_ends_the_session(web: Client, user: User) -> None:
    log_in(web, user)
    assert "Log out of" in page_text(web.get("/account/logout/"))

    response = web.post("/account/logout/", follow=True)

    assert response.redirect_chain == [("/account/login/", 302)]
    assert "You are logged out." in page_text(response)
    assert web.get("/account/")["Location"].startswith("/account/login/")
    event = SecurityEvent.objects.get(user=user, type=SecurityEvent.Type.LOGGED_OUT)
    assert event.details == {"session": "browser"}


# --- the security page ------------------------------------------------------------------------


def test_security_page_shows_factors_status_last_login_and_events(web: Client, totp_user) -> None:
    user, authenticator = totp_user
    phone_verified(user)
    codes = otp_services.recovery_codes_generate(user=user, otp=authenticator.now(), client=ServiceClient())
    password_step(web, user.email)
    web.post("/account/login/code/", {"code": "000000"})
    web.post("/account/login/code/", {"code": codes[0]})

    page = page_text(web.get("/account/"))

    assert user.email in page
    assert "+34*******78" in page
    assert "9 left" in page
    assert "Active" in page
    assert "Unknown device" in page  # last login device: the label of a User-Agent no parser knows
    assert USER_AGENT not in page
    assert "Recovery codes generated" in page
    assert "Second factor failed" in page


def test_security_page_ends_the_session_of_a_blocked_account(web: Client, user: User) -> None:
    log_in(web, user)
    User.objects.filter(pk=user.pk).update(status=User.Status.BLOCKED)

    response = web.get("/account/", follow=True)

    assert response.redirect_chain == [("/account/login/", 302)]
    assert "This account is blocked. Contact support." in page_text(response)
    assert "_auth_user_id" not in web.session


def test_security_page_ends_the_session_of_a_locked_account_with_the_wait(web: Client, user: User) -> None:
    log_in(web, user)
    User.objects.filter(pk=user.pk).update(
        status=User.Status.LOCKED, locked_until=timezone.now() + timedelta(minutes=5)
    )

    response = web.get("/account/", follow=True)

    assert "This account is locked" in page_text(response)
    assert "Try again in 5 minutes." in page_text(response)


# --- email verification -----------------------------------------------------------------------


@pytest.fixture
def unverified_user(db: None) -> User:
    user = UserFactory(email_verified_at=None)
    with commit_callbacks_run():
        otp_services.email_verification_code_send(user=user)
    return user


def test_email_verification_by_code(web: Client, unverified_user: User) -> None:
    log_in(web, unverified_user)
    page = page_text(web.get("/account/email/verify/"))
    assert 'autocomplete="one-time-code"' in page

    wrong = web.post("/account/email/verify/", {"code": "000000"})
    right = web.post("/account/email/verify/", {"code": last_email_code()}, follow=True)

    assert wrong.status_code == 403
    assert "The one-time code is missing, wrong, expired or already used." in page_text(wrong)
    assert right.redirect_chain == [("/account/", 302)]
    assert "Your email is verified." in page_text(right)
    unverified_user.refresh_from_db()
    assert unverified_user.email_verified


def test_email_code_resend_waits_for_the_cooldown(web: Client, unverified_user: User) -> None:
    log_in(web, unverified_user)

    early = web.post("/account/email/verify/resend/", follow=True)
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        later = web.post("/account/email/verify/resend/", follow=True)

    assert "A code was sent recently" in page_text(early)
    assert "Try again in 1 minute." in page_text(early)
    assert f"We sent a code to {unverified_user.email}." in page_text(later)
    assert len(mail.outbox) == 2


def test_email_verification_of_a_verified_email_goes_back(web: Client, user: User) -> None:
    log_in(web, user)

    response = web.get("/account/email/verify/", follow=True)

    assert response.redirect_chain == [("/account/", 302)]
    assert "Your email is already verified." in page_text(response)


# --- password change ------------------------------------------------------------------------


def test_password_change_without_a_factor(
    web: Client, user: User, django_capture_on_commit_callbacks
) -> None:
    log_in(web, user)
    page = page_text(web.get("/account/password/"))
    assert 'autocomplete="current-password"' in page and 'autocomplete="new-password"' in page
    assert 'name="otp"' not in page

    wrong = web.post("/account/password/", {"current_password": "nope", "new_password": NEW_PASSWORD})
    weak = web.post("/account/password/", {"current_password": DEFAULT_PASSWORD, "new_password": "password"})
    with django_capture_on_commit_callbacks(execute=True):
        right = web.post(
            "/account/password/",
            {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
            follow=True,
        )

    assert wrong.status_code == 403
    assert "The current password is not correct." in page_text(wrong)
    assert weak.status_code == 400
    assert "This password is too common." in page_text(weak)
    assert "Your password is changed." in page_text(right)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert web.get("/account/").status_code == 200  # this session stays
    assert "password" in mail.outbox[-1].subject.lower()


def test_password_change_ends_the_other_sessions(user: User) -> None:
    here, elsewhere = Client(), Client()
    log_in(here, user)
    log_in(elsewhere, user)

    here.post("/account/password/", {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD})

    assert here.get("/account/").status_code == 200
    assert elsewhere.get("/account/").status_code == 302


def test_password_change_with_a_factor_needs_step_up(web: Client, totp_user) -> None:
    user, authenticator = totp_user
    log_in(web, user, totp_device(user))
    form = {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}

    missing = web.post("/account/password/", form)
    wrong = web.post("/account/password/", {**form, "otp": "000000"})
    right = web.post("/account/password/", {**form, "otp": authenticator.now()})
    replayed = web.post(
        "/account/password/",
        {"current_password": NEW_PASSWORD, "new_password": DEFAULT_PASSWORD, "otp": authenticator.now()},
    )

    assert missing.status_code == 200
    assert "This field is required." in page_text(missing)
    assert wrong.status_code == 403
    assert "The one-time code is missing, wrong, expired or already used." in page_text(wrong)
    assert right.status_code == 302
    assert replayed.status_code == 403
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_factor_pages_need_a_verified_session_and_come_back_after_it(web: Client, totp_user) -> None:
    user, authenticator = totp_user
    log_in(web, user)  # logged in, but the second factor was not passed in this session

    response = web.get("/account/password/", follow=True)

    assert response.redirect_chain == [("/account/login/code/", 302)]
    assert "Confirm it is you with your second factor to continue." in page_text(response)
    response = web.post("/account/login/code/", {"code": authenticator.now()})
    assert response["Location"] == "/account/password/"
    assert web.get("/account/password/").status_code == 200


# --- password reset -----------------------------------------------------------------------


def reset_link_path() -> str:
    match = re.search(r"https?://[^/\s]+(/account/password/reset/[^/\s]+/[^/\s]+/)", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def test_password_reset_request_answers_the_same_for_any_email(web: Client, user: User) -> None:
    known = web.post("/account/password/reset/", {"email": user.email}, follow=True)
    unknown = web.post("/account/password/reset/", {"email": "nobody@example.com"}, follow=True)

    assert known.redirect_chain == unknown.redirect_chain == [("/account/login/", 302)]
    assert "If an account has this email, we sent it a link" in page_text(known)
    assert "If an account has this email, we sent it a link" in page_text(unknown)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]


def test_password_reset_link_sets_the_password_once(web: Client, user: User) -> None:
    web.post("/account/password/reset/", {"email": user.email})
    link = reset_link_path()
    assert 'autocomplete="new-password"' in page_text(web.get(link))

    weak = web.post(link, {"new_password": "password"})
    right = web.post(link, {"new_password": NEW_PASSWORD}, follow=True)
    used = web.post(link, {"new_password": "yet another fine passphrase"})

    assert weak.status_code == 400
    assert "This password is too common." in page_text(weak)
    assert right.redirect_chain == [("/account/login/", 302)]
    assert "Your password is reset. Log in with it." in page_text(right)
    assert "_auth_user_id" not in web.session  # a reset does not log in
    assert used.status_code == 400
    assert "This link does not work any more" in page_text(used)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_password_reset_request_shares_the_api_rate_limit(web: Client, settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"password_reset": "1/hour"},
    }
    web.post("/account/password/reset/", {"email": "a@example.com"})

    response = web.post("/account/password/reset/", {"email": "a@example.com"})

    assert response.status_code == 429
    assert "Try again in 1 hour." in page_text(response)
