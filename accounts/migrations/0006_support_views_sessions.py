"""The Support group sees sessions and trusted devices (read-only) on the user's admin page."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPPORT_GROUP = "Support"
VIEW_PERMISSIONS = [("accounts", "usersession", "view_usersession"), ("accounts", "trusteddevice", "view_trusteddevice")]


def support_views_grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    for app_label, model, codename in VIEW_PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, content_type__model=model, codename=codename)
        )


def support_views_revoke(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name=SUPPORT_GROUP).first()
    if group is not None:
        group.permissions.remove(*group.permissions.filter(codename__in=[c for _, _, c in VIEW_PERMISSIONS]))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_sessions_and_trusted_devices")]

    operations = [migrations.RunPython(support_views_grant, support_views_revoke)]
