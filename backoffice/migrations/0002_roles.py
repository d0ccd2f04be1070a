"""Create the Administrators and Sales groups with their permissions (see backoffice.roles)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_PERMISSIONS = {
    "Administrators": [
        "backoffice.access_backoffice",
        "backoffice.view_auditentry",
        "backoffice.view_paymentterm",
        "backoffice.add_paymentterm",
        "backoffice.change_paymentterm",
        "integrations.view_integration",
        "integrations.add_integration",
        "integrations.change_integration",
        "integrations.delete_integration",
        "rules.view_paymentrule",
        "rules.add_paymentrule",
        "rules.change_paymentrule",
        "rules.delete_paymentrule",
    ],
    "Sales": [
        "backoffice.access_backoffice",
        "backoffice.view_paymentterm",
        "integrations.view_integration",
        "rules.view_paymentrule",
    ],
}


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations ran; create them now to assign them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, codes in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        for code in codes:
            app_label, codename = code.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUP_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0001_initial"),
        ("integrations", "0001_initial"),
        ("rules", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
