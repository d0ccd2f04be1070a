"""Stripe: Stripe.js in the buyer's browser, PaymentIntents and refunds through `stripe`."""

from __future__ import annotations

from integrations.adapters.stripe.adapter import StripeAdapter

__all__ = ["StripeAdapter"]
