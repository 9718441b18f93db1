"""Bearer idToken authentication: signature and claims, then the user row says if it still counts."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef
from django.utils import timezone
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from .account_state import account_may_authenticate
from .models import User, UserSession
from .sessions import session_id_parse


def _user_with_session_state(user_id: object, session_id: object) -> User | None:
    """The user (with the phone, for the profile) and whether the token's session is live, in one query."""
    live_session = UserSession.objects.filter(
        pk=session_id_parse(session_id),
        user=OuterRef("pk"),
        ended_at__isnull=True,
        expires_at__gt=timezone.now(),
    )
    try:
        return (
            User.objects.select_related("sms_device")
            .annotate(session_live=Exists(live_session))
            .get(pk=user_id)
        )
    except (User.DoesNotExist, ValueError, TypeError):
        return None


class IdTokenAuthentication(JWTAuthentication):
    """Refuses the idToken of a user who is gone or may not authenticate, of an ended session, or issued before a revocation."""

    def get_user(self, validated_token: Any) -> User:
        user = _user_with_session_state(validated_token["sub"], validated_token.get("sid"))
        if (
            user is None
            or not user.session_live
            or not account_may_authenticate(user)
            or validated_token["gen"] != user.token_generation
        ):
            raise AuthenticationFailed("The token is no longer valid.", code="token_not_valid")
        return user
