"""The owner can always stop a scheduled MFA reset (SECURITY.md 25-26, issue 23 point 1).

Whoever talked support into the reset may know the password: with it alone they can make
the account's second-factor checks wait or lock it. Neither may keep the owner from
cancelling: a code that is right is not refused for failures made by others, and the
"a reset is scheduled" email carries a single-use link that cancels without a login.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client as BrowserClient
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.flows import support
from accounts.models import MfaResetRequest, SecurityEvent, User
from tests.accounts.flows.test_mfa_resets import REASON, STAFF_CLIENT, events, login_api
from tests.conftest import USER_AGENT, Committed, authenticate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

State = MfaResetRequest.State
LINK = re.compile(r"https?://[^\s\"<]+/account/mfa-reset/cancel/[^\s\"<]+/")


def schedule(user: User) -> None:
    support.mfa_reset_schedule(
        user=user, staff_member=UserFactory(is_staff=True), reason=REASON, client=STAFF_CLIENT
    )


def scheduled(user: User, committed: Committed) -> str:
    """Schedule a reset of `user`; the cancel link of its email."""
    mail.outbox.clear()
    with committed():
        schedule(user)
    (message,) = mail.outbox
    (link,) = set(LINK.findall(message.body))
    assert link in message.alternatives[0][0]
    return link


def path_of(link: str) -> str:
    return link[link.index("/account/") :]


def wrong_codes_after_the_password(user: User, count: int) -> None:
    """What someone with the password alone can do: wrong second factors at login."""
    for _ in range(count):
        login_api(user, HTTP_X_OTP="000000")


# --- the code of the owner is not refused for others' failures ---------------------------------------


def test_a_right_code_cancels_while_others_failures_make_codes_wait(
    totp_user: tuple[User, pyotp.TOTP], committed: Committed
) -> None:
    user, authenticator = totp_user
    schedule(user)
    client = authenticate(APIClient(HTTP_USER_AGENT=USER_AGENT), user)
    wrong_codes_after_the_password(user, settings.OTP_FAILURES_BEFORE_DELAY + 2)
    assert login_api(user, HTTP_X_OTP="000000").json()["code"] == "otp_throttled", "codes wait now"

    response = client.delete("/auth/me/mfa-reset", HTTP_X_OTP=authenticator.now())

    assert response.status_code == 204, response.json()
    assert MfaResetRequest.objects.get(user=user).state == State.CANCELLED


def test_a_wrong_code_to_cancel_is_still_refused_and_counted(
    totp_user: tuple[User, pyotp.TOTP], committed: Committed
) -> None:
    user, _ = totp_user
    schedule(user)
    client = authenticate(APIClient(), user)
    wrong_codes_after_the_password(user, settings.OTP_FAILURES_BEFORE_DELAY + 2)
    before = User.objects.get(pk=user.pk).otp_failure_count

    response = client.delete("/auth/me/mfa-reset", HTTP_X_OTP="000000")

    assert (response.status_code, response.json()["code"]) == (403, "otp_invalid")
    assert User.objects.get(pk=user.pk).otp_failure_count == before + 1
    assert MfaResetRequest.objects.get(user=user).state == State.PENDING


def test_other_code_checks_still_wait_after_others_failures(
    totp_user: tuple[User, pyotp.TOTP], committed: Committed
) -> None:
    user, authenticator = totp_user
    schedule(user)
    wrong_codes_after_the_password(user, settings.OTP_FAILURES_BEFORE_DELAY + 2)

    response = login_api(user, HTTP_X_OTP=authenticator.now())

    assert (response.status_code, response.json()["code"]) == (429, "otp_throttled")


# --- the link in the email ---------------------------------------------------------------------------


def test_the_email_carries_the_link_and_opening_it_changes_nothing(
    totp_user: tuple[User, pyotp.TOTP], committed: Committed
) -> None:
    user, _ = totp_user
    link = scheduled(user, committed)
    assert "This wasn't me: cancel the reset" in mail.outbox[0].body

    page = BrowserClient().get(path_of(link))

    assert page.status_code == 200
    text = page.content.decode()
    assert "Cancel the reset" in text and "<form" in text and 'method="post"' in text
    assert "no-store" in page["Cache-Control"]
    assert MfaResetRequest.objects.get(user=user).state == State.PENDING
    assert not events(user, SecurityEvent.Type.MFA_RESET_CANCELLED)


def test_the_link_cancels_without_a_login_even_on_a_locked_account(
    totp_user: tuple[User, pyotp.TOTP], committed: Committed, settings
) -> None:
    user, _ = totp_user
    link = scheduled(user, committed)
    settings.OTP_FAILURES_BEFORE_DELAY = 1000
    settings.OTP_FAILURES_BEFORE_LOCK = 5
    wrong_codes_after_the_password(user, 5)
    assert User.objects.get(pk=user.pk).status == User.Status.LOCKED
    browser = BrowserClient(enforce_csrf_checks=True, headers={"User-Agent": USER_AGENT})
    form = browser.get(path_of(link))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode()).group(1)
    mail.outbox.clear()

    with committed():
        done = browser.post(path_of(link), {"csrfmiddlewaretoken": token})

    assert done.status_code == 200
    assert "The reset is cancelled" in done.content.decode()
    reset = MfaResetRequest.objects.get(user=user)
    assert (reset.state, reset.cancelled_by) == (State.CANCELLED, user)
    (event,) = events(user, SecurityEvent.Type.MFA_RESET_CANCELLED)
    assert event.actor == SecurityEvent.Actor.USER and event.details["via"] == "link"
    assert event.user_agent == USER_AGENT
    (message,) = mail.outbox
    assert "cancelled" in message.subject


def _refused(response) -> None:
    assert response.status_code == 400
    text = response.content.decode()
    assert "This link cannot be used" in text
    assert "Cancel the reset</button>" not in text


def test_a_used_link_shows_a_clear_page_and_changes_nothing(
    totp_user: tuple[User, pyotp.TOTP], committed: Committed
) -> None:
    user, _ = totp_user
    link = scheduled(user, committed)
    assert BrowserClient().post(path_of(link)).status_code == 200

    _refused(BrowserClient().get(path_of(link)))
    _refused(BrowserClient().post(path_of(link)))
    assert len(events(user, SecurityEvent.Type.MFA_RESET_CANCELLED)) == 1


def test_an_altered_link_shows_a_clear_page(totp_user: tuple[User, pyotp.TOTP], committed: Committed) -> None:
    user, _ = totp_user
    path = path_of(scheduled(user, committed))
    altered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]

    _refused(BrowserClient().post(altered))
    _refused(BrowserClient().get("/account/mfa-reset/cancel/not-a-token/"))
    assert MfaResetRequest.objects.get(user=user).state == State.PENDING


def test_the_link_expires_when_the_reset_is_due(
    totp_user: tuple[User, pyotp.TOTP], committed: Committed
) -> None:
    user, _ = totp_user
    path = path_of(scheduled(user, committed))
    due_at = MfaResetRequest.objects.get(user=user).due_at

    with time_machine.travel(due_at + timedelta(seconds=1), tick=False):
        _refused(BrowserClient().get(path))
        _refused(BrowserClient().post(path))

    assert MfaResetRequest.objects.get(user=user).state != State.CANCELLED, "the reset goes ahead"


def test_the_link_of_a_cancelled_reset_cannot_cancel_the_next_one(
    totp_user: tuple[User, pyotp.TOTP], committed: Committed
) -> None:
    user, authenticator = totp_user
    first = path_of(scheduled(user, committed))
    authenticate(APIClient(), user).delete("/auth/me/mfa-reset", HTTP_X_OTP=authenticator.now())
    with time_machine.travel(timezone.now() + timedelta(seconds=60), tick=False):
        scheduled(user, committed)

        _refused(BrowserClient().post(first))

    assert MfaResetRequest.objects.filter(user=user, state=State.PENDING).count() == 1


def test_the_link_page_and_email_speak_spanish(committed: Committed) -> None:
    from tests.factories import user_with_every_factor

    user, _ = user_with_every_factor(language="es")
    link = scheduled(user, committed)
    assert "No fui yo: cancelar el restablecimiento" in mail.outbox[0].body

    page = BrowserClient(headers={"Accept-Language": "es"}).get(path_of(link))

    assert "Cancelar el restablecimiento" in page.content.decode()
