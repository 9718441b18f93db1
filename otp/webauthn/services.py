"""Passkey rules: registration, removal, and assertions as a second factor and for step-up.

Ceremonies are verified by py_webauthn. Every verification runs inside `otp.services._code_check`,
so a failed passkey counts on the account like a wrong code (delays, lock) and a success
resets the count. A malformed credential is a failed verification, never an exception.
The passwordless login, which needs the account rules, is in `otp.webauthn.login`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.parse_authentication_credential_json import parse_authentication_credential_json
from webauthn.helpers.parse_registration_credential_json import parse_registration_credential_json
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from accounts import notifications
from accounts.client import Client
from accounts.devices import UNKNOWN_DEVICE, device_label
from accounts.errors import ErrorCode, ServiceError
from accounts.events import security_event_record
from accounts.models import SecurityEvent, User
from accounts.security_changes import security_change_record
from otp.services import (
    Method,
    factor_removal_record_and_notify,
    pending_factors_drop_and_record,
    recovery_codes_drop_if_no_factor,
    step_up_verify,
)
from otp.services.verification import _code_check

from .challenges import Purpose, StepUpToken, challenge_consume, challenge_issue, step_up_token_issue
from .models import WebAuthnDevice, WebAuthnUserHandle

logger = logging.getLogger(__name__)
EventType = SecurityEvent.Type

ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
NAME_MAX_LENGTH = 64
# What a malformed credential can make the parsers raise besides their own exceptions
# (bad base64, CBOR, lengths, wrong JSON types). Any of them is a failed verification.
MALFORMED = (WebAuthnException, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)
# A few well-known authenticators (the passkey providers' published AAGUIDs), for a default name.
KNOWN_AAGUIDS = {
    "fbfc3007-154e-4ecc-8c0b-6e020557d7bd": "iCloud Keychain",
    "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": "Google Password Manager",
    "adce0002-35bc-c60a-648b-0b25f1f05503": "Chrome on Mac",
    "08987058-cadc-4b81-b6e1-30de50dcbe96": "Windows Hello",
    "9ddd1817-af5a-4672-a2b9-3e3dd95000a9": "Windows Hello",
    "6028b017-b1d4-4c02-b4b3-afcdafc96bb2": "Windows Hello",
    "bada5566-a7aa-401f-bd96-45619a55120d": "1Password",
    "d548826e-79b4-db40-a3d8-11116f7e8349": "Bitwarden",
    "531126d6-e717-415c-9320-3d9aa6981239": "Dashlane",
}


@dataclass(frozen=True)
class CeremonyOptions:
    """What the browser's `parse*OptionsFromJSON()` takes, under the id of its challenge."""

    challenge_id: str
    public_key: dict[str, Any]


# --- the relying party ------------------------------------------------------------------------


def rp_id() -> str:
    return settings.WEBAUTHN_RP_ID


def rp_origins() -> list[str]:
    return list(settings.WEBAUTHN_ORIGINS)


def _timeout_ms() -> int:
    return settings.WEBAUTHN_CHALLENGE_SECONDS * 1000


def _options_json(options: object) -> dict[str, Any]:
    return json.loads(options_to_json(options))


def user_handle_of(user: User) -> bytes:
    """The user's opaque WebAuthn handle, created on first use."""
    WebAuthnUserHandle.objects.bulk_create([WebAuthnUserHandle(user=user)], ignore_conflicts=True)
    return bytes(WebAuthnUserHandle.objects.get(user=user).handle)


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    known = {transport.value for transport in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=bytes(credential_id),
            transports=[AuthenticatorTransport(value) for value in transports if value in known],
        )
        for credential_id, transports in WebAuthnDevice.objects.filter(user=user).values_list(
            "credential_id", "transports"
        )
    ]


def passkey_attempt_check(
    *, user_id: int, client: Client, context: str, check: Any, status: int = 403
) -> User:
    """`_code_check` with a passkey's refusal: `webauthn_invalid` rather than `otp_invalid`."""
    try:
        user, _ = _code_check(user_id=user_id, client=client, context=context, check=check)
    except ServiceError as error:
        if error.code == ErrorCode.OTP_INVALID:
            raise ServiceError(ErrorCode.WEBAUTHN_INVALID, status=status) from None
        raise
    return user


