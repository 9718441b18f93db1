"""Registering a passkey (step-up first): options, then the attestation verified and stored."""

from __future__ import annotations

import logging

from django.conf import settings
from webauthn import (
    generate_registration_options,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.parse_registration_credential_json import parse_registration_credential_json
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from accounts.core import notifications
from accounts.core.client import Client
from accounts.core.events import security_event_record
from accounts.core.security_changes import security_change_record
from accounts.core.user_agents import UNKNOWN_DEVICE, device_label
from accounts.models import SecurityEvent, User
from otp.challenges import (
    Purpose,
    challenge_consume,
    challenge_issue,
)
from otp.services import (
    Method,
    pending_factors_drop_and_record,
    step_up_verify,
)
from otp.webauthn.models import WebAuthnDevice
from otp.webauthn.relying_party import (
    ALGORITHMS,
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

NAME_MAX_LENGTH = 64
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
        timeout=ceremony_timeout_ms(),
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=credential_descriptors(user),
        supported_pub_key_algs=ALGORITHMS,
    )
    return CeremonyOptions(challenge_id=challenge.challenge_id, public_key=options_json(options))


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
    # `code_check` writes back only its own fields.
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
