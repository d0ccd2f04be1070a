"""Print a new key for FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from integrations import secrets


class Command(BaseCommand):
    help = "Print a new Fernet key to put first in FIELD_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(secrets.generate_key())
