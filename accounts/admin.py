"""Support staff's view of accounts (the full admin arrives with the support issue)."""

from __future__ import annotations

from django.contrib import admin

from .models import SecurityEvent, User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["email", "status", "email_verified_at", "last_login"]
    search_fields = ["email"]
    list_filter = ["status"]
    fields = ["email", "status", "locked_until", "is_staff", "is_active", "last_login", "last_login_device"]
    readonly_fields = ["last_login", "last_login_device"]


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "type", "actor", "ip_address"]
    list_select_related = ["user"]
