"""Devices in the admin: read-only inlines of the user that never show a secret, a code or a hash.

django-otp registers admins for TOTP and static devices that can show the TOTP key, its
QR code and the stored recovery-code hashes; they are removed from the site.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from otp.models import SmsDevice, WebAuthnDevice

for device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(device_model):
        admin.site.unregister(device_model)


class ReadOnlyDeviceInline(admin.TabularInline):
    """Shown to whoever may view the device model; changed only through the support actions."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class TotpDeviceInline(ReadOnlyDeviceInline):
    model = TOTPDevice
    verbose_name = "authenticator app"
    verbose_name_plural = "authenticator app"
    fields = readonly_fields = ["name", "confirmed", "created_at", "last_used_at"]


class SmsDeviceInline(ReadOnlyDeviceInline):
    model = SmsDevice
    verbose_name = verbose_name_plural = "phone"
    fields = readonly_fields = ["number", "confirmed", "last_generated_timestamp"]


class RecoveryCodesInline(ReadOnlyDeviceInline):
    model = StaticDevice
    verbose_name = verbose_name_plural = "recovery codes"
    fields = readonly_fields = ["created_at", "last_used_at", "codes_left"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StaticDevice]:
        return super().get_queryset(request).annotate(codes_left_count=Count("token_set"))

    @admin.display(description="codes left")
    def codes_left(self, device: StaticDevice) -> int:
        return device.codes_left_count


class PasskeyInline(ReadOnlyDeviceInline):
    """Passkeys: what support needs to recognise one; the public key is of no use here."""

    model = WebAuthnDevice
    verbose_name = "passkey"
    verbose_name_plural = "passkeys"
    fields = readonly_fields = ["name", "created_at", "last_used_at", "aaguid", "backed_up"]
