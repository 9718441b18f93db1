"""The Support group: view accounts, their devices and events, and run the support actions.

Least privilege: no change, add or delete permission on any model, so a support member
cannot edit staff or superuser flags, groups or permissions, and sees devices only through
the read-only admin that never shows a secret.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPPORT_GROUP = "Support"

# (app label, model, codename)
SUPPORT_PERMISSIONS = [
    ("accounts", "user", "view_user"),
    ("accounts", "securityevent", "view_securityevent"),
    ("accounts", "user", "block_user"),
    ("accounts", "user", "unlock_user"),
    ("accounts", "user", "reset_mfa"),
    ("accounts", "user", "revoke_tokens"),
    ("accounts", "user", "resend_email_verification"),
    ("otp", "smsdevice", "view_smsdevice"),
    ("otp_totp", "totpdevice", "view_totpdevice"),
    ("otp_static", "staticdevice", "view_staticdevice"),
]


def support_group_create(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate); create them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    permissions = [
        Permission.objects.get(
            content_type__app_label=app_label, content_type__model=model, codename=codename
        )
        for app_label, model, codename in SUPPORT_PERMISSIONS
    ]
    group.permissions.set(permissions)


def support_group_delete(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=SUPPORT_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_support_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("otp", "0001_initial"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(support_group_create, support_group_delete)]
