"""A software authenticator for the tests: a P-256 key, attestation `none`, signed assertions.

It builds what a browser's `credential.toJSON()` gives after `navigator.credentials.create()`
and `.get()`, and lets a test bend any part of it (origin, RP ID, type, flags, counter).
"""

from __future__ import annotations

import hashlib
import json
import os
from base64 import urlsafe_b64decode, urlsafe_b64encode
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ORIGIN = "http://localhost:8000"
RP_ID = "localhost"
FLAG_UP, FLAG_UV, FLAG_BE, FLAG_BS, FLAG_AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftwareAuthenticator:
    def __init__(self, *, aaguid: bytes = bytes(16), counter: bool = True) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.aaguid = aaguid
        self.counter = counter
        self.sign_count = 0
        self.user_handle: bytes | None = None

    @property
    def id(self) -> str:
        return b64url(self.credential_id)

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )

    def _authenticator_data(self, *, rp_id: str, flags: int, attested: bool) -> bytes:
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + self.sign_count.to_bytes(4, "big")
        if attested:
            data += self.aaguid + len(self.credential_id).to_bytes(2, "big") + self.credential_id
            data += self.cose_public_key()
        return data

    @staticmethod
    def _client_data(*, type_: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": type_, "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()

    def create(
        self,
        public_key: dict[str, Any],
        *,
        origin: str = ORIGIN,
        rp_id: str | None = None,
        type_: str = "webauthn.create",
        user_verified: bool = True,
        challenge: str | None = None,
    ) -> dict[str, Any]:
        """`navigator.credentials.create({publicKey})` then `toJSON()`."""
        self.user_handle = b64url_decode(public_key["user"]["id"])
        flags = FLAG_UP | FLAG_AT | FLAG_BE | FLAG_BS | (FLAG_UV if user_verified else 0)
        client_data = self._client_data(
            type_=type_, challenge=challenge or public_key["challenge"], origin=origin
        )
        authenticator_data = self._authenticator_data(
            rp_id=rp_id or public_key["rp"]["id"], flags=flags, attested=True
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": authenticator_data})
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal", "hybrid"],
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    def get(
        self,
        public_key: dict[str, Any],
        *,
        origin: str = ORIGIN,
        rp_id: str | None = None,
        type_: str = "webauthn.get",
        user_verified: bool = True,
        challenge: str | None = None,
        sign_count: int | None = None,
        signing_key: ec.EllipticCurvePrivateKey | None = None,
    ) -> dict[str, Any]:
        """`navigator.credentials.get({publicKey})` then `toJSON()`, signed over authData + SHA-256(clientDataJSON)."""
        if sign_count is not None:
            self.sign_count = sign_count
        elif self.counter:
            self.sign_count += 1
        flags = FLAG_UP | FLAG_BE | FLAG_BS | (FLAG_UV if user_verified else 0)
        client_data = self._client_data(
            type_=type_, challenge=challenge or public_key["challenge"], origin=origin
        )
        authenticator_data = self._authenticator_data(
            rp_id=rp_id or public_key["rpId"], flags=flags, attested=False
        )
        signed = authenticator_data + hashlib.sha256(client_data).digest()
        signature = (signing_key or self.key).sign(signed, ec.ECDSA(hashes.SHA256()))
        response = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(authenticator_data),
            "signature": b64url(signature),
        }
        if self.user_handle is not None:
            response["userHandle"] = b64url(self.user_handle)
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": response,
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }
