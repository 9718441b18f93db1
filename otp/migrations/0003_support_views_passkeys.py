"""The Support group sees passkeys in the user's page too (read-only, like the other devices)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPPORT_GROUP = "Support"


def passkey_view_grant(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate); create them now.
    app_config = apps.get_app_config("otp")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(
        content_type__app_label="otp", content_type__model="webauthndevice", codename="view_webauthndevice"
    )
    for group in Group.objects.filter(name=SUPPORT_GROUP):
        group.permissions.add(permission)


def passkey_view_revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name=SUPPORT_GROUP):
        group.permissions.remove(*Permission.objects.filter(codename="view_webauthndevice"))


class Migration(migrations.Migration):
    dependencies = [
        ("otp", "0002_webauthn_passkeys"),
        ("accounts", "0003_support_group"),
    ]

    operations = [migrations.RunPython(passkey_view_grant, passkey_view_revoke)]
