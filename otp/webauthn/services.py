"""Passkey rules: removal, and assertions as a second factor and for step-up.

Ceremonies are verified by py_webauthn. Every verification runs inside `otp.services.code_check`,
so a failed passkey counts on the account like a wrong code (delays, lock) and a success
resets the count. A malformed credential is a failed verification, never an exception.
The relying party is in `otp.webauthn.relying_party`, registration in `otp.webauthn.registration`;
the passwordless login, which needs the account rules, in `accounts.flows.passwordless_login`.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from webauthn import (
    generate_authentication_options,
    verify_authentication_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.parse_authentication_credential_json import parse_authentication_credential_json
from webauthn.helpers.structs import (
    AuthenticationCredential,
    UserVerificationRequirement,
)

from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.events import security_event_record
from accounts.models import SecurityEvent, User
from otp.challenges import (
    Purpose,
    StepUpToken,
    challenge_consume,
    challenge_issue,
    step_up_token_issue,
)
from otp.services import (
    Method,
    factor_removal_record_and_notify,
    recovery_codes_drop_if_no_factor,
    step_up_verify,
)
from otp.webauthn.models import WebAuthnDevice
from otp.webauthn.relying_party import (
    CeremonyOptions,
    ceremony_timeout_ms,
    credential_descriptors,
    options_json,
    passkey_attempt_check,
    rp_id,
    rp_origins,
    user_handle_of,
)

logger = logging.getLogger(__name__)
EventType = SecurityEvent.Type
# What a malformed credential can make the parsers raise besides their own exceptions
# (bad base64, CBOR, lengths, wrong JSON types). Any of them is a failed verification.
MALFORMED = (WebAuthnException, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)

# --- removal ----------------------------------------------------------------------------------


def passkey_delete(*, user: User, passkey_id: int, otp: str | None, client: Client) -> User:
    """Remove one of the caller's passkeys (step-up first); recovery codes go with the last factor."""
    if not WebAuthnDevice.objects.filter(user=user, pk=passkey_id).exists():
        raise ServiceError(ErrorCode.NOT_FOUND)
    step_up_verify(user=user, otp=otp, client=client)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        device = WebAuthnDevice.objects.filter(user=user, pk=passkey_id).first()
        if device is None:
            raise ServiceError(ErrorCode.NOT_FOUND)
        device.delete()
        user.passkey_count = WebAuthnDevice.objects.filter(user=user).count()
        user.save(update_fields=["passkey_count"])
        recovery_codes_drop_if_no_factor(user)
        factor_removal_record_and_notify(
            user=user, method=Method.WEBAUTHN, client=client, passkey=device.name
        )
    return user


# --- assertions -------------------------------------------------------------------------------


def _request_options(*, purpose: Purpose, user: User | None) -> CeremonyOptions:
    """Options to sign with a passkey: the user's own ones, or any discoverable one when no user."""
    challenge = challenge_issue(purpose=purpose, user_id=user.pk if user else None)
    options = generate_authentication_options(
        rp_id=rp_id(),
        challenge=challenge.challenge,
        timeout=ceremony_timeout_ms(),
        allow_credentials=credential_descriptors(user) if user else [],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return CeremonyOptions(challenge_id=challenge.challenge_id, public_key=options_json(options))


def assertion_parse(credential: object) -> AuthenticationCredential | None:
    """The credential of `credential.toJSON()` after `navigator.credentials.get()`, or None."""
    if not isinstance(credential, dict):
        return None
    try:
        return parse_authentication_credential_json(credential)
    except MALFORMED:
        return None


def _assertion_verified(
    *, device: WebAuthnDevice, user: User, parsed: AuthenticationCredential, challenge: bytes, client: Client
) -> bool:
    """Check the signature, origin, RP ID, type and UV; then the counter, under the device's lock."""
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=rp_origins(),
            credential_public_key=bytes(device.public_key),
            # The counter is checked below, after the signature, so that only a genuinely
            # signed assertion with a stale counter (a cloned authenticator) is recorded as one.
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except MALFORMED as error:
        logger.info("Passkey assertion refused: %s", error.__class__.__name__)
        return False
    received = verified.new_sign_count
    if (received or device.sign_count) and received <= device.sign_count:
        security_event_record(
            user=user,
            type=EventType.PASSKEY_COUNTER_REGRESSED,
            client=client,
            details={"passkey": device.name, "stored": device.sign_count, "received": received},
        )
        return False
    device.sign_count = received
    device.backed_up = verified.credential_backed_up
    device.last_used_at = timezone.now()
    device.save(update_fields=["sign_count", "backed_up", "last_used_at"])
    return True


def assertion_check(
    *, user: User, parsed: AuthenticationCredential | None, challenge: bytes, client: Client
) -> Method | None:
    """On the locked `user`: WEBAUTHN when `parsed` is a valid assertion by one of their passkeys."""
    if parsed is None:
        return None
    device = WebAuthnDevice.objects.select_for_update().filter(user=user, credential_id=parsed.raw_id).first()
    if device is None:
        return None
    if parsed.response.user_handle is not None and parsed.response.user_handle != user_handle_of(user):
        return None
    ok = _assertion_verified(device=device, user=user, parsed=parsed, challenge=challenge, client=client)
    return Method.WEBAUTHN if ok else None


def _user_assertion_verify(
    *, user: User, challenge_id: str, credential: object, purpose: Purpose, context: str, client: Client
) -> User:
    challenge = challenge_consume(challenge_id=challenge_id, purpose=purpose, user_id=user.pk)
    parsed = assertion_parse(credential)
    return passkey_attempt_check(
        user_id=user.pk,
        client=client,
        context=context,
        check=lambda locked: assertion_check(user=locked, parsed=parsed, challenge=challenge, client=client),
    )


def second_factor_options_generate(*, user: User) -> CeremonyOptions:
    """After the right password: a challenge for one of the user's passkeys."""
    return _request_options(purpose=Purpose.SECOND_FACTOR, user=user)


def second_factor_verify(*, user: User, challenge_id: str, credential: object, client: Client) -> Method:
    """The passkey as the second factor of a password login."""
    _user_assertion_verify(
        user=user,
        challenge_id=challenge_id,
        credential=credential,
        purpose=Purpose.SECOND_FACTOR,
        context="login",
        client=client,
    )
    return Method.WEBAUTHN


def step_up_options_generate(*, user: User) -> CeremonyOptions:
    if not user.passkey_count:
        raise ServiceError(ErrorCode.METHOD_NOT_ALLOWED, detail=gettext("No passkey is set up."))
    return _request_options(purpose=Purpose.STEP_UP, user=user)


def step_up_complete(*, user: User, challenge_id: str, credential: object, client: Client) -> StepUpToken:
    """A passkey assertion exchanged for a single-use token that `x-otp` accepts for 5 minutes."""
    _user_assertion_verify(
        user=user,
        challenge_id=challenge_id,
        credential=credential,
        purpose=Purpose.STEP_UP,
        context="step-up",
        client=client,
    )
    return step_up_token_issue(user_id=user.pk)


def passwordless_options_generate() -> CeremonyOptions:
    """A challenge for any discoverable passkey of this site (no `allowCredentials`)."""
    return _request_options(purpose=Purpose.LOGIN, user=None)
