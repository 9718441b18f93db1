"""A support MFA reset waits: scheduled, cancellable, applied by itself once due (accounts.mfa_resets)."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO

import jwt
import pyotp
import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.core.management import call_command
from django.test import Client as BrowserClient
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django import Settings
from rest_framework.test import APIClient

from accounts.auth.tokens import AMR_PASSWORD, tokens_for_login
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.flows import login as login_flows
from accounts.flows import support
from accounts.models import MfaResetRequest, SecurityEvent, User
from otp import services as otp_services
from otp.models import SmsDevice
from otp.services.mfa_reset_apply import mfa_reset_apply_if_due, mfa_resets_apply_due
from tests.accounts.admin.test_admin import otp_verified_browser
from tests.accounts.pages.test_pages import log_in, page_text, totp_device
from tests.conftest import USER_AGENT, Committed, authenticate
from tests.factories import DEFAULT_PASSWORD, UserFactory, user_with_every_factor

EventType = SecurityEvent.Type
State = MfaResetRequest.State
STAFF_CLIENT = Client(ip="198.51.100.7", user_agent="support-browser/1.0")
REASON = "Ticket 4242: user lost the phone, identity checked by video call"
DELAY = timedelta(seconds=259200)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_member() -> User:
    return UserFactory(is_staff=True, email="agent.smith@support.example.com")


def schedule(user: User, staff_member: User | None) -> datetime:
    """Schedule a reset of `user` now; its due time."""
    support.mfa_reset_schedule(user=user, staff_member=staff_member, reason=REASON, client=STAFF_CLIENT)
    user.refresh_from_db()
    return user.mfa_reset_due_at


def factors_left(user: User) -> dict[str, bool]:
    user.refresh_from_db()
    return {
        "totp": TOTPDevice.objects.filter(user=user).exists(),
        "sms": SmsDevice.objects.filter(user=user).exists(),
        "recovery": StaticDevice.objects.filter(user=user).exists(),
        "verified": user.has_second_factor,
    }


ALL_FACTORS = {"totp": True, "sms": True, "recovery": True, "verified": True}
NO_FACTORS = {"totp": False, "sms": False, "recovery": False, "verified": False}


def login_api(user: User, **headers: str) -> object:
    return APIClient(HTTP_USER_AGENT=USER_AGENT).post(
        "/auth/login", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json", **headers
    )


def events(user: User, type: SecurityEvent.Type) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(user=user, type=type))


# --- scheduling -----------------------------------------------------------------------------------


def test_scheduling_changes_nothing_but_tells_the_user_at_once(
    staff_member: User, committed: Committed
) -> None:
    user, _ = user_with_every_factor()
    tokens = tokens_for_login(user, amr=AMR_PASSWORD)
    before = timezone.now()

    with committed():
        due_at = schedule(user, staff_member)

    assert before + DELAY <= due_at <= timezone.now() + DELAY
    assert factors_left(user) == ALL_FACTORS
    assert login_api(user).json()["code"] == "otp_required"
    me = APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {tokens.id_token}")
    assert me.status_code == 200 and me.json()["hasValidatedSecret"] is True
    reset = MfaResetRequest.objects.get(user=user)
    assert (reset.state, reset.requested_by, reset.reason, reset.due_at) == (
        State.PENDING,
        staff_member,
        REASON,
        due_at,
    )
    (event,) = events(user, EventType.MFA_RESET_SCHEDULED)
    assert (event.actor, event.staff_member, event.details["reason"]) == (
        SecurityEvent.Actor.STAFF,
        staff_member,
        REASON,
    )
    assert not events(user, EventType.MFA_RESET) and not events(user, EventType.TOKENS_REVOKED)
    (message,) = mail.outbox
    assert message.to == [user.email]
    assert "reset of your second factors is scheduled" in message.subject
    assert "A member of our support team asked" in message.body
    assert due_at.strftime("%Y-%m-%d %H:%M") in message.body
    assert "Cancel this reset" in message.body and "/account/" in message.body
    html = message.alternatives[0][0]
    assert "Cancel this reset" in html and due_at.strftime("%Y-%m-%d %H:%M") in html
    for staff_detail in [staff_member.email, "agent", "smith"]:
        assert staff_detail not in message.body.lower()
        assert staff_detail not in message.alternatives[0][0].lower()


def test_the_delay_is_a_setting(staff_member: User, settings: Settings) -> None:
    settings.SUPPORT_MFA_RESET_DELAY_SECONDS = 60
    user, _ = user_with_every_factor()

    due_at = schedule(user, staff_member)

    assert timedelta(seconds=59) <= due_at - timezone.now() <= timedelta(seconds=60)


def test_a_second_reset_while_one_is_pending_is_refused(staff_member: User) -> None:
    user, _ = user_with_every_factor()
    schedule(user, staff_member)

    with pytest.raises(ServiceError, match="already scheduled"):
        schedule(user, staff_member)

    assert MfaResetRequest.objects.filter(user=user).count() == 1


def test_an_account_without_factors_has_nothing_to_reset(user: User, staff_member: User) -> None:
    with pytest.raises(ServiceError, match="no second factor"):
        schedule(user, staff_member)

    assert not MfaResetRequest.objects.exists()
    assert not SecurityEvent.objects.filter(user=user).exists()


def test_the_command_line_is_named_an_operator(committed: Committed) -> None:
    user, _ = user_with_every_factor()

    with committed():
        call_command("mfa_reset", user.email, "--reason", REASON, stdout=StringIO())

    assert "An operator of the service asked" in mail.outbox[0].body
    reset = MfaResetRequest.objects.get(user=user)
    assert reset.requested_by is None and reset.state == State.PENDING


# --- it takes effect by itself at its due time --------------------------------------------------


def test_nothing_changes_until_the_due_time(staff_member: User) -> None:
    user, _ = user_with_every_factor()
    due_at = schedule(user, staff_member)

    with time_machine.travel(due_at - timedelta(seconds=1), tick=False):
        assert login_api(user).json()["code"] == "otp_required"
        assert mfa_resets_apply_due() == 0

    assert factors_left(user) == ALL_FACTORS
    assert MfaResetRequest.objects.get(user=user).state == State.PENDING


def test_the_first_login_after_the_due_time_finds_the_factors_gone(
    staff_member: User, committed: Committed
) -> None:
    user, _ = user_with_every_factor()
    old_tokens = tokens_for_login(user, amr=AMR_PASSWORD)
    due_at = schedule(user, staff_member)
    mail.outbox.clear()

    with time_machine.travel(due_at + timedelta(seconds=1), tick=False), committed():
        response = login_api(user)

    assert response.status_code == 200
    claims = jwt.decode(response.json()["idToken"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd"]
    assert factors_left(user) == NO_FACTORS
    reset = MfaResetRequest.objects.get(user=user)
    assert reset.state == State.DONE and reset.done_at is not None
    assert user.mfa_reset_due_at is None
    (event,) = events(user, EventType.MFA_RESET)
    assert (event.actor, event.staff_member, event.details["reason"]) == (
        SecurityEvent.Actor.SYSTEM,
        None,
        REASON,
    )
    assert event.details["removed"] == ["TOTP", "SMS", "RECOVERY_CODES"]
    assert events(user, EventType.TOKENS_REVOKED)
    with time_machine.travel(due_at + timedelta(seconds=2), tick=False):
        old = APIClient().post(
            "/auth/login/refresh", {"refreshToken": old_tokens.refresh_token}, format="json"
        )
        new = APIClient().post(
            "/auth/login/refresh", {"refreshToken": response.json()["refreshToken"]}, format="json"
        )
    assert old.status_code == 403, "tokens issued before the reset are ended"
    assert new.status_code == 200, "the login's own tokens carry the new generation"
    assert [message.subject for message in mail.outbox if "reset by support" in message.subject]


def test_the_login_page_after_the_due_time_signs_in_with_the_password_alone(staff_member: User) -> None:
    user, _ = user_with_every_factor()
    due_at = schedule(user, staff_member)
    web = BrowserClient()

    with time_machine.travel(due_at + timedelta(seconds=1), tick=False):
        response = web.post("/account/login/", {"email": user.email, "password": DEFAULT_PASSWORD})

    assert response["Location"] == "/account/"
    assert factors_left(user) == NO_FACTORS


def test_the_first_step_up_after_the_due_time_finds_the_factors_gone(
    totp_user: tuple[User, pyotp.TOTP], staff_member: User
) -> None:
    user, authenticator = totp_user
    due_at = schedule(user, staff_member)

    with time_machine.travel(due_at + timedelta(seconds=1), tick=False):
        code = authenticator.now()
        with pytest.raises(ServiceError) as refused:
            otp_services.step_up_verify(user=user, otp=code, client=Client())

    assert refused.value.code == ErrorCode.OTP_INVALID, "the app's code no longer counts"
    assert factors_left(user) == NO_FACTORS
    assert MfaResetRequest.objects.get(user=user).state == State.DONE
    assert len(events(user, EventType.MFA_RESET)) == 1


def test_the_first_code_check_of_a_login_after_the_due_time_finds_the_factors_gone(
    totp_user: tuple[User, pyotp.TOTP], staff_member: User
) -> None:
    user, authenticator = totp_user
    due_at = schedule(user, staff_member)

    with time_machine.travel(due_at + timedelta(seconds=1), tick=False), pytest.raises(ServiceError):
        otp_services.login_second_factor_verify(user=user, code=authenticator.now(), client=Client())

    assert factors_left(user) == NO_FACTORS


def test_the_profile_read_after_the_due_time_finds_the_factors_gone(staff_member: User) -> None:
    user, _ = user_with_every_factor()
    due_at = schedule(user, staff_member)

    with time_machine.travel(due_at + timedelta(seconds=1), tick=False):
        client = authenticate(APIClient(), user)
        body = client.get("/auth/me").json()

    assert body["hasValidatedSecret"] is False and body["hasValidatedPhone"] is False
    assert "phoneNumber" not in body and "mfaResetScheduledAt" not in body
    assert factors_left(user) == NO_FACTORS


def test_applying_twice_does_nothing_more(staff_member: User) -> None:
    user, _ = user_with_every_factor()
    due_at = schedule(user, staff_member)
    stale = User.objects.get(pk=user.pk)  # read before the reset, still showing it pending

    with time_machine.travel(due_at + timedelta(seconds=1), tick=False):
        mfa_reset_apply_if_due(user)
        again = mfa_reset_apply_if_due(stale)

    assert again.mfa_reset_due_at is None
    assert len(events(user, EventType.MFA_RESET)) == 1


# --- the sweep ------------------------------------------------------------------------------------


def test_the_sweep_applies_the_due_resets_skips_the_others_and_is_idempotent(staff_member: User) -> None:
    due_user, _ = user_with_every_factor()
    due_at = schedule(due_user, staff_member)
    later_user, _ = user_with_every_factor(phone="+34612345679")
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=False):
        schedule(later_user, None)
    out = StringIO()

    with time_machine.travel(due_at + timedelta(minutes=1), tick=False):
        call_command("mfa_resets_apply", stdout=out)
        call_command("mfa_resets_apply", stdout=out)

    assert "1 scheduled MFA reset(s) applied." in out.getvalue()
    assert "0 scheduled MFA reset(s) applied." in out.getvalue()
    assert factors_left(due_user) == NO_FACTORS
    assert factors_left(later_user) == ALL_FACTORS
    assert len(events(due_user, EventType.MFA_RESET)) == 1
    assert MfaResetRequest.objects.get(user=later_user).state == State.PENDING


# --- the user cancels: API --------------------------------------------------------------------


def test_the_profile_shows_the_pending_reset_only(
    totp_user: tuple[User, pyotp.TOTP], staff_member: User
) -> None:
    user, _ = totp_user
    client = authenticate(APIClient(), user)
    assert "mfaResetScheduledAt" not in client.get("/auth/me").json()

    due_at = schedule(user, staff_member)

    shown = client.get("/auth/me").json()["mfaResetScheduledAt"]
    assert datetime.fromisoformat(shown.replace("Z", "+00:00")) == due_at


def test_cancelling_needs_a_code_then_stops_the_reset(
    totp_user: tuple[User, pyotp.TOTP], staff_member: User, committed: Committed
) -> None:
    user, authenticator = totp_user
    due_at = schedule(user, staff_member)
    client = authenticate(APIClient(HTTP_USER_AGENT=USER_AGENT), user)
    mail.outbox.clear()

    missing = client.delete("/auth/me/mfa-reset")
    wrong = client.delete("/auth/me/mfa-reset", HTTP_X_OTP="000000")
    assert (missing.status_code, missing.json()["code"]) == (403, "otp_invalid")
    assert (wrong.status_code, wrong.json()["code"]) == (403, "otp_invalid")
    assert MfaResetRequest.objects.get(user=user).state == State.PENDING

    with time_machine.travel(timezone.now() + timedelta(seconds=60), tick=False), committed():
        done = client.delete("/auth/me/mfa-reset", HTTP_X_OTP=authenticator.now())

    assert done.status_code == 204
    reset = MfaResetRequest.objects.get(user=user)
    assert (reset.state, reset.cancelled_by) == (State.CANCELLED, user)
    (event,) = events(user, EventType.MFA_RESET_CANCELLED)
    assert event.actor == SecurityEvent.Actor.USER and event.user_agent == USER_AGENT
    (message,) = mail.outbox
    assert "cancelled" in message.subject and "cancelled by you" in message.body
    assert "mfaResetScheduledAt" not in client.get("/auth/me").json()
    with time_machine.travel(due_at + timedelta(days=1), tick=False):
        assert mfa_resets_apply_due() == 0
        assert login_api(user).json()["code"] == "otp_required"
    assert factors_left(user)["totp"]


def test_cancelling_when_nothing_is_pending_is_404_before_any_code_is_checked(
    totp_user: tuple[User, pyotp.TOTP],
) -> None:
    user, _ = totp_user
    client = authenticate(APIClient(), user)

    response = client.delete("/auth/me/mfa-reset", HTTP_X_OTP="000000")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    user.refresh_from_db()
    assert user.otp_failure_count == 0


def test_cancelling_after_the_due_time_is_too_late(
    totp_user: tuple[User, pyotp.TOTP], staff_member: User
) -> None:
    user, authenticator = totp_user
    due_at = schedule(user, staff_member)

    with time_machine.travel(due_at + timedelta(seconds=1), tick=False):
        client = authenticate(APIClient(), user)
        response = client.delete("/auth/me/mfa-reset", HTTP_X_OTP=authenticator.now())

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert factors_left(user) == NO_FACTORS


def test_cancelling_needs_a_bearer_token(api_client: APIClient) -> None:
    assert api_client.delete("/auth/me/mfa-reset").status_code == 401


def test_the_schema_documents_the_cancel_endpoint_and_its_codes() -> None:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()

    operation = schema["paths"]["/auth/me/mfa-reset"]["delete"]
    assert {"204", "403", "404"} <= set(operation["responses"])
    assert "not_found" in operation["responses"]["404"]["description"]
    assert any(parameter["name"] == "x-otp" for parameter in operation["parameters"])
    profile = schema["components"]["schemas"]["Profile"]["properties"]
    assert profile["mfaResetScheduledAt"]["format"] == "date-time"


# --- the user cancels: the security page ----------------------------------------------------------


def test_the_security_page_shows_the_reset_and_cancels_it_with_step_up(
    totp_user: tuple[User, pyotp.TOTP], staff_member: User
) -> None:
    user, authenticator = totp_user
    due_at = schedule(user, staff_member)
    web = BrowserClient()
    log_in(web, user, totp_device(user))

    security = page_text(web.get("/account/"))
    assert "Cancel this reset" in security and due_at.strftime("%d %b %Y, %H:%M").lstrip("0") in security
    assert web.get("/account/mfa-reset/cancel/").status_code == 200
    wrong = web.post("/account/mfa-reset/cancel/", {"otp": "000000"})
    assert wrong.status_code == 403
    assert MfaResetRequest.objects.get(user=user).state == State.PENDING

    with time_machine.travel(timezone.now() + timedelta(seconds=60), tick=False):
        done = web.post("/account/mfa-reset/cancel/", {"otp": authenticator.now()}, follow=True)

    assert "The reset is cancelled" in page_text(done)
    assert "Cancel this reset" not in page_text(done)
    assert MfaResetRequest.objects.get(user=user).state == State.CANCELLED


def test_the_cancel_page_without_a_pending_reset_goes_back(totp_user: tuple[User, pyotp.TOTP]) -> None:
    user, _ = totp_user
    web = BrowserClient()
    log_in(web, user, totp_device(user))

    response = web.get("/account/mfa-reset/cancel/")

    assert response["Location"] == "/account/"
    assert "Cancel this reset" not in page_text(web.get("/account/"))


# --- staff: cancel and reset now ------------------------------------------------------------------


def test_staff_cancel_with_a_reason_recorded(staff_member: User, committed: Committed) -> None:
    user, _ = user_with_every_factor()
    schedule(user, staff_member)
    mail.outbox.clear()

    with pytest.raises(ServiceError) as without_reason:
        support.mfa_reset_cancel_by_support(user=user, staff_member=staff_member, reason=" ")
    assert "reason" in without_reason.value.errors
    with committed():
        support.mfa_reset_cancel_by_support(
            user=user, staff_member=staff_member, reason=REASON, client=STAFF_CLIENT
        )

    reset = MfaResetRequest.objects.get(user=user)
    assert (reset.state, reset.cancelled_by, reset.cancel_reason) == (State.CANCELLED, staff_member, REASON)
    (event,) = events(user, EventType.MFA_RESET_CANCELLED)
    assert (event.actor, event.staff_member, event.details["reason"]) == (
        SecurityEvent.Actor.STAFF,
        staff_member,
        REASON,
    )
    assert "cancelled by a member of our support team" in mail.outbox[0].body
    with pytest.raises(ServiceError, match="No reset"):
        support.mfa_reset_cancel_by_support(user=user, staff_member=staff_member, reason=REASON)


def test_staff_reset_now_applies_it_at_once(staff_member: User, committed: Committed) -> None:
    user, _ = user_with_every_factor()
    tokens = tokens_for_login(user, amr=AMR_PASSWORD)
    schedule(user, staff_member)

    with committed():
        support.mfa_reset_now(user=user, staff_member=staff_member, reason=REASON, client=STAFF_CLIENT)

    assert factors_left(user) == NO_FACTORS
    (event,) = events(user, EventType.MFA_RESET)
    assert (event.actor, event.staff_member, event.details["reason"]) == (
        SecurityEvent.Actor.STAFF,
        staff_member,
        REASON,
    )
    me = APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {tokens.id_token}")
    assert me.status_code == 401
    login_flows.login(email=user.email, password=DEFAULT_PASSWORD, otp=None, otp_method=None, client=Client())
    with pytest.raises(ServiceError, match="No reset"):
        support.mfa_reset_now(user=user, staff_member=staff_member, reason=REASON)


# --- the admin ------------------------------------------------------------------------------------

RESETS_URL = "/admin/accounts/mfaresetrequest/"


@pytest.fixture
def support_member() -> User:
    member = UserFactory(is_staff=True)
    member.groups.add(Group.objects.get(name="Support"))
    return member


def reset_action(
    browser: BrowserClient, action: str, resets: list[MfaResetRequest], reason: str | None
) -> object:
    """Choose `action` for `resets` in the list; with a reason, confirm it."""
    data = {"action": action, "index": "0", "_selected_action": [reset.pk for reset in resets]}
    if reason is not None:
        data.update(confirm="yes", reason=reason)
    return browser.post(RESETS_URL, data)


def test_support_schedules_from_the_accounts_list_and_sees_the_pending_resets(
    support_member: User, committed: Committed
) -> None:
    user, _ = user_with_every_factor()
    browser = otp_verified_browser(support_member)

    with committed():
        browser.post(
            "/admin/accounts/user/",
            {"action": "reset_mfa", "confirm": "yes", "reason": REASON, "_selected_action": [user.pk]},
        )

    assert factors_left(user) == ALL_FACTORS
    account_page = browser.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert "MFA reset scheduled for" in account_page
    listing = browser.get(RESETS_URL, {"state__exact": "PENDING"})
    assert listing.status_code == 200
    (reset,) = listing.context["cl"].result_list
    assert (reset.user, reset.requested_by, reset.state) == (user, support_member, State.PENDING)
    assert browser.get(f"{RESETS_URL}{reset.pk}/change/").status_code == 200
    assert browser.get(RESETS_URL, {"state__exact": "DONE"}).context["cl"].result_list.count() == 0
    assert browser.get(f"{RESETS_URL}add/").status_code == 403
    assert browser.post(f"{RESETS_URL}{reset.pk}/delete/", {"post": "yes"}).status_code == 403
    assert MfaResetRequest.objects.filter(pk=reset.pk).exists()


def test_support_cancels_from_the_list_with_a_reason(support_member: User, committed: Committed) -> None:
    user, _ = user_with_every_factor()
    schedule(user, None)
    reset = MfaResetRequest.objects.get(user=user)
    browser = otp_verified_browser(support_member)

    confirmation = reset_action(browser, "mfa_reset_cancel", [reset], reason=None)
    assert confirmation.status_code == 200 and 'name="reason"' in confirmation.content.decode()
    assert f'value="{reset.pk}"' in confirmation.content.decode()
    without_reason = reset_action(browser, "mfa_reset_cancel", [reset], reason=" ")
    assert without_reason.status_code == 200 and without_reason.context["form"].errors
    with committed():
        done = reset_action(browser, "mfa_reset_cancel", [reset], reason=REASON)

    assert done.status_code == 302
    reset.refresh_from_db()
    assert (reset.state, reset.cancelled_by, reset.cancel_reason) == (State.CANCELLED, support_member, REASON)
    (event,) = events(user, EventType.MFA_RESET_CANCELLED)
    assert (event.staff_member, event.details["reason"]) == (support_member, REASON)


def test_reset_now_is_not_the_support_groups(support_member: User, committed: Committed) -> None:
    user, _ = user_with_every_factor()
    schedule(user, None)
    reset = MfaResetRequest.objects.get(user=user)
    browser = otp_verified_browser(support_member)

    choices = dict(browser.get(RESETS_URL).context["action_form"].fields["action"].choices)
    with committed():
        reset_action(browser, "mfa_reset_now", [reset], reason=REASON)

    assert "mfa_reset_cancel" in choices and "mfa_reset_now" not in choices
    assert not support_member.has_perm("accounts.reset_mfa_now")
    assert factors_left(user) == ALL_FACTORS
    reset.refresh_from_db()
    assert reset.state == State.PENDING
    assert not events(user, EventType.MFA_RESET)


def test_reset_now_with_its_permission_needs_a_reason_and_is_recorded(
    support_member: User, committed: Committed
) -> None:
    support_member.user_permissions.add(Permission.objects.get(codename="reset_mfa_now"))
    support_member = User.objects.get(pk=support_member.pk)
    user, _ = user_with_every_factor()
    schedule(user, None)
    reset = MfaResetRequest.objects.get(user=user)
    browser = otp_verified_browser(support_member)

    without_reason = reset_action(browser, "mfa_reset_now", [reset], reason="")
    assert without_reason.status_code == 200 and factors_left(user) == ALL_FACTORS
    with committed():
        done = reset_action(browser, "mfa_reset_now", [reset], reason=REASON)

    assert done.status_code == 302
    assert factors_left(user) == NO_FACTORS
    (event,) = events(user, EventType.MFA_RESET)
    assert (event.actor, event.staff_member, event.details["reason"]) == (
        SecurityEvent.Actor.STAFF,
        support_member,
        REASON,
    )


def test_the_reset_also_removes_a_pending_factor(
    totp_user: tuple[User, pyotp.TOTP], staff_member: User
) -> None:
    user, _ = totp_user
    SmsDevice.objects.create(user=user, name="Phone", number="+34612345678", confirmed=False)
    schedule(user, staff_member)

    support.mfa_reset_now(user=user, staff_member=staff_member, reason=REASON)

    assert factors_left(user) == NO_FACTORS
    assert events(user, EventType.MFA_RESET)[0].details["removed"] == ["TOTP", "SMS"]


@pytest.mark.parametrize(
    "lookup", ["user__password__startswith", "reason__startswith", "user__email__contains"]
)
def test_the_resets_list_filters_only_on_what_it_offers(support_member: User, lookup: str) -> None:
    user, _ = user_with_every_factor()
    schedule(user, None)
    browser = otp_verified_browser(support_member)

    assert browser.get(RESETS_URL, {lookup: "p"}).status_code == 400
    assert browser.get(RESETS_URL, {"state__exact": "PENDING"}).status_code == 200


def test_a_spanish_user_is_told_in_spanish(staff_member: User, committed: Committed) -> None:
    user, _ = user_with_every_factor(language="es")

    with committed():
        due_at = schedule(user, staff_member)

    (message,) = mail.outbox
    assert "restablecimiento de tus segundos factores programado" in message.subject
    assert "Un miembro de nuestro equipo de soporte ha pedido" in message.body
    assert due_at.strftime("%Y-%m-%d %H:%M") in message.body
    assert "Cancelar este restablecimiento" in message.alternatives[0][0]
