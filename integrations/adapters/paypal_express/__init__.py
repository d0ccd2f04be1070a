"""PayPal Express over PayPal's REST API v1 (Payments), through `paypalrestsdk`."""

from __future__ import annotations

from integrations.adapters.paypal_express.adapter import PayPalExpressAdapter

__all__ = ["PayPalExpressAdapter"]
