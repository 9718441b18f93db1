"""The stock app's URLs: SimpleJWT's two views at their documented paths, a JWT-authenticated `/me`, a ceiling."""

from __future__ import annotations

from django.urls import path
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView


class MeView(APIView):
    """The bearer's profile, as a tutorial would write it: JWTAuthentication reads the user."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        user = request.user
        return Response(
            {
                "id": user.id,
                "username": user.username,
                "email": user.email,
                "dateJoined": user.date_joined,
                "lastLogin": user.last_login,
            }
        )


class CeilingView(APIView):
    """The fastest this stack answers: no authentication, no database."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [
    path("api/token/", TokenObtainPairView.as_view(), name="token_obtain_pair"),
    path("api/token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    path("me/", MeView.as_view(), name="me"),
    path("ceiling/", CeilingView.as_view(), name="ceiling"),
]
