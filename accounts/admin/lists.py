"""Admin change lists that stay fast and safe on a million users: allow-listed lookups, a capped count, filters."""

from __future__ import annotations

from functools import cached_property

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User

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


class ClosedFilter(PresenceFilter):
    title = "closed by its owner"
    parameter_name = "closed"
    field_name = "closed_at"
