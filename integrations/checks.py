"""System checks: configuration mistakes that must not reach production unnoticed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.db import DatabaseError


@register()
def encryption_keys_check(**kwargs: Any) -> list[Error]:
    from integrations import secrets

    try:
        secrets._cipher()
    except Exception as error:
        return [Error(str(error), id="integrations.E001", hint="Set FIELD_ENCRYPTION_KEYS.")]
    return []


@register()
def active_integrations_match_deployment_check(**kwargs: Any) -> list[Warning]:
    """Report active integrations whose environment this deployment forbids."""
    from integrations.models import Integration
    from integrations.types import Environment

    forbidden = Environment.SANDBOX if settings.IS_PRODUCTION else Environment.LIVE
    try:
        names = list(
            Integration.objects.alive()
            .filter(is_active=True, environment=forbidden)
            .values_list("name", flat=True)[:20]
        )
    except DatabaseError:
        return []  # no tables yet (before the first migrate)
    if not names:
        return []
    deployment = "production" if settings.IS_PRODUCTION else "sandbox"
    return [
        Warning(
            f"Active {forbidden} integrations in a {deployment} deployment: {', '.join(names)}. "
            "They are never offered at checkout.",
            hint="Deactivate them, or give them credentials for this deployment.",
            id="integrations.W001",
        )
    ]
