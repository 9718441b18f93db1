"""The passkey pages and the JSON steps static/js/passkeys.js calls with the session."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client as BrowserClient

from accounts.models import User
from otp.webauthn.models import WebAuthnDevice
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.otp.webauthn.authenticator import SoftwareAuthenticator


def post_json(browser: BrowserClient, url: str, body: dict[str, Any] | None = None) -> Any:
    return browser.post(url, json.dumps(body or {}), content_type="application/json")


def logged_in(user: User) -> BrowserClient:
    browser = BrowserClient()
    browser.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    return browser


def test_add_a_passkey_from_the_pages(db: None, authenticator: SoftwareAuthenticator) -> None:
    user = UserFactory()
    browser = logged_in(user)
    assert "Add a passkey" in browser.get("/account/passkeys/add/").content.decode()

    options = post_json(browser, "/account/passkeys/add/options/").json()
    done = post_json(
        browser,
        "/account/passkeys/add/complete/",
        {
            "challengeId": options["challengeId"],
            "credential": authenticator.create(options["publicKey"]),
            "name": "Mine",
        },
    )

    assert done.status_code == 200 and done.json() == {"redirect": "/account/"}
    page = browser.get("/account/").content.decode()
    assert "Mine" in page and "Your passkey is added" in page


def test_without_javascript_the_add_form_explains(db: None) -> None:
    browser = logged_in(UserFactory())

    response = browser.post("/account/passkeys/add/", {"name": "x"})

    assert response.status_code == 400 and "needs JavaScript" in response.content.decode()


def test_a_passkey_alone_signs_in_on_the_pages(passkey_user: tuple[User, SoftwareAuthenticator]) -> None:
    user, authenticator = passkey_user
    browser = BrowserClient()

    options = post_json(browser, "/account/login/passkey/options/").json()
    response = post_json(
        browser,
        "/account/login/passkey/",
        {"challengeId": options["challengeId"], "credential": authenticator.get(options["publicKey"])},
    )

    assert response.status_code == 200 and response.json() == {"redirect": "/account/"}
    assert user.email in browser.get("/account/").content.decode()


def test_a_refused_passkey_answers_json_with_the_api_code(
    passkey_user: tuple[User, SoftwareAuthenticator],
) -> None:
    _, authenticator = passkey_user
    browser = BrowserClient()
    options = post_json(browser, "/account/login/passkey/options/").json()

    response = post_json(
        browser,
        "/account/login/passkey/",
        {
            "challengeId": options["challengeId"],
            "credential": authenticator.get(options["publicKey"], user_verified=False),
        },
    )
    garbage = browser.post("/account/login/passkey/", "not json", content_type="application/json")

    assert response.status_code == 403 and response.json()["code"] == "webauthn_invalid"
    assert garbage.status_code == 400 and garbage.json()["code"] == "validation_error"
    assert browser.get("/account/").status_code == 302


def test_the_second_step_with_a_passkey(passkey_user: tuple[User, SoftwareAuthenticator]) -> None:
    user, authenticator = passkey_user
    browser = BrowserClient()
    assert browser.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})[
        "Location"
    ] == ("/account/login/code/")
    assert "Use a passkey" in browser.get("/account/login/code/").content.decode()

    options = post_json(browser, "/account/login/code/passkey/options/").json()
    response = post_json(
        browser,
        "/account/login/code/passkey/",
        {"challengeId": options["challengeId"], "credential": authenticator.get(options["publicKey"])},
    )

    assert response.status_code == 200 and response.json() == {"redirect": "/account/"}
    assert browser.get("/account/").status_code == 200


def test_the_second_step_needs_the_password_first(passkey_user: tuple[User, SoftwareAuthenticator]) -> None:
    response = post_json(BrowserClient(), "/account/login/code/passkey/options/")

    assert response.status_code == 400 and response.json()["code"] == "challenge_invalid"


def test_remove_a_passkey_with_a_passkey_step_up(passkey_user: tuple[User, SoftwareAuthenticator]) -> None:
    user, authenticator = passkey_user
    browser = BrowserClient()
    browser.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    options = post_json(browser, "/account/login/code/passkey/options/").json()
    post_json(
        browser,
        "/account/login/code/passkey/",
        {"challengeId": options["challengeId"], "credential": authenticator.get(options["publicKey"])},
    )
    passkey = WebAuthnDevice.objects.get(user=user)
    page = browser.get(f"/account/passkeys/{passkey.pk}/remove/").content.decode()
    assert "data-passkey-step-up" in page and 'src="/static/js/passkeys.js"' in page

    step_up = post_json(browser, "/account/passkeys/step-up/options/").json()
    token = post_json(
        browser,
        "/account/passkeys/step-up/",
        {"challengeId": step_up["challengeId"], "credential": authenticator.get(step_up["publicKey"])},
    ).json()["stepUpToken"]
    refused = browser.post(f"/account/passkeys/{passkey.pk}/remove/", {"otp": ""})
    removed = browser.post(f"/account/passkeys/{passkey.pk}/remove/", {"otp": token})

    assert refused.status_code == 403
    assert removed.status_code == 302 and not WebAuthnDevice.objects.filter(user=user).exists()


def test_another_users_passkey_page_is_not_found(passkey_user: tuple[User, SoftwareAuthenticator]) -> None:
    user, _ = passkey_user
    passkey = WebAuthnDevice.objects.get(user=user)

    response = logged_in(UserFactory()).get(f"/account/passkeys/{passkey.pk}/remove/")

    assert response.status_code == 404


def test_the_json_steps_need_a_session_and_csrf(passkey_user: tuple[User, SoftwareAuthenticator]) -> None:
    anonymous = post_json(BrowserClient(), "/account/passkeys/add/options/")
    strict = BrowserClient(enforce_csrf_checks=True)
    no_csrf = post_json(strict, "/account/login/passkey/options/")

    assert anonymous.status_code == 401
    assert no_csrf.status_code == 403


def test_the_page_and_the_api_share_one_limit_of_passwordless_challenges_per_ip(db: None, settings) -> None:
    """Each challenge waits five minutes in the cache: neither door may let one client fill it."""
    from rest_framework.test import APIClient

    from tests.conftest import throttle_rate_set

    throttle_rate_set(settings, "passkey_login_options", "2/minute")
    browser, api = BrowserClient(REMOTE_ADDR="203.0.113.9"), APIClient(REMOTE_ADDR="203.0.113.9")
    assert post_json(browser, "/account/login/passkey/options/").status_code == 200
    assert api.post("/auth/login/webauthn/options", {}, format="json").status_code == 200

    refused_page = post_json(browser, "/account/login/passkey/options/")
    refused_api = api.post("/auth/login/webauthn/options", {}, format="json")

    assert refused_page.status_code == 429 and refused_page.json()["code"] == "throttled"
    assert int(refused_page["Retry-After"]) > 0 and refused_page.json()["detail"]
    assert refused_api.status_code == 429
    other = BrowserClient(REMOTE_ADDR="203.0.113.10")
    assert post_json(other, "/account/login/passkey/options/").status_code == 200
