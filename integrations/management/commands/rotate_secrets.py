"""Re-encrypt every stored secret with the first key in FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from integrations import secrets
from integrations.models import Integration


class Command(BaseCommand):
    help = (
        "Re-encrypt all integration secrets with the first FIELD_ENCRYPTION_KEYS key, so older "
        "keys can then be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = 0
        with transaction.atomic():
            rows = Integration.objects.select_for_update().exclude(encrypted_secrets="")
            for integration in rows.only("pk", "encrypted_secrets"):
                integration.encrypted_secrets = secrets.rotate(integration.encrypted_secrets)
                integration.save(update_fields=["encrypted_secrets"])
                rotated += 1
        self.stdout.write(
            self.style.SUCCESS(f"Re-encrypted the secrets of {rotated} integrations.")
        )
