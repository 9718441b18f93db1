"""Scheduled MFA resets in the admin: see them, cancel or apply now."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from accounts.admin.lists import FastListMixin
from accounts.admin.support_actions import SUPPORT_ACTION_MAX_ACCOUNTS, SUPPORT_ACTIONS, SupportActionMixin
from accounts.models import MfaResetRequest, User

# --- scheduled MFA resets ----------------------------------------------------------------------


@admin.register(MfaResetRequest)
class MfaResetRequestAdmin(SupportActionMixin, FastListMixin, admin.ModelAdmin):
    """Read-only: resets are scheduled from the accounts list; cancelled or applied at once from here."""

    list_display = [
        "user",
        "state",
        "due_at",
        "requested_at",
        "requested_by",
        "reason",
        "cancelled_at",
        "done_at",
    ]
    list_filter = ["state"]
    list_select_related = ["user", "requested_by"]
    search_fields = ["user__email"]
    search_help_text = "The account's email, exactly."
    ordering = ["-pk"]
    fields = [
        "user",
        "state",
        "requested_by",
        "requested_at",
        "due_at",
        "reason",
        "cancelled_at",
        "cancelled_by",
        "cancel_reason",
        "done_at",
    ]
    readonly_fields = fields
    actions = ["mfa_reset_cancel", "mfa_reset_now"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[MfaResetRequest], search_term: str
    ) -> tuple[QuerySet[MfaResetRequest], bool]:
        term = search_term.strip().lower()
        return (queryset.filter(user__email=term) if term else queryset), False

    def has_view_permission(self, request: HttpRequest, obj: MfaResetRequest | None = None) -> bool:
        # Whoever may schedule a reset sees the scheduled ones.
        return request.user.has_perm("accounts.reset_mfa") or super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: MfaResetRequest | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: MfaResetRequest | None = None) -> bool:
        return False

    def has_reset_mfa_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.reset_mfa")

    def has_reset_mfa_now_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.reset_mfa_now")

    def _accounts_of(self, queryset: QuerySet[MfaResetRequest]) -> QuerySet[User]:
        return User.objects.filter(pk__in=queryset.values("user_id"))

    @admin.action(description="Cancel the selected scheduled resets", permissions=["reset_mfa"])
    def mfa_reset_cancel(
        self, request: HttpRequest, queryset: QuerySet[MfaResetRequest]
    ) -> HttpResponse | None:
        return self.support_action_run(
            request,
            self._accounts_of(queryset),
            SUPPORT_ACTIONS["mfa_reset_cancel"],
            selected=list(queryset.values_list("pk", flat=True)[: SUPPORT_ACTION_MAX_ACCOUNTS + 1]),
        )

    @admin.action(description="Reset now, without waiting", permissions=["reset_mfa_now"])
    def mfa_reset_now(self, request: HttpRequest, queryset: QuerySet[MfaResetRequest]) -> HttpResponse | None:
        return self.support_action_run(
            request,
            self._accounts_of(queryset),
            SUPPORT_ACTIONS["mfa_reset_now"],
            selected=list(queryset.values_list("pk", flat=True)[: SUPPORT_ACTION_MAX_ACCOUNTS + 1]),
        )
