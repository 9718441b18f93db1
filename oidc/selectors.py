"""What the pages and the admin read about a user's applications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.functional import Promise

from accounts.models import User
from oidc.models import Consent
from oidc.scopes import scope_texts


@dataclass(frozen=True)
class ConnectedApp:
    consent_id: int
    name: str
    client_id: str
    scopes: list[str]
    scope_texts: list[Promise]
    granted_at: datetime
    last_used_at: datetime | None


def connected_apps_of(user: User) -> list[ConnectedApp]:
    """The applications the user allowed ("Connected apps"), most recently used first."""
    consents = (
        Consent.objects.filter(user=user).select_related("application").order_by("-last_used_at", "-id")
    )
    return [
        ConnectedApp(
            consent_id=consent.pk,
            name=consent.application.name or consent.application.client_id,
            client_id=consent.application.client_id,
            scopes=list(consent.scopes),
            scope_texts=scope_texts(consent.scopes),
            granted_at=consent.granted_at,
            last_used_at=consent.last_used_at,
        )
        for consent in consents
    ]


def connected_apps_exported(user: User) -> list[dict[str, object]]:
    """The connected apps as the data export writes them: no client secret, no token."""
    return [
        {
            "name": app.name,
            "clientId": app.client_id,
            "scopes": app.scopes,
            "allowedAt": app.granted_at,
            "lastUsedAt": app.last_used_at,
        }
        for app in connected_apps_of(user)
    ]
