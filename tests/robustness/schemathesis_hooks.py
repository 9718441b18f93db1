"""schemathesis hooks (`SCHEMATHESIS_HOOKS`): a real idToken for the endpoints that need one.

The token comes from the live server's own login. schemathesis asks again after a 401, so a
generated `POST /auth/logout/all` does not leave the rest of the run unauthenticated; an
account that the run itself got locked (failed codes) or froze (`POST /auth/me/freeze`) is replaced
by a new one.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import requests
import schemathesis

BASE_URL = os.environ.get("ROBUSTNESS_BASE_URL", "http://127.0.0.1:8000")


def account_register(base_url: str) -> tuple[str, str]:
    """A new account on the live server: its email and password."""
    email = f"schemathesis-{uuid.uuid4().hex[:12]}@example.com"
    password = f"unguessable {uuid.uuid4().hex}"
    response = requests.post(
        f"{base_url}/auth/register", json={"email": email, "password": password}, timeout=30
    )
    assert response.status_code == 202, response.text
    return email, password


@schemathesis.auth()
class LiveIdToken:
    def __init__(self) -> None:
        self.credentials: tuple[str, str] | None = None

    def get(self, case: schemathesis.Case, context: Any) -> str:
        if self.credentials is not None and (token := self._login()) is not None:
            return token
        self.credentials = account_register(BASE_URL)
        token = self._login()
        assert token is not None, "a new account could not log in"
        return token

    def _login(self) -> str | None:
        email, password = self.credentials
        response = requests.post(
            f"{BASE_URL}/auth/login", json={"email": email, "password": password}, timeout=30
        )
        return response.json()["idToken"] if response.status_code == 200 else None

    def set(self, case: schemathesis.Case, data: str, context: Any) -> None:
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
