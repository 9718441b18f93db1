"""The relying party: its id and origins, ceremony options, user handles, credential descriptors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from webauthn import (
    options_to_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
)

from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.models import User
from otp.services.verification import code_check
from otp.webauthn.models import WebAuthnDevice, WebAuthnUserHandle

ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]


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


def ceremony_timeout_ms() -> int:
    return settings.WEBAUTHN_CHALLENGE_SECONDS * 1000


def options_json(options: object) -> dict[str, Any]:
    return json.loads(options_to_json(options))


def user_handle_of(user: User) -> bytes:
    """The user's opaque WebAuthn handle, created on first use."""
    WebAuthnUserHandle.objects.bulk_create([WebAuthnUserHandle(user=user)], ignore_conflicts=True)
    return bytes(WebAuthnUserHandle.objects.get(user=user).handle)


def credential_descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
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
    """`code_check` with a passkey's refusal: `webauthn_invalid` rather than `otp_invalid`."""
    try:
        user, _ = code_check(user_id=user_id, client=client, context=context, check=check)
    except ServiceError as error:
        if error.code == ErrorCode.OTP_INVALID:
            raise ServiceError(ErrorCode.WEBAUTHN_INVALID, status=status) from None
        raise
    return user
