"""Passkey fixtures: a software authenticator and a user who registered it."""

from __future__ import annotations

import pytest

from accounts.core.client import Client
from accounts.models import User
from otp.webauthn import registration as registration_webauthn
from tests.factories import UserFactory
from tests.otp.webauthn.authenticator import SoftwareAuthenticator


def passkey_register(user: User, authenticator: SoftwareAuthenticator, *, otp: str | None = None) -> User:
    """Register `authenticator` for `user` through the services, as the API would."""
    options = registration_webauthn.registration_options_generate(user=user, otp=otp, client=Client())
    return registration_webauthn.registration_complete(
        user=user,
        challenge_id=options.challenge_id,
        credential=authenticator.create(options.public_key),
        name="Laptop",
        client=Client(),
    )


@pytest.fixture
def authenticator() -> SoftwareAuthenticator:
    return SoftwareAuthenticator()


@pytest.fixture
def passkey_user(db: None, authenticator: SoftwareAuthenticator) -> tuple[User, SoftwareAuthenticator]:
    """A user whose only second factor is one passkey."""
    user = passkey_register(UserFactory(), authenticator)
    return user, authenticator
