"""The Support group may reopen a closed account (within ACCOUNT_CLOSED_RETENTION_DAYS)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPPORT_GROUP = "Support"
CODENAME = "reopen_user"


def support_reopen_grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    group.permissions.add(
        Permission.objects.get(content_type__app_label="accounts", content_type__model="user", codename=CODENAME)
    )


def support_reopen_revoke(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name=SUPPORT_GROUP).first()
    if group is not None:
        group.permissions.remove(*group.permissions.filter(codename=CODENAME))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0011_account_life")]

    operations = [migrations.RunPython(support_reopen_grant, support_reopen_revoke)]
