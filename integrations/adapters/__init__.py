"""Provider adapters: one per integration type with a remote API, plus the offline one."""

from __future__ import annotations

from django.conf import settings

from integrations.adapters.authorize_net import AuthorizeNetAdapter
from integrations.adapters.base import AdapterConfig, EnvironmentRefused, PaymentAdapter
from integrations.adapters.offline import OfflineAdapter
from integrations.adapters.payflow import PayflowAdapter
from integrations.adapters.paypal_express import PayPalExpressAdapter
from integrations.adapters.stripe_adapter import StripeAdapter
from integrations.models import Integration
from integrations.types import Environment, IntegrationType, environment_refusal

ADAPTERS: dict[str, type[PaymentAdapter]] = {
    IntegrationType.STRIPE: StripeAdapter,
    IntegrationType.PAYPAL_EXPRESS: PayPalExpressAdapter,
    IntegrationType.PAYFLOW_GATEWAY: PayflowAdapter,
    IntegrationType.PAYMENTS_PRO: PayflowAdapter,
    IntegrationType.AUTHORIZE_NET: AuthorizeNetAdapter,
}

# Kept apart from ADAPTERS: `has_remote_api()` (and with it "Check connection") reads only those.
OFFLINE_ADAPTERS: dict[str, type[PaymentAdapter]] = {
    IntegrationType.MONEY_ORDER: OfflineAdapter,
    IntegrationType.PAYMENT_TERM: OfflineAdapter,
}


def has_remote_api(integration: Integration) -> bool:
    return integration.type in ADAPTERS


def adapter_class_for(integration_type: str) -> type[PaymentAdapter] | None:
    """The adapter class, for reading `supports` without building an adapter (no secrets)."""
    return ADAPTERS.get(integration_type) or OFFLINE_ADAPTERS.get(integration_type)


def takes_payments_for(integration_type: str, method_kind: str) -> bool:
    """Whether the adapter of `integration_type` can take payments for methods of `method_kind`."""
    adapter_class = adapter_class_for(integration_type)
    if adapter_class is None:
        return False
    kinds = adapter_class.method_kinds
    return kinds is None or method_kind in kinds


def takes_currency(integration_type: str, currency: str) -> bool:
    """Whether the adapter of `integration_type` may take payments in `currency` at all."""
    adapter_class = adapter_class_for(integration_type)
    return adapter_class is None or currency.upper() not in adapter_class.refused_currencies


def adapter_for(integration: Integration) -> PaymentAdapter:
    """Build the adapter from the row as it is now, so edits take effect at once.

    Raises EnvironmentRefused for an integration this deployment forbids: services refuse such
    integrations first with their own message; this is the floor under every path that reaches
    a provider (a sandbox row left over after a deployment became production, say).
    """
    refusal = environment_refusal(integration.environment)
    if refusal:
        raise EnvironmentRefused(f"{integration.name}: {refusal} Nothing was sent to the provider.")
    adapter_class = adapter_class_for(integration.type)
    if adapter_class is None:
        raise LookupError(f"No adapter for integration type {integration.type!r}.")
    base_url = integration.settings.get("api_base_url") or None
    config = AdapterConfig(
        settings=dict(integration.settings),
        secrets=integration.get_secrets(),
        sandbox=integration.environment == Environment.SANDBOX,
        timeout_seconds=settings.PROVIDER_TIMEOUT_SECONDS,
        # An endpoint override is for local simulators only, never in production.
        api_base_url=None if settings.IS_PRODUCTION else base_url,
    )
    return adapter_class(config)
