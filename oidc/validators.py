"""django-oauth-toolkit's request validator, told about this service's sessions, claims and accounts.

- A code, a refresh token or an access token counts only while the session row of its grant is
  live and the account may authenticate (the one rule, `accounts.account_state`): ending the
  session anywhere (the sessions list, logout-all, a password change, a block, an MFA reset)
  ends the application's access at once.
- The session row of a grant (kind `oidc`) is opened when its code is exchanged, in the token
  endpoint's transaction (oidc/views.py), under an id chosen when the code was checked so the
  id_token's `sid` names it.
- Claims: `sub` as this service's idTokens, `amr` and `auth_time` of the browser login behind
  the grant, `sid`, and with scope `email` the email and whether it is verified.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from oauth2_provider import oauth2_validators
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request

from accounts.auth.sessions import session_end_quietly, session_start
from accounts.core.account_state import account_may_authenticate
from accounts.core.client import Client
from accounts.models import User, UserSession
from oidc.models import AccessToken, Application, Grant, IDToken, RefreshToken

OFFLINE_ACCESS = "offline_access"
# Which scope releases each claim; `openid` ones are in every id_token and userinfo answer.
CLAIM_SCOPES = {
    "sub": "openid",
    "amr": "openid",
    "auth_time": "openid",
    "sid": "openid",
    "email": "email",
    "email_verified": "email",
    "locale": "profile",
}


@dataclass(frozen=True)
class GrantContext:
    """How the user signed in for this grant, and the session row the grant is."""

    session_id: str
    amr: list[str]
    auth_time: datetime


def grant_is_live(session: UserSession | None, user: User | None) -> bool:
    """Whether tokens of the grant behind `session` still count: a live row, an account that may sign in."""
    return session is not None and session.is_live() and user is not None and account_may_authenticate(user)


def _checksum(token: str) -> str:
    """How django-oauth-toolkit finds a token it stores hashed (its `token_checksum`)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _timestamp(moment: datetime | None) -> int:
    return int((moment or timezone.now()).timestamp())


