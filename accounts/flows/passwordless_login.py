"""Passwordless login with a passkey: the assertion, then the account rules every login follows."""

from __future__ import annotations

from django.db import transaction

from accounts.auth.tokens import IssuedTokens, tokens_for_login
from accounts.core.account_state import account_status_check
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.events import security_event_log_and_count
from accounts.flows import login as login_flows
from accounts.models import SecurityEvent, User
from otp.challenges import Purpose, challenge_consume
from otp.services import Method
from otp.webauthn import relying_party, services
from otp.webauthn.models import WebAuthnDevice


def passwordless_login_verify(*, challenge_id: str, credential: object, client: Client) -> User:
    """The user whose discoverable passkey signed the login challenge, if the account may log in.

    An unknown credential answers as a bad signature does; a known one is counted on its account.
    """
    challenge = challenge_consume(challenge_id=challenge_id, purpose=Purpose.LOGIN, user_id=None)
    parsed = services.assertion_parse(credential)
    owner_id = (
        WebAuthnDevice.objects.filter(credential_id=parsed.raw_id).values_list("user_id", flat=True).first()
        if parsed is not None
        else None
    )
    if owner_id is None:
        security_event_log_and_count(
            type=SecurityEvent.Type.LOGIN_FAILED, user_id=None, client=client, details={"factor": "webauthn"}
        )
        raise ServiceError(ErrorCode.WEBAUTHN_INVALID)
    user = relying_party.passkey_attempt_check(
        user_id=owner_id,
        client=client,
        context="login",
        check=lambda locked: services.assertion_check(
            user=locked, parsed=parsed, challenge=challenge, client=client
        ),
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
