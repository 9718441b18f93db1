"""Bearer idToken authentication: signature and claims, then the user row says if it still counts."""

from __future__ import annotations

from typing import Any

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from accounts.auth.owner_query import bearer_user_read
from accounts.auth.tokens import token_still_counts, token_subject_parse
from accounts.models import User


class IdTokenAuthentication(JWTAuthentication):
    """Refuses the idToken of a user who is gone or may not authenticate, of an ended session, or issued before a revocation."""

    def get_user(self, validated_token: Any) -> User:
        subject = token_subject_parse(validated_token)
        found = bearer_user_read(*subject) if subject is not None else None
        user, session_live = found if found is not None else (None, False)
        if not token_still_counts(validated_token, owner=user, session_live=session_live):
            raise AuthenticationFailed("The token is no longer valid.", code="token_not_valid")
        return user
