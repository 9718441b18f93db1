"""What the OpenID Connect provider changes: consents, removing an application's access, RP logout.

Ending an application's access ends the session rows of its grants (accounts.sessions), which
refuses their tokens at once (oidc/validators.py); the tokens are also deleted here.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.auth.sessions import session_end_quietly
from accounts.core.client import Client
from accounts.core.errors import ErrorCode, ServiceError
from accounts.core.events import security_event_record
from accounts.models import SecurityEvent, User, UserSession
from oidc.models import AccessToken, Application, Consent, RefreshToken


def consent_of(*, user: User, application: Application) -> Consent | None:
    return Consent.objects.filter(user=user, application=application).first()


def consent_covers(*, user: User, application: Application, scopes: list[str]) -> bool:
    """Whether the user already allowed `application` every scope of `scopes`."""
    consent = consent_of(user=user, application=application)
    return consent is not None and consent.covers(scopes)


@transaction.atomic
def consent_grant(*, user: User, application: Application, scopes: list[str], client: Client) -> Consent:
    """The user allowed `application` these scopes (the consent page): remembered with the ones before."""
    consent, _ = Consent.objects.select_for_update().get_or_create(user=user, application=application)
    consent.scopes = sorted(set(consent.scopes) | set(scopes))
    consent.granted_at = consent.last_used_at = timezone.now()
    consent.save(update_fields=["scopes", "granted_at", "last_used_at"])
    security_event_record(
        user=user,
        type=SecurityEvent.Type.OIDC_CONSENT_GRANTED,
        client=client,
        details={"application": application.name, "clientId": application.client_id, "scopes": scopes},
    )
    return consent


def consent_use(*, user: User, application: Application, scopes: list[str]) -> None:
    """A code was issued to `application`: its "Connected apps" line says when (and an app that skips
    the consent page is listed too)."""
    consent, _ = Consent.objects.get_or_create(
        user=user, application=application, defaults={"scopes": sorted(set(scopes))}
    )
    consent.last_used_at = timezone.now()
    consent.scopes = sorted(set(consent.scopes) | set(scopes))
    consent.save(update_fields=["last_used_at", "scopes"])


def app_sessions_of(*, user: User, application: Application) -> QuerySet[UserSession]:
    """The session rows of the user's grants to `application`, found through their tokens."""
    return UserSession.objects.filter(
        Q(oidc_access_tokens__application=application) | Q(oidc_refresh_tokens__application=application),
        user=user,
        kind=UserSession.Kind.OIDC,
    ).distinct()


@transaction.atomic
def app_access_remove(*, user: User, consent_id: object, client: Client) -> None:
    """ "Remove access": the consent is forgotten, every grant's session ends and its tokens are deleted."""
    try:
        consent = Consent.objects.select_related("application").get(pk=int(str(consent_id)), user=user)
    except (Consent.DoesNotExist, ValueError):
        raise ServiceError(ErrorCode.NOT_FOUND) from None
    application = consent.application
    for session_id in list(app_sessions_of(user=user, application=application).values_list("pk", flat=True)):
        session_end_quietly(session_id=session_id)
    app_tokens_delete(user=user, application=application)
    consent.delete()
    security_event_record(
        user=user,
        type=SecurityEvent.Type.OIDC_ACCESS_REMOVED,
        client=client,
        details={"application": application.name, "clientId": application.client_id},
    )


def app_tokens_delete(*, user: User, application: Application) -> None:
    RefreshToken.objects.filter(user=user, application=application).delete()
    AccessToken.objects.filter(user=user, application=application).delete()
