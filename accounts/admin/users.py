"""The user's admin page: account, factors, sessions, support actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db.models import Count, IntegerField, ManyToManyField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django_otp.plugins.otp_static.models import StaticToken

from accounts.admin.lists import (
    ClosedFilter,
    EmailVerifiedFilter,
    FastListMixin,
    HasPhoneFilter,
    HasTotpFilter,
)
from accounts.admin.sessions import TrustedDeviceInline, UserSessionInline
from accounts.admin.support_actions import SUPPORT_ACTIONS, SupportActionMixin
from accounts.models import User
from otp import services as otp_services
from otp.admin import PasskeyInline, RecoveryCodesInline, SmsDeviceInline, TotpDeviceInline
from otp.phone_numbers import phone_search_forms

# Only superusers may change these: nobody else can grant staff, groups or permissions.
STAFF_ACCESS_FIELDS = ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]
USER_FIELDSETS = [
    (
        "Account",
        {
            "fields": [
                "email",
                "account_status",
                "locked_until",
                "date_joined",
                "email_verified_at",
                "pending_email",
                "pending_email_until",
                "password_changed_at",
                "password_compromised_at",
                "password_checked_at",
                "closed_at",
                "frozen_at",
                "security_changed_at",
                "security_events",
            ]
        },
    ),
    (
        "Second factors",
        {
            "fields": [
                "totp_verified_at",
                "phone_verified_at",
                "recovery_codes_left",
                "otp_failure_count",
                "otp_last_failure_at",
                "mfa_reset_due_at",
            ]
        },
    ),
    ("Last login", {"fields": ["last_login", "last_login_device"]}),
    ("Staff access", {"fields": STAFF_ACCESS_FIELDS}),
]


@admin.register(User)
class UserAdmin(SupportActionMixin, FastListMixin, admin.ModelAdmin):
    list_display = [
        "email",
        "account_status",
        "totp",
        "phone",
        "recovery_codes_left",
        "last_login",
        "last_login_device_short",
    ]
    list_filter = ["status", HasTotpFilter, HasPhoneFilter, EmailVerifiedFilter, ClosedFilter]
    list_select_related = ["sms_device"]
    search_fields = ["email"]
    search_help_text = (
        "An email, or its beginning; or a phone number as the user says it (+34 612 34 56 78, 612345678)."
    )
    ordering = ["-pk"]
    inlines = [
        PasskeyInline,
        TotpDeviceInline,
        SmsDeviceInline,
        RecoveryCodesInline,
        UserSessionInline,
        TrustedDeviceInline,
    ]
    actions = list(SUPPORT_ACTIONS)
    filter_horizontal = ["groups", "user_permissions"]
    fieldsets = USER_FIELDSETS
    readonly_fields = [
        field
        for _, options in USER_FIELDSETS
        for field in options["fields"]
        if field not in STAFF_ACCESS_FIELDS
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        recovery_codes = (
            StaticToken.objects.filter(
                device__user=OuterRef("pk"), device__name=otp_services.RECOVERY_DEVICE_NAME
            )
            .order_by()
            .values("device__user")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                recovery_codes_count=Coalesce(Subquery(recovery_codes, output_field=IntegerField()), Value(0))
            )
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[User], search_term: str
    ) -> tuple[QuerySet[User], bool]:
        """A phone number in any format matches the E.164 number of the phone; anything else an email prefix.

        Both use an index: the phone's number, and the email's LIKE index (emails are stored lower-cased).
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        numbers = phone_search_forms(term)
        if numbers:
            return queryset.filter(sms_device__number__in=numbers), False
        return queryset.filter(email__startswith=term.lower()), False

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> list[str]:
        if request.user.is_superuser:
            return self.readonly_fields
        return [*self.readonly_fields, *STAFF_ACCESS_FIELDS]

    def formfield_for_manytomany(
        self, db_field: ManyToManyField, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelMultipleChoiceField | None:
        if db_field.name == "user_permissions":
            # A permission's label names its content type: one query, not one per permission.
            kwargs["queryset"] = Permission.objects.select_related("content_type")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # accounts come from sign-up; `createsuperuser` makes the first staff member

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    # --- columns

    @admin.display(description="status", ordering="status")
    def account_status(self, user: User) -> str:
        label = User.Status(user.effective_status()).label
        return f"{label}, closed" if user.is_closed else label

    @admin.display(description="TOTP", boolean=True)
    def totp(self, user: User) -> bool:
        return user.totp_verified_at is not None

    @admin.display(description="phone")
    def phone(self, user: User) -> str:
        device = getattr(user, "sms_device", None)
        if device is None:
            return "-"
        return device.number if user.phone_verified_at else f"{device.number} (not verified)"

    @admin.display(description="recovery codes left")
    def recovery_codes_left(self, user: User) -> int:
        return user.recovery_codes_count

    @admin.display(description="last login device")
    def last_login_device_short(self, user: User) -> str:
        device = user.last_login_device
        return device if len(device) <= 60 else f"{device[:57]}..."

    @admin.display(description="security events")
    def security_events(self, user: User) -> str:
        url = reverse("admin:accounts_securityevent_changelist") + f"?user__id__exact={user.pk}"
        return format_html('<a href="{}">Security events of this account</a>', url)

    # --- support actions: each asks for a reason on a confirmation page

    def has_block_user_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.block_user")

    def has_freeze_user_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.freeze_user")

    def has_unlock_user_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.unlock_user")

    def has_reset_mfa_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.reset_mfa")

    def has_revoke_tokens_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.revoke_tokens")

    def has_resend_email_verification_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.resend_email_verification")

    def has_reopen_user_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.reopen_user")

    @admin.action(description="Reopen the selected closed accounts", permissions=["reopen_user"])
    def reopen(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        return self.support_action_run(request, queryset, SUPPORT_ACTIONS["reopen"])

    @admin.action(description="Block the selected accounts", permissions=["block_user"])
    def block(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        return self.support_action_run(request, queryset, SUPPORT_ACTIONS["block"])

    @admin.action(description="Unblock the selected accounts", permissions=["block_user"])
    def unblock(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        return self.support_action_run(request, queryset, SUPPORT_ACTIONS["unblock"])

    @admin.action(description="Freeze the selected accounts", permissions=["freeze_user"])
    def freeze(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        return self.support_action_run(request, queryset, SUPPORT_ACTIONS["freeze"])

    @admin.action(description="Unfreeze the selected accounts", permissions=["freeze_user"])
    def unfreeze(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        return self.support_action_run(request, queryset, SUPPORT_ACTIONS["unfreeze"])

    @admin.action(description="Unlock the selected accounts", permissions=["unlock_user"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        return self.support_action_run(request, queryset, SUPPORT_ACTIONS["unlock"])

    @admin.action(
        description="Schedule a reset of the second factors of the selected accounts",
        permissions=["reset_mfa"],
    )
    def reset_mfa(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        return self.support_action_run(request, queryset, SUPPORT_ACTIONS["reset_mfa"])

    @admin.action(description="Sign the selected accounts out everywhere", permissions=["revoke_tokens"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        return self.support_action_run(request, queryset, SUPPORT_ACTIONS["revoke_tokens"])

    @admin.action(
        description="Resend the email verification code to the selected accounts",
        permissions=["resend_email_verification"],
    )
    def resend_email_verification(
        self, request: HttpRequest, queryset: QuerySet[User]
    ) -> HttpResponse | None:
        return self.support_action_run(request, queryset, SUPPORT_ACTIONS["resend_email_verification"])
