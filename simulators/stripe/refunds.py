"""Refunds: of a captured charge, partial or whole, never more than was captured."""

from __future__ import annotations

import time
from typing import Any

from simulators.stripe.payments import check_three_decimal
from simulators.stripe.wire import (
    StripeApiError,
    format_amount,
    integer_param,
    invalid,
    new_id,
)

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


class Refunds:
    """The refunds of one Stripe account, against its PaymentIntents' charges."""

    payment_intents: dict[str, dict[str, Any]]
    charges: dict[str, dict[str, Any]]

    def __init__(self) -> None:
        self.refunds: dict[str, dict[str, Any]] = {}

    def _refund(self, params: dict[str, Any]) -> dict[str, Any]:
        for name in params:
            if name not in ("amount", "charge", "payment_intent", "reason", "metadata", "expand"):
                raise invalid(
                    f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
                )
        amount = integer_param(params, "amount", required=False)
        reason = params.get("reason")
        if reason is not None and reason not in REFUND_REASONS:
            raise invalid(
                f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}", param="reason"
            )
        charge = self._refundable_charge(params)
        currency = charge["currency"]
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        if remaining <= 0:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = remaining if amount is None else amount
        if amount == 0:
            raise invalid("Invalid positive integer", param="amount")
        check_three_decimal(amount, currency, "amount")
        if amount > remaining:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Refund amount ({format_amount(amount, currency)}) is greater than unrefunded "
                f"amount on charge ({format_amount(remaining, currency)})",
                code="amount_too_large",
                param="amount",
            )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        refund_id = new_id("re")
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "created": int(time.time()),
            "currency": currency,
            "metadata": params.get("metadata", {}),
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": "succeeded",
        }
        self.refunds[refund_id] = refund
        return dict(refund)

    def _list_refunds(self, params: dict[str, Any]) -> dict[str, Any]:
        """`GET /v1/refunds`, newest first, optionally of one charge or PaymentIntent."""
        found = [
            dict(refund)
            for refund in reversed(self.refunds.values())
            if all(
                params.get(name) in (None, refund[name]) for name in ("charge", "payment_intent")
            )
        ]
        limit = integer_param(params, "limit", required=False) or 10
        return {
            "object": "list",
            "data": found[:limit],
            "has_more": len(found) > limit,
            "url": "/v1/refunds",
        }

    def _refundable_charge(self, params: dict[str, Any]) -> dict[str, Any]:
        charge_id, intent_id = params.get("charge"), params.get("payment_intent")
        if bool(charge_id) == bool(intent_id):
            raise invalid(
                "You must pass either a charge or a payment_intent to create a refund.",
                code="parameter_missing",
            )
        if intent_id:
            intent = self.payment_intents.get(intent_id)
            if intent is None:
                raise invalid(
                    f"No such payment_intent: '{intent_id}'",
                    param="payment_intent",
                    code="resource_missing",
                )
            charge_id = intent["latest_charge"]
            if intent["status"] != "succeeded" or charge_id is None:
                raise StripeApiError(
                    400,
                    "invalid_request_error",
                    f"This PaymentIntent ({intent_id}) does not have a successful charge to "
                    "refund.",
                    code="charge_not_refundable",
                    param="payment_intent",
                )
        charge = self.charges.get(str(charge_id))
        if charge is None:
            raise invalid(f"No such charge: '{charge_id}'", param="charge", code="resource_missing")
        if not charge["captured"]:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Charge {charge['id']} has not been captured; cancel its PaymentIntent instead.",
                code="charge_not_refundable",
            )
        return charge