# --- registration -----------------------------------------------------------------------------


def registration_options_generate(*, user: User, otp: str | None, client: Client) -> CeremonyOptions:
    """Options to create a passkey; step-up first when the user already has a factor."""
    step_up_verify(user=user, otp=otp, client=client)
    challenge = challenge_issue(purpose=Purpose.REGISTER, user_id=user.pk)
    options = generate_registration_options(
        rp_id=rp_id(),
        rp_name=settings.WEBAUTHN_RP_NAME,
        user_id=user_handle_of(user),
        user_name=user.email,
        user_display_name=user.email,
        challenge=challenge.challenge,
        timeout=_timeout_ms(),
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(user),
        supported_pub_key_algs=ALGORITHMS,
    )
    return CeremonyOptions(challenge_id=challenge.challenge_id, public_key=_options_json(options))


def _registration_verified(
    credential: object, challenge: bytes
) -> tuple[RegistrationCredential, VerifiedRegistration] | None:
    if not isinstance(credential, dict):
        return None
    try:
        parsed = parse_registration_credential_json(credential)
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=rp_origins(),
            require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS,
        )
    except MALFORMED as error:
        logger.info("Passkey registration refused: %s", error.__class__.__name__)
        return None
    return parsed, verified


def passkey_default_name(*, aaguid: str, user_agent: str) -> str:
    """A label for a passkey the user did not name: its provider, else "Chrome on macOS"."""
    if aaguid in KNOWN_AAGUIDS:
        return KNOWN_AAGUIDS[aaguid]
    label = device_label(user_agent)
    return label[:NAME_MAX_LENGTH] if label != UNKNOWN_DEVICE else "Passkey"


def _passkey_store(
    *, user: User, parsed: RegistrationCredential, verified: VerifiedRegistration, name: str, client: Client
) -> WebAuthnDevice | None:
    """Save the verified passkey on the (locked) user; None if that credential is already known."""
    if WebAuthnDevice.objects.filter(credential_id=verified.credential_id).exists():
        return None
    aaguid = verified.aaguid
    device = WebAuthnDevice.objects.create(
        user=user,
        name=name.strip()[:NAME_MAX_LENGTH]
        or passkey_default_name(aaguid=aaguid, user_agent=client.user_agent),
        confirmed=True,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=aaguid,
        transports=[transport.value for transport in parsed.response.transports or []],
        backup_eligible=verified.credential_device_type == "multi_device",
        backed_up=verified.credential_backed_up,
    )
    user.passkey_count = WebAuthnDevice.objects.filter(user=user).count()
    # `_code_check` writes back only its own fields.
    user.save(update_fields=["passkey_count"])
    pending_factors_drop_and_record(user, keep=Method.WEBAUTHN, client=client)
    security_event_record(
        user=user,
        type=EventType.FACTOR_ADDED,
        client=client,
        details={"factor": Method.WEBAUTHN, "passkey": device.name},
    )
    security_change_record(user=user)
    notifications.factor_added_notify(user=user, factor=Method.WEBAUTHN, passkey=device.name)
    return device


def registration_complete(
    *, user: User, challenge_id: str, credential: object, name: str, client: Client
) -> User:
    """Verify the new passkey and keep it: a verified second factor at once."""
    challenge = challenge_consume(challenge_id=challenge_id, purpose=Purpose.REGISTER, user_id=user.pk)

    def check(locked: User) -> Method | None:
        result = _registration_verified(credential, challenge)
        if result is None:
            return None
        parsed, verified = result
        stored = _passkey_store(user=locked, parsed=parsed, verified=verified, name=name, client=client)
        return Method.WEBAUTHN if stored is not None else None

    return passkey_attempt_check(
        user_id=user.pk, client=client, context="passkey-register", check=check, status=400
    )


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
        timeout=_timeout_ms(),
        allow_credentials=_descriptors(user) if user else [],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return CeremonyOptions(challenge_id=challenge.challenge_id, public_key=_options_json(options))


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
