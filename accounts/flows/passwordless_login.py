"""Passwordless login with a passkey: the assertion, then the account rules every login follows."""

from __future__ import annotations

from django.db import transaction

from accounts.auth.tokens import IssuedTokens, tokens_for_login
from accounts.core.account_state import account_status_check
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.events import security_event_log_and_count
from accounts.core.login_throttles import login_ip_budget_check, login_ip_failure_record
from accounts.flows import login as login_flows
from accounts.models import SecurityEvent, User
from otp.challenges import Purpose, challenge_consume
from otp.services import Method
from otp.webauthn import relying_party, services
from otp.webauthn.models import WebAuthnDevice


def _passwordless_failure(*, client: Client) -> ServiceError:
    """An assertion that names no passkey or does not verify: no one's failure but the IP's."""
    login_ip_failure_record(ip=client.ip)
    security_event_log_and_count(
        type=SecurityEvent.Type.LOGIN_FAILED, user_id=None, client=client, details={"factor": "webauthn"}
    )
    return ServiceError(ErrorCode.WEBAUTHN_INVALID)


def passwordless_login_verify(*, challenge_id: str, credential: object, client: Client) -> User:
    """The user whose discoverable passkey signed the login challenge, if the account may log in.

    The signature is checked first, before anything of the account is read: anyone can send a
    known credential id, so an assertion that does not verify (or whose `userHandle` is not the
    passkey owner's) is refused exactly as an unknown credential is, counted on the IP only,
    and reveals nothing of the account. Once it verifies, the account's rules apply (its lock,
    delay and status, the counter of a cloned authenticator counted on it).
    """
    login_ip_budget_check(ip=client.ip)
    challenge = challenge_consume(challenge_id=challenge_id, purpose=Purpose.LOGIN, user_id=None)
    parsed = services.assertion_parse(credential)
    device = services.discoverable_passkey_of(parsed)
    verified = (
        services.assertion_signature_verify(device=device, parsed=parsed, challenge=challenge)
        if device is not None and parsed is not None
        else None
    )
    if device is None or verified is None:
        raise _passwordless_failure(client=client)

    def counter_kept(locked: User) -> Method | None:
        locked_device = WebAuthnDevice.objects.select_for_update().filter(pk=device.pk, user=locked).first()
        if locked_device is None:  # removed meanwhile
            return None
        kept = services.sign_count_advance(
            device=locked_device, user=locked, verified=verified, client=client
        )
        return Method.WEBAUTHN if kept else None

    user = relying_party.passkey_attempt_check(
        user_id=device.user_id, client=client, context="login", check=counter_kept
    )
    account_status_check(user)
    return user


def passwordless_login(*, challenge_id: str, credential: object, client: Client) -> IssuedTokens:
    """`POST /auth/login/webauthn`: tokens with `amr` ["pop", "mfa"] (RFC 8176)."""
    user = passwordless_login_verify(challenge_id=challenge_id, credential=credential, client=client)
    # One transaction with the session, as every login (accounts.flows.login.login_record).
    with transaction.atomic():
        amr = login_flows.login_record(user=user, method=Method.WEBAUTHN, client=client, passwordless=True)
        return tokens_for_login(user, amr=amr, client=client)
