from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_register_login_me_flow(api_client) -> None:
    response = api_client.post(
        "/auth/register",
        {"email": "New@Example.com", "password": "a perfectly fine passphrase"},
        format="json",
    )
    assert response.status_code == 202, response.json()
    response = api_client.post(
        "/auth/login", {"email": "new@example.com", "password": "a perfectly fine passphrase"}, format="json"
    )
    assert response.status_code == 200, response.json()
    tokens = response.json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['idToken']}")
    me = api_client.get("/auth/me")
    assert me.status_code == 200, me.json()
    assert me.json()["email"] == "n***@e***.com"
