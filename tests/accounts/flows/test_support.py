"""Support actions: each records the staff member, tells the user, and revokes tokens where it says."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.auth.tokens import AMR_PASSWORD, IssuedTokens, tokens_for_login
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.login_throttles import login_attempt_reserve
from accounts.flows import login as login_flows
from accounts.flows import support
from accounts.models import SecurityEvent, User
from tests.conftest import Committed, commit_callbacks_run
from tests.factories import DEFAULT_PASSWORD, UserFactory, user_with_every_factor

EventType = SecurityEvent.Type
STAFF_CLIENT = Client(ip="198.51.100.7", user_agent="support-browser/1.0")
REASON = "Ticket 4242: user lost the phone, identity checked by video call"

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_member() -> User:
    return UserFactory(is_staff=True)


def tokens_work(tokens: IssuedTokens) -> tuple[int, int]:
    """The status of `/auth/me` with the idToken and of a refresh with the refreshToken."""
    me = APIClient().get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {tokens.id_token}")
    refresh = APIClient().post("/auth/login/refresh", {"refreshToken": tokens.refresh_token}, format="json")
    return me.status_code, refresh.status_code


def staff_event(user: User, type: SecurityEvent.Type) -> SecurityEvent:
    return SecurityEvent.objects.get(user=user, type=type)


def assert_recorded_by(event: SecurityEvent, staff_member: User) -> None:
    assert event.actor == SecurityEvent.Actor.STAFF
    assert event.staff_member == staff_member
    assert event.details["reason"] == REASON
    assert (event.ip_address, event.user_agent) == (STAFF_CLIENT.ip, STAFF_CLIENT.user_agent)


def the_only_email_subject(user: User) -> str:
    assert [message.to for message in mail.outbox] == [[user.email]]
    assert mail.outbox[0].alternatives, "an HTML part too"
    return mail.outbox[0].subject


# --- block / unblock ----------------------------------------------------------------------------


def test_block_refuses_login_and_every_token_issued_before(
    user: User, staff_member: User, committed: Committed
) -> None:
    tokens = tokens_for_login(user, amr=AMR_PASSWORD)
    assert tokens_work(tokens) == (200, 200)

    with committed():
        support.account_block(user=user, staff_member=staff_member, reason=REASON, client=STAFF_CLIENT)

    user.refresh_from_db()
    assert user.status == User.Status.BLOCKED
    assert tokens_work(tokens) == (401, 403)
    assert_recorded_by(staff_event(user, EventType.ACCOUNT_BLOCKED), staff_member)
    assert_recorded_by(staff_event(user, EventType.TOKENS_REVOKED), staff_member)
    assert "your account is blocked" in the_only_email_subject(user)
    with pytest.raises(ServiceError) as refused:
        login_flows.login(
            email=user.email, password=DEFAULT_PASSWORD, otp=None, otp_method=None, client=Client()
        )
    assert refused.value.code == ErrorCode.ACCOUNT_BLOCKED


def test_blocking_twice_is_refused_without_a_second_event(user: User, staff_member: User) -> None:
    support.account_block(user=user, staff_member=staff_member, reason=REASON)

    with pytest.raises(ServiceError, match="already blocked"):
        support.account_block(user=user, staff_member=staff_member, reason=REASON)

    assert SecurityEvent.objects.filter(user=user, type=EventType.ACCOUNT_BLOCKED).count() == 1


@pytest.mark.parametrize("reason", ["", "   \n"])
def test_every_action_needs_a_reason(user: User, staff_member: User, reason: str) -> None:
    with pytest.raises(ServiceError) as refused:
        support.account_block(user=user, staff_member=staff_member, reason=reason)

    assert refused.value.code == ErrorCode.VALIDATION_ERROR and "reason" in refused.value.errors
    user.refresh_from_db()
    assert user.status == User.Status.ACTIVE
    assert not SecurityEvent.objects.filter(user=user).exists()


def test_unblock_lets_the_user_log_in_again(user: User, staff_member: User, committed: Committed) -> None:
    support.account_block(user=user, staff_member=staff_member, reason="fraud suspected")

    with committed():
        support.account_unblock(user=user, staff_member=staff_member, reason=REASON, client=STAFF_CLIENT)

    user.refresh_from_db()
    assert user.status == User.Status.ACTIVE
    assert_recorded_by(staff_event(user, EventType.ACCOUNT_UNBLOCKED), staff_member)
    assert "unblocked" in the_only_email_subject(user)
    login_flows.login(email=user.email, password=DEFAULT_PASSWORD, otp=None, otp_method=None, client=Client())


def test_unblocking_an_account_that_is_not_blocked_is_refused(user: User, staff_member: User) -> None:
    with pytest.raises(ServiceError, match="not blocked"):
        support.account_unblock(user=user, staff_member=staff_member, reason=REASON)


# --- unlock -----------------------------------------------------------------------------------


def test_unlock_lifts_the_lock_and_clears_every_failure_count(
    user: User, staff_member: User, committed: Committed
) -> None:
    User.objects.filter(pk=user.pk).update(
        status=User.Status.LOCKED,
        locked_until=timezone.now() + timezone.timedelta(hours=1),
        otp_failure_count=100,
        otp_last_failure_at=timezone.now(),
        otp_failures_notified=True,
    )
    for _ in range(settings.LOGIN_FAILURES_BEFORE_DELAY + 1):
        login_attempt_reserve(email=user.email, ip=None)  # attempts count as failures until one succeeds
    with pytest.raises(ServiceError):
        login_attempt_reserve(email=user.email, ip=None)

    with committed():
        support.account_unlock(user=user, staff_member=staff_member, reason=REASON, client=STAFF_CLIENT)

    user.refresh_from_db()
    assert (user.status, user.locked_until) == (User.Status.ACTIVE, None)
    assert (user.otp_failure_count, user.otp_last_failure_at, user.otp_failures_notified) == (0, None, False)
    login_attempt_reserve(email=user.email, ip=None)
    event = staff_event(user, EventType.ACCOUNT_UNLOCKED)
    assert_recorded_by(event, staff_member)
    assert event.details["wasLocked"] is True
    assert "unlocked" in the_only_email_subject(user)


def test_unlocking_a_blocked_account_is_refused(user: User, staff_member: User) -> None:
    support.account_block(user=user, staff_member=staff_member, reason=REASON)

    with pytest.raises(ServiceError, match="unblock it instead"):
        support.account_unlock(user=user, staff_member=staff_member, reason=REASON)


# --- MFA reset: scheduled, see tests/accounts/flows/test_mfa_resets.py -------------------


# --- tokens and email verification ----------------------------------------------------------


def test_revoking_tokens_signs_the_user_out_everywhere(
    user: User, staff_member: User, committed: Committed
) -> None:
    tokens = tokens_for_login(user, amr=AMR_PASSWORD)

    with committed():
        support.tokens_revoke(user=user, staff_member=staff_member, reason=REASON, client=STAFF_CLIENT)

    assert tokens_work(tokens) == (401, 403)
    user.refresh_from_db()
    assert tokens_work(tokens_for_login(user, amr=AMR_PASSWORD)) == (200, 200), "new logins work"
    assert_recorded_by(staff_event(user, EventType.TOKENS_REVOKED), staff_member)
    assert "signed out everywhere" in the_only_email_subject(user)


def test_email_verification_resend_emails_a_new_code(staff_member: User) -> None:
    user = UserFactory(email_verified_at=None)

    with commit_callbacks_run():
        support.email_verification_resend(
            user=user, staff_member=staff_member, reason=REASON, client=STAFF_CLIENT
        )

    assert "verif" in the_only_email_subject(user).lower()
    assert_recorded_by(staff_event(user, EventType.EMAIL_VERIFICATION_SENT), staff_member)


def test_email_verification_resend_keeps_the_resend_cool_down(staff_member: User) -> None:
    user = UserFactory(email_verified_at=None)
    support.email_verification_resend(user=user, staff_member=staff_member, reason=REASON)

    with pytest.raises(ServiceError) as refused:
        support.email_verification_resend(user=user, staff_member=staff_member, reason=REASON)

    assert refused.value.code == ErrorCode.OTP_ATTEMPTS_EXHAUSTED
    assert SecurityEvent.objects.filter(user=user, type=EventType.EMAIL_VERIFICATION_SENT).count() == 1


def test_email_verification_resend_to_a_verified_email_is_refused(user: User, staff_member: User) -> None:
    with pytest.raises(ServiceError) as refused:
        support.email_verification_resend(user=user, staff_member=staff_member, reason=REASON)

    assert refused.value.code == ErrorCode.CHANNEL_ALREADY_VERIFIED
    assert mail.outbox == []


# --- who may act on whom -------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [support.account_block, support.account_unlock, support.mfa_reset_schedule, support.tokens_revoke],
)
def test_only_a_superuser_acts_on_a_staff_account(staff_member: User, action: Callable[..., User]) -> None:
    colleague, _ = user_with_every_factor(is_staff=True)
    tokens = tokens_for_login(colleague, amr=AMR_PASSWORD)

    with pytest.raises(ServiceError, match="Only a superuser"):
        action(user=colleague, staff_member=staff_member, reason=REASON)

    assert tokens_work(tokens) == (200, 200)
    assert not SecurityEvent.objects.filter(user=colleague).exists()
    superuser = UserFactory(is_staff=True, is_superuser=True)
    action(user=colleague, staff_member=superuser, reason=REASON)


def test_an_operator_without_a_staff_account_is_recorded_as_the_system(user: User) -> None:
    support.tokens_revoke(user=user, staff_member=None, reason=REASON)

    event = staff_event(user, EventType.TOKENS_REVOKED)
    assert (event.actor, event.staff_member, event.details["reason"]) == (
        SecurityEvent.Actor.SYSTEM,
        None,
        REASON,
    )


# --- manage.py mfa_reset ------------------------------------------------------------------


def test_the_mfa_reset_command_schedules_it_with_the_same_service(committed: Committed) -> None:
    user, _ = user_with_every_factor()
    tokens = tokens_for_login(user, amr=AMR_PASSWORD)
    out = StringIO()

    with committed():
        call_command("mfa_reset", f"  {user.email.upper()} ", "--reason", REASON, stdout=out)

    assert "scheduled" in out.getvalue()
    user.refresh_from_db()
    assert user.has_second_factor and TOTPDevice.objects.filter(user=user).exists(), "nothing changes yet"
    assert user.mfa_reset_due_at is not None
    assert tokens_work(tokens) == (200, 200)
    event = staff_event(user, EventType.MFA_RESET_SCHEDULED)
    assert (event.actor, event.staff_member, event.details["reason"]) == (
        SecurityEvent.Actor.SYSTEM,
        None,
        REASON,
    )
    assert "reset of your second factors is scheduled" in the_only_email_subject(user)
    assert "An operator of the service asked" in mail.outbox[0].body


def test_the_mfa_reset_command_needs_a_known_email_and_a_reason() -> None:
    user, _ = user_with_every_factor()

    with pytest.raises(CommandError, match="No account"):
        call_command("mfa_reset", "nobody@example.com", "--reason", REASON)
    with pytest.raises(CommandError, match="reason"):
        call_command("mfa_reset", user.email)
    with pytest.raises(CommandError, match="Give the reason"):
        call_command("mfa_reset", user.email, "--reason", "  ")

    user.refresh_from_db()
    assert user.has_second_factor
    assert not SecurityEvent.objects.filter(user=user).exists()


def test_the_mfa_reset_command_reports_an_account_without_factors(user: User) -> None:
    with pytest.raises(CommandError, match="no second factor"):
        call_command("mfa_reset", user.email, "--reason", REASON)