class OAuth2Validator(oauth2_validators.OAuth2Validator):
    oidc_claim_scope = CLAIM_SCOPES

    # --- the authorization request --------------------------------------------------------------

    def is_pkce_required(self, client_id: str, request: Request) -> bool:
        """PKCE for every public client; a confidential one may add it (S256 only, settings)."""
        client = request.client or Application.objects.filter(client_id=client_id).first()
        return client is None or client.client_type == Application.CLIENT_PUBLIC

    def validate_silent_login(self, request: Request) -> bool:
        """`prompt=none`: whether the browser is signed in is decided by oidc.views, before any code."""
        return True

    def validate_silent_authorization(self, request: Request) -> bool:
        """`prompt=none`: whether the user allowed the scopes is decided by oidc.views, before any code."""
        return True

    def _create_authorization_code(self, request: Request, code: dict, expires: Any = None) -> Grant:
        grant = super()._create_authorization_code(request, code, expires)
        login = request.browser_login  # set by oidc.views.AuthorizationView
        grant.amr, grant.auth_time = login.amr, login.auth_time
        grant.save(update_fields=["amr", "auth_time"])
        return grant

    # --- the token endpoint ---------------------------------------------------------------------

    def validate_code(
        self, client_id: str, code: str, client: Application, request: Request, *args, **kwargs
    ) -> bool:
        # Locked, so that two exchanges of one code cannot both pass (the view is one transaction).
        grant = Grant.objects.select_for_update().filter(code=code, application=client).first()
        if grant is None or grant.is_expired() or not account_may_authenticate(grant.user):
            return False
        request.scopes = grant.scope.split(" ")
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        request.oidc_context = GrantContext(
            session_id=str(uuid.uuid4()), amr=list(grant.amr), auth_time=grant.auth_time or timezone.now()
        )
        return True

    def validate_refresh_token(
        self, refresh_token: str, client: Application, request: Request, *args, **kwargs
    ) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        token: RefreshToken = request.refresh_token_instance
        if not grant_is_live(token.session, token.user):
            return False
        request.oidc_context = GrantContext(
            session_id=str(token.session_id), amr=list(token.session.amr), auth_time=token.auth_time
        )
        return True

    def _save_bearer_token(self, token: dict, request: Request, *args, **kwargs) -> None:
        # A refresh token only for an application that asked to stay signed in.
        if OFFLINE_ACCESS not in request.scopes:
            token.pop("refresh_token", None)
        if request.grant_type == "authorization_code":
            self._grant_session_open(token, request)
        else:
            UserSession.objects.filter(pk=request.oidc_context.session_id).update(last_used_at=timezone.now())
        super()._save_bearer_token(token, request, *args, **kwargs)

    def _grant_session_open(self, token: dict, request: Request) -> None:
        """The session row of a grant whose code is being exchanged: it lasts as its refresh token may."""
        lifetime = (
            oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS
            if "refresh_token" in token
            else oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS
        )
        context: GrantContext = request.oidc_context
        session_start(
            user=request.user,
            kind=UserSession.Kind.OIDC,
            amr=context.amr,
            client=Client(),
            expires_at=timezone.now() + timedelta(seconds=lifetime),
            session_id=uuid.UUID(context.session_id),
            device=request.client.name or request.client.client_id,
        )

    def _create_access_token(
        self, expires: Any, request: Request, token: dict, source_refresh_token: Any = None
    ) -> AccessToken:
        access_token = super()._create_access_token(expires, request, token, source_refresh_token)
        context: GrantContext = request.oidc_context
        access_token.session_id, access_token.auth_time = context.session_id, context.auth_time
        access_token.save(update_fields=["session", "auth_time"])
        return access_token

    def _create_refresh_token(
        self,
        request: Request,
        refresh_token_code: str,
        access_token: AccessToken,
        previous_refresh_token: Any,
    ) -> RefreshToken:
        refresh_token = super()._create_refresh_token(
            request, refresh_token_code, access_token, previous_refresh_token
        )
        context: GrantContext = request.oidc_context
        refresh_token.session_id, refresh_token.auth_time = context.session_id, context.auth_time
        refresh_token.save(update_fields=["session", "auth_time"])
        return refresh_token

    def _save_id_token(self, jti: str, request: Request, expires: Any, *args, **kwargs) -> IDToken:
        id_token = super()._save_id_token(jti, request, expires, *args, **kwargs)
        IDToken.objects.filter(pk=id_token.pk).update(session_id=request.oidc_context.session_id)
        return id_token

    def revoke_token(
        self, token: str, token_type_hint: str | None, request: Request, *args, **kwargs
    ) -> None:
        """Revoking a refresh token ends its grant's session (RFC 7009 §2.1); an access token alone does not."""
        session_ids = set(
            RefreshToken.objects.filter(
                token_checksum=_checksum(token),
                application_id=getattr(request.client, "pk", None),
            ).values_list("session_id", flat=True)
        )
        super().revoke_token(token, token_type_hint, request, *args, **kwargs)
        for session_id in session_ids - {None}:
            session_end_quietly(session_id=session_id)

    # --- bearer requests (userinfo) -------------------------------------------------------------

    def _load_access_token(self, token: str) -> AccessToken | None:
        return (
            AccessToken.objects.select_related("application", "user", "session")
            .filter(token_checksum=_checksum(token))
            .first()
        )

    def validate_bearer_token(self, token: str, scopes: list[str], request: Request) -> bool:
        if not super().validate_bearer_token(token, scopes, request):
            return False
        access_token: AccessToken = request.access_token
        if not grant_is_live(access_token.session, access_token.user):
            request.oauth2_error = {
                "error": "invalid_token",
                "error_description": "The access token is invalid.",
            }
            return False
        request.oidc_context = GrantContext(
            session_id=str(access_token.session_id),
            amr=list(access_token.session.amr),
            auth_time=access_token.auth_time,
        )
        return True

    # --- claims ---------------------------------------------------------------------------------

    def get_claim_dict(self, request: Request) -> dict[str, Any]:
        user: User = request.user
        context: GrantContext = request.oidc_context
        return {
            "sub": str(user.pk),
            "amr": context.amr,
            "auth_time": _timestamp(context.auth_time),
            "sid": context.session_id,
            "email": user.email,
            "email_verified": user.email_verified,
            "locale": user.language,
        }

    def get_discovery_claims(self, request: Request) -> list[str]:
        return list(CLAIM_SCOPES)

    def get_id_token_dictionary(
        self, token: dict, token_handler: Any, request: Request
    ) -> tuple[dict, datetime]:
        claims, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        claims["auth_time"] = _timestamp(request.oidc_context.auth_time)
        return claims, expiration_time

    def get_oidc_issuer_endpoint(self, request: Request) -> str:
        return settings.JWT_ISSUER
