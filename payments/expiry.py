"""How long a provider keeps an authorization hold: the one table the ledger and pages read."""

from __future__ import annotations

from datetime import datetime, timedelta

from integrations.types import IntegrationType

AUTHORIZATION_LIFETIMES: dict[str, timedelta] = {
    IntegrationType.STRIPE: timedelta(days=7),
    IntegrationType.AUTHORIZE_NET: timedelta(days=30),
    IntegrationType.PAYPAL_EXPRESS: timedelta(days=29),
    IntegrationType.PAYFLOW_GATEWAY: timedelta(days=30),
    IntegrationType.PAYMENTS_PRO: timedelta(days=30),
}


def authorization_expires_at(provider_type: str, authorized_at: datetime) -> datetime | None:
    """When an authorization made at `authorized_at` lapses; None for a provider without a limit."""
    lifetime = AUTHORIZATION_LIFETIMES.get(provider_type)
    return authorized_at + lifetime if lifetime is not None else None


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and now >= expires_at
