"""Read-only inlines of the user's admin page: live sessions and trusted devices (no token, no hash)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import TrustedDevice, User, UserSession


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return False


class UserSessionInline(ReadOnlyInline):
    """Where the user is signed in; "sign out everywhere" ends every one of them."""

    model = UserSession
    verbose_name = "session"
    verbose_name_plural = "sessions (live)"
    fields = readonly_fields = ["kind", "device", "ip", "created_at", "last_used_at", "amr", "expires_at"]
    ordering = ["-created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[UserSession]:
        return super().get_queryset(request).live()


class TrustedDeviceInline(ReadOnlyInline):
    model = TrustedDevice
    verbose_name = "trusted device"
    verbose_name_plural = "trusted devices (live)"
    fields = readonly_fields = ["device", "created_at", "last_used_at", "expires_at"]
    ordering = ["-created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TrustedDevice]:
        return super().get_queryset(request).live()
