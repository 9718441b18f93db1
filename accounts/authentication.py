"""Bearer idToken authentication: signature and claims, then the user row says if it still counts."""

from __future__ import annotations

from typing import Any

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from .account_state import account_may_authenticate
from .models import User


class IdTokenAuthentication(JWTAuthentication):
    """Refuses the idToken of a user who is gone, may not authenticate, or revoked tokens since it was issued."""

    def get_user(self, validated_token: Any) -> User:
        try:
            user = User.objects.select_related("sms_device").get(pk=validated_token["sub"])
        except (User.DoesNotExist, ValueError, TypeError):
            user = None
        if (
            user is None
            or not account_may_authenticate(user)
            or validated_token["gen"] != user.token_generation
        ):
            raise AuthenticationFailed("The token is no longer valid.", code="token_not_valid")
        return user
