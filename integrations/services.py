"""Writes to integrations: every change goes through here and into the audit trail."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from backoffice.audit import SECRET_CHANGED, SECRET_SET, audit_record
from integrations.adapters.base import ConnectionCheck
from integrations.methods import method_specs
from integrations.models import Integration, PaymentMethod
from integrations.types import environment_refusal
from rules.services import rules_lock_for_change

logger = logging.getLogger(__name__)


class IntegrationError(Exception):
    """A request about an integration that cannot be honoured; the message is for the user."""


def _sync_methods(integration: Integration) -> None:
    """Create or update the integration's payment methods; withdraw those it no longer yields."""
    specs = method_specs(
        type=integration.type,
        integration_id=integration.pk,
        name=integration.name,
        settings=integration.settings,
    )
    existing = {m.identifier: m for m in integration.methods.all()}
    for spec in specs:
        values = {
            "kind": spec.kind,
            "label": spec.label,
            "short_label": spec.short_label,
            "admin_label": spec.admin_label,
            "payment_action": spec.payment_action,
            "is_offered": True,
        }
        method = existing.pop(spec.identifier, None)
        if method is None:
            PaymentMethod.objects.create(
                integration=integration, identifier=spec.identifier, **values
            )
        elif any(getattr(method, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(method, key, value)
            method.save()
    # Methods the settings no longer yield keep their rows: rules and payments refer to them.
    PaymentMethod.objects.filter(pk__in=[m.pk for m in existing.values()]).update(is_offered=False)


@transaction.atomic
def integration_create(
    *,
    type: str,
    name: str,
    is_active: bool,
    environment: str,
    settings: dict[str, Any],
    secrets: dict[str, str],
    actor: User,
) -> Integration:
    """Create an integration and the payment methods it yields."""
    integration = Integration(
        type=type,
        name=name,
        is_active=is_active,
        environment=environment,
        settings=settings,
        owner=actor,
    )
    integration.set_secrets(secrets)
    integration.save()
    _sync_methods(integration)
    audit_record(
        actor=actor,
        action="integration.created",
        target=integration,
        changes={
            "type": integration.get_type_display(),
            "status": integration.status_label,
            "environment": integration.get_environment_display(),
            **{name: SECRET_SET for name in secrets},
        },
    )
    return integration


@transaction.atomic
def integration_update(
    *,
    integration: Integration,
    name: str,
    is_active: bool,
    environment: str,
    settings: dict[str, Any],
    secrets: dict[str, str],
    actor: User,
) -> Integration:
    """Apply edited settings; `secrets` holds only the secrets that were re-entered."""
    integration = Integration.objects.select_for_update().get(pk=integration.pk)
    changes: dict[str, Any] = {}
    if integration.name != name:
        changes["name"] = [integration.name, name]
    if integration.is_active != is_active:
        changes["status"] = [integration.status_label, "Active" if is_active else "Inactive"]
    if integration.environment != environment:
        changes["environment"] = [integration.environment, environment]
    for key in sorted(set(integration.settings) | set(settings)):
        before, after = integration.settings.get(key), settings.get(key)
        if before != after:
            changes[key] = [before, after]
    stored = integration.get_secrets()
    for key, value in secrets.items():
        if stored.get(key) != value:
            changes[key] = SECRET_CHANGED
    integration.name = name
    integration.is_active = is_active
    integration.environment = environment
    integration.settings = settings
    integration.set_secrets({**stored, **secrets})
    integration.save()
    _sync_methods(integration)
    if changes:
        audit_record(actor=actor, action="integration.updated", target=integration, changes=changes)
    return integration


@transaction.atomic
def integration_set_active(*, integration: Integration, active: bool, actor: User) -> Integration:
    """Activate or deactivate an integration; refuses to activate one this deployment forbids."""
    if not active:
        # Checkouts in flight finish first; later ones see the integration inactive.
        rules_lock_for_change()
    integration = Integration.objects.select_for_update().get(pk=integration.pk)
    if integration.is_deleted:
        raise IntegrationError("This integration has been deleted.")
    if integration.is_active == active:
        return integration
    if active:
        refusal = environment_refusal(integration.environment)
        if refusal:
            raise IntegrationError(refusal)
    integration.is_active = active
    integration.save(update_fields=["is_active", "updated_at"])
    audit_record(
        actor=actor,
        action="integration.activated" if active else "integration.deactivated",
        target=integration,
    )
    return integration


def integration_check_connection(*, integration: Integration) -> ConnectionCheck:
    """Make one harmless call to the provider with the stored credentials."""
    from integrations.adapters import adapter_for, has_remote_api

    if not has_remote_api(integration):
        return ConnectionCheck(ok=False, message="This integration has no remote API to check.")
    refusal = environment_refusal(integration.environment)
    if refusal:
        return ConnectionCheck(ok=False, message=f"Not checked. {refusal}")
    try:
        return adapter_for(integration).check_credentials()
    except Exception as error:
        # Only the exception's type is logged: SDK messages can quote the request.
        logger.exception(
            "check connection failed for integration %s (%s)", integration.pk, type(error).__name__
        )
        return ConnectionCheck(
            ok=False, message=f"Could not reach the provider: {type(error).__name__}"
        )
