"""Bearer idToken authentication: signature and claims, then the user row says if it still counts."""

from __future__ import annotations

from typing import Any

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from accounts.auth.owner_query import bearer_user_read
from accounts.auth.sessions import session_id_parse
from accounts.core.account_state import account_may_authenticate
from accounts.models import User


def _user_with_session_state(user_id: object, session_id: object) -> tuple[User, bool] | None:
    """The user with the phone, and whether the session is live; None when the user or the session id is not one."""
    session = session_id_parse(session_id)
    try:
        owner = int(user_id)
    except (TypeError, ValueError):
        return None
    if session is None:  # issued before sessions existed, or forged
        return None
    return bearer_user_read(owner, session)


class IdTokenAuthentication(JWTAuthentication):
    """Refuses the idToken of a user who is gone or may not authenticate, of an ended session, or issued before a revocation."""

    def get_user(self, validated_token: Any) -> User:
        found = _user_with_session_state(validated_token["sub"], validated_token.get("sid"))
        user, session_live = found if found is not None else (None, False)
        if (
            user is None
            or not session_live
            or not account_may_authenticate(user)
            or validated_token["gen"] != user.token_generation
        ):
            raise AuthenticationFailed("The token is no longer valid.", code="token_not_valid")
        return user
