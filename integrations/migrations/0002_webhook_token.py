"""Every integration gets its own unguessable webhook token (existing rows too)."""

from django.db import migrations, models

import integrations.models


def fill_tokens(apps, schema_editor):  # type: ignore[no-untyped-def]
    Integration = apps.get_model("integrations", "Integration")
    for integration in Integration.objects.filter(webhook_token="").only("pk"):
        integration.webhook_token = integrations.models.new_webhook_token()
        integration.save(update_fields=["webhook_token"])


class Migration(migrations.Migration):
    dependencies = [("integrations", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="integration",
            name="webhook_token",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(fill_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="integration",
            name="webhook_token",
            field=models.CharField(
                default=integrations.models.new_webhook_token, max_length=64, unique=True
            ),
        ),
    ]
