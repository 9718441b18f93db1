"""Serializers shared by every door that issues tokens: the token pair, a WebAuthn assertion, a detail."""

from __future__ import annotations

from rest_framework import serializers

REFRESH_TOKEN_MAX_LENGTH = 4096


class WebAuthnAssertionSerializer(serializers.Serializer):
    """`{challengeId, credential}`: the answer of `navigator.credentials.get()` as `toJSON()` gives it."""

    challengeId = serializers.CharField(max_length=64)
    credential = serializers.DictField(help_text="PublicKeyCredential.toJSON()")


class TokensSerializer(serializers.Serializer):
    idToken = serializers.CharField()
    refreshToken = serializers.CharField()


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class RefreshTokenInputSerializer(serializers.Serializer):
    refreshToken = serializers.CharField(max_length=REFRESH_TOKEN_MAX_LENGTH)
