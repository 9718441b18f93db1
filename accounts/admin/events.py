"""The security audit trail in the admin, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.admin.lists import FastListMixin
from accounts.models import SecurityEvent

# --- the audit trail ---------------------------------------------------------------------------


@admin.register(SecurityEvent)
class SecurityEventAdmin(FastListMixin, admin.ModelAdmin):
    """Read-only: the trail is written by services only."""

    list_display = ["created_at", "user", "type", "actor", "staff_member", "ip_address", "details"]
    list_filter = ["type", "actor"]
    list_select_related = ["user", "staff_member"]
    search_fields = ["user__email"]
    search_help_text = "The account's email, exactly."
    # The primary key follows time and is indexed; a global sort on created_at is not.
    ordering = ["-pk"]
    fields = ["created_at", "user", "type", "actor", "staff_member", "ip_address", "user_agent", "details"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[SecurityEvent], search_term: str
    ) -> tuple[QuerySet[SecurityEvent], bool]:
        term = search_term.strip().lower()
        return (queryset.filter(user__email=term) if term else queryset), False

    # The link from an account's page; a filter listing every user would not scale.
    extra_allowed_lookups = frozenset({"user__id__exact"})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SecurityEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SecurityEvent | None = None) -> bool:
        return False
