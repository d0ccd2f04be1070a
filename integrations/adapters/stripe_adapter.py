"""Stripe's adapter; kept at this path for `integrations.adapters` (see the `stripe` package)."""

from __future__ import annotations

from integrations.adapters.stripe.adapter import StripeAdapter

__all__ = ["StripeAdapter"]
