"""Give the Administrators and Sales groups the payment permissions (see backoffice.roles)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_PERMISSIONS = {
    "Administrators": [
        "payments.view_payment_history",
        "payments.capture_payment",
        "payments.cancel_payment",
        "payments.refund_payment",
    ],
    "Sales": [
        "payments.view_payment_history",
        "payments.capture_payment",
        "payments.cancel_payment",
        "payments.refund_payment",
    ],
}


def grant(apps, schema_editor):
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


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, codes in GROUP_PERMISSIONS.items():
        group = Group.objects.filter(name=group_name).first()
        if group is None:
            continue
        for code in codes:
            app_label, codename = code.split(".")
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0003_orders"),
        ("payments", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
