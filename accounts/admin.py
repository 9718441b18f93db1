"""Support staff's admin: accounts, their audit trail, and the support actions, behind a second factor.

The default admin site becomes a `SupportAdminSite`: with `ADMIN_REQUIRE_OTP` (production
and tests) only a session verified by a second factor gets in, and the login form checks
password and code through the same services as the API (throttles, lockout, audit trail).
Lists stay fast on a million accounts: no full count, indexed search, no query per row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.sites import AdminSite
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, ManyToManyField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django_otp.admin import OTPAdminSite
from django_otp.plugins.otp_static.models import StaticToken

from otp import services as otp_services
from otp.admin import PasskeyInline, RecoveryCodesInline, SmsDeviceInline, TotpDeviceInline
from otp.phone_numbers import phone_search_forms

from . import services, support
from .account_state import account_may_authenticate
from .admin_sessions import TrustedDeviceInline, UserSessionInline
from .client import client_from
from .errors import ErrorCode, ServiceError
from .models import MfaResetRequest, SecurityEvent, User
from .selectors import second_factor_device

# --- the site: a second factor for staff ----------------------------------------------------


class AdminLoginForm(AdminAuthenticationForm):
    """Email, password and, when `ADMIN_REQUIRE_OTP`, a code from the staff member's own factor."""

    otp_token = forms.CharField(
        label="Code",
        required=False,
        max_length=32,
        help_text="From your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not settings.ADMIN_REQUIRE_OTP:
            del self.fields["otp_token"]

    def clean(self) -> dict[str, Any]:
        email, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not email or not password:
            return self.cleaned_data
        client = client_from(self.request)
        try:
            user = services.login_password_verify(email=email, password=password, client=client)
            if not user.is_staff:
                # The same answer as a wrong password: the admin does not confirm passwords.
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(user)
            method = self._second_factor_verify(user) if settings.ADMIN_REQUIRE_OTP else None
        except ServiceError as error:
            if error.code == ErrorCode.AUTHENTICATION_FAILED:
                raise self.get_invalid_login_error() from error
            raise ValidationError(error.detail, code=str(error.code)) from error
        services.login_record(user=user, method=method, client=client)
        if method is not None:
            # Picked up by django-otp when Django logs the user in: the session is verified.
            user.otp_device = second_factor_device(user, method)
        self.user_cache = user
        return self.cleaned_data

    def _second_factor_verify(self, user: User) -> otp_services.Method:
        if not user.has_second_factor:
            raise ValidationError(
                "Set up an authenticator app on your account before using the admin.",
                code=ErrorCode.MFA_NOT_ENABLED,
            )
        code = self.cleaned_data.get("otp_token", "").strip()
        if not code:
            raise ValidationError(
                "Enter the code from your authenticator app, or a recovery code.", code=ErrorCode.OTP_REQUIRED
            )
        return otp_services.login_second_factor_verify(user=user, code=code, client=client_from(self.request))


class SupportAdminSite(OTPAdminSite):
    """django-otp's admin site, whose second-factor rule `ADMIN_REQUIRE_OTP` may relax locally."""

    site_header = "Support"
    login_form = AdminLoginForm
    login_template = "admin/accounts/login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        if request.user.is_authenticated and not account_may_authenticate(request.user):
            return False
        if settings.ADMIN_REQUIRE_OTP:
            return super().has_permission(request)
        return AdminSite.has_permission(self, request)

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        super().register(model_or_iterable, lookups_allow_listed(admin_class or admin.ModelAdmin), **options)

    def password_change(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Staff change their password on the account pages, with step-up, audit trail and email."""
        return redirect("account:password-change")


# --- filters: only those the admin offers ----------------------------------------------------

# The lookups Django's own list filters put in the URL for a field they filter on.
LIST_FILTER_LOOKUPS = frozenset({"exact", "isnull", "gte", "gt", "lt", "lte", "id__exact", "in"})


class AllowListedLookupsMixin:
    """Accept in the URL only the filters `list_filter` offers.

    Django's default accepts any lookup on a model's own fields, so
    `?password__startswith=...` would tell, by the count of results, a password hash (or a
    secret, or a code's hash) one character at a time. An admin may name more in
    `extra_allowed_lookups`.
    """

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return self.lookup_offered(lookup, request) and super().lookup_allowed(lookup, value, request)

    def lookup_offered(self, lookup: str, request: HttpRequest | None) -> bool:
        if lookup in getattr(self, "extra_allowed_lookups", ()):
            return True
        for item in self.get_list_filter(request):
            if isinstance(item, type) and issubclass(item, admin.SimpleListFilter):
                if lookup == item.parameter_name:
                    return True
                continue
            field = item[0] if isinstance(item, tuple | list) else item
            if lookup.startswith(f"{field}__") and lookup.removeprefix(f"{field}__") in LIST_FILTER_LOOKUPS:
                return True
        return False


def lookups_allow_listed(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    """`admin_class` with `AllowListedLookupsMixin` in front, unless it has it already."""
    if issubclass(admin_class, AllowListedLookupsMixin):
        return admin_class
    return type(admin_class.__name__, (AllowListedLookupsMixin, admin_class), {})


# Every app registers on the default site; giving it this class keeps those registrations, and
# those made before (Django's own, django-otp's) get the allow-list too.
admin.site.__class__ = SupportAdminSite
for _model_admin in admin.site._registry.values():
    _model_admin.__class__ = lookups_allow_listed(_model_admin.__class__)


# --- lists that stay fast on a million rows -------------------------------------------------

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most `COUNT_CAP` + 1 rows: an exact count of a huge table is a full scan."""

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by().values("pk")[: COUNT_CAP + 1].count()

    @property
    def is_capped(self) -> bool:
        return self.count > COUNT_CAP


class FastListMixin:
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50


# --- users ------------------------------------------------------------------------------------


class PresenceFilter(admin.SimpleListFilter):
    """Yes / no on whether a date field is set."""

    field_name: str

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if self.value() not in ("yes", "no"):
            return queryset
        return queryset.filter(**{f"{self.field_name}__isnull": self.value() == "no"})


class HasTotpFilter(PresenceFilter):
    title = "authenticator app"
    parameter_name = "has_totp"
    field_name = "totp_verified_at"


class HasPhoneFilter(PresenceFilter):
    title = "verified phone"
    parameter_name = "has_phone"
    field_name = "phone_verified_at"


class EmailVerifiedFilter(PresenceFilter):
    title = "email verified"
    parameter_name = "email_verified"
    field_name = "email_verified_at"


class SupportReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded in the audit trail, which the user can read in their security history.",
    )


@dataclass(frozen=True)
class SupportAction:
    name: str
    title: str
    explanation: str
    service: Callable[..., User]


SUPPORT_ACTIONS = {
    action.name: action
    for action in [
        SupportAction(
            "block",
            "Block accounts",
            "Blocked accounts cannot log in, and every session and token they have stops working.",
            support.account_block,
        ),
        SupportAction(
            "unblock", "Unblock accounts", "The accounts can log in again.", support.account_unblock
        ),
        SupportAction(
            "freeze",
            "Freeze accounts",
            "As if the owner froze it: every session and token stops working, no device is trusted, and "
            "nobody can log in until the owner resets the password (or support unfreezes it).",
            support.account_freeze,
        ),
        SupportAction(
            "unfreeze",
            "Unfreeze accounts",
            "The accounts can log in again with their password and second factor, without a password reset. "
            "Only do this once you are sure who you are talking to.",
            support.account_unfreeze,
        ),
        SupportAction(
            "unlock",
            "Unlock accounts",
            "Lifts the lock and clears the failed password and code attempts.",
            support.account_unlock,
        ),
        SupportAction(
            "reset_mfa",
            "Reset second factors",
            "Schedules the removal of the authenticator app, the phone and the recovery codes, and "
            "the sign-out of every app of the accounts: it happens by itself once the delay "
            "(SUPPORT_MFA_RESET_DELAY_SECONDS) has passed, unless the user or support cancels it. "
            "Only do this once you are sure who you are talking to.",
            support.mfa_reset_schedule,
        ),
        SupportAction(
            "mfa_reset_cancel",
            "Cancel scheduled MFA resets",
            "The second factors stay as they are.",
            support.mfa_reset_cancel,
        ),
        SupportAction(
            "mfa_reset_now",
            "Reset second factors now",
            "Applies the scheduled resets at once, without waiting for their due time: the factors are "
            "removed and every app of the accounts is signed out.",
            support.mfa_reset_now,
        ),
        SupportAction(
            "revoke_tokens",
            "Sign out everywhere",
            "Every token the apps of the accounts hold stops working: they must log in again.",
            support.tokens_revoke,
        ),
        SupportAction(
            "resend_email_verification",
            "Resend email verification",
            "A new verification code is emailed to each account.",
            support.email_verification_resend,
        ),
    ]
}
# Support actions work on a handful of accounts, never on a whole filtered list by mistake.
SUPPORT_ACTION_MAX_ACCOUNTS = 50


class SupportActionMixin:
    """Support actions in an admin list: each asks for a reason on a confirmation page."""

    def support_action_run(
        self,
        request: HttpRequest,
        queryset: QuerySet[User],
        action: SupportAction,
        *,
        selected: list[Any] | None = None,
    ) -> HttpResponse | None:
        """Ask for the reason; once given, run the action's service on each account, one transaction each.

        `selected` are the admin's rows the action was chosen for, when they are not the accounts.
        """
        accounts = list(queryset.order_by("pk")[: SUPPORT_ACTION_MAX_ACCOUNTS + 1])
        if len(accounts) > SUPPORT_ACTION_MAX_ACCOUNTS:
            self.message_user(
                request,
                f"Select at most {SUPPORT_ACTION_MAX_ACCOUNTS} accounts for a support action.",
                messages.ERROR,
            )
            return None
        form = SupportReasonForm(request.POST if request.POST.get("confirm") == "yes" else None)
        if not form.is_valid():
            selected = selected if selected is not None else [account.pk for account in accounts]
            return self._support_action_confirmation(request, action, accounts, form, selected)
        refusals = []
        for account in accounts:
            try:
                action.service(
                    user=account,
                    staff_member=request.user,
                    reason=form.cleaned_data["reason"],
                    client=client_from(request),
                )
            except ServiceError as error:
                refusals.append(f"{account.email}: {error.detail}")
        done = len(accounts) - len(refusals)
        if done:
            self.message_user(request, f"{action.title}: done for {done} account(s).", messages.SUCCESS)
        if refusals:
            self.message_user(
                request, f"{action.title}: not done for " + "; ".join(refusals), messages.WARNING
            )
        return None

    def _support_action_confirmation(
        self,
        request: HttpRequest,
        action: SupportAction,
        accounts: list[User],
        form: SupportReasonForm,
        selected: list[Any],
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": action.title,
            "opts": self.model._meta,
            "action": action,
            "accounts": accounts,
            "selected": selected,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/accounts/user/support_action_confirmation.html", context)


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
                "password_changed_at",
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
    list_filter = ["status", HasTotpFilter, HasPhoneFilter, EmailVerifiedFilter]
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
        return User.Status(user.effective_status()).label

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
