"""Reading back one of our Stripe operations for reconciliation: the PaymentIntent and its refunds.

Nothing here confirms, captures or cancels. A PaymentIntent is captured at most once (multicapture
is opt-in), so its `amount_received` is that capture; a refund is found by the idempotency key
`StripeAdapter.refund` leaves in its metadata.
"""

from __future__ import annotations

from typing import Any

import stripe

from integrations.adapters.base import (
    Inquiry,
    Operation,
    ProviderError,
    ProviderResult,
    ResultState,
    cannot_tell,
)
from integrations.adapters.stripe import api
from integrations.adapters.stripe.adapter import REFUND_STATES, StripeAdapter, intent_raw
from payments.money import to_minor_units


def inquire(adapter: StripeAdapter, inquiry: Inquiry) -> ProviderResult:
    if not inquiry.reference:
        return cannot_tell(inquiry, "no PaymentIntent was recorded for this payment.")
    if inquiry.operation in (Operation.AUTHORIZE, Operation.CHARGE):
        # complete() only reads the PaymentIntent back: it is the lookup.
        result = adapter.complete(inquiry.payment_request(), reference=inquiry.reference, params={})
        if result.state is ResultState.PENDING:
            status = result.raw.get("status")
            return cannot_tell(inquiry, f"the buyer has not finished paying ({status}).")
        return result
    if inquiry.operation == Operation.REFUND:
        return _refund(adapter, inquiry)
    intent = adapter._retrieve(inquiry.reference)
    raw = intent_raw(intent)
    if inquiry.operation == Operation.CAPTURE:
        return _capture(inquiry, intent, raw)
    if inquiry.operation == Operation.CANCEL:
        if intent.status == "canceled":
            return ProviderResult(
                ok=True, state=ResultState.SUCCEEDED, reference=intent.id, raw=raw
            )
        if intent.status in ("requires_capture", "succeeded"):
            return _nothing_done(intent.id, f"the payment is {intent.status}, not canceled", raw)
        return cannot_tell(inquiry, f"the payment is {intent.status}.")
    return cannot_tell(inquiry, f"Stripe has no {inquiry.operation} to look up.")


def _capture(inquiry: Inquiry, intent: stripe.PaymentIntent, raw: dict[str, Any]) -> ProviderResult:
    expected = to_minor_units(inquiry.amount, inquiry.currency)
    if intent.status == "succeeded":
        if intent.amount_received == expected:
            return ProviderResult(
                ok=True, state=ResultState.SUCCEEDED, reference=intent.id, raw=raw
            )
        return cannot_tell(
            inquiry, f"Stripe captured {intent.amount_received} minor units, not {expected}."
        )
    if intent.status in ("requires_capture", "canceled"):
        return _nothing_done(intent.id, f"the payment is {intent.status}", raw)
    return cannot_tell(inquiry, f"the payment is {intent.status}.")


def _refund(adapter: StripeAdapter, inquiry: Inquiry) -> ProviderResult:
    try:
        refunds = adapter._call(
            lambda client: client.v1.refunds.list(
                {"payment_intent": inquiry.reference, "limit": 100}
            )
        )
    except stripe.StripeError as error:
        raise ProviderError(f"Stripe could not list the refunds: {api.message(error)}") from error
    for refund in refunds.data:
        if _refund_key(refund) == inquiry.idempotency_key:
            state = REFUND_STATES.get(refund.status or "", ResultState.PENDING)
            return ProviderResult(
                ok=state is not ResultState.FAILED,
                state=state,
                reference=refund.id,
                message="" if state is ResultState.SUCCEEDED else f"The refund is {refund.status}.",
                raw={"id": refund.id, "amount": refund.amount, "status": refund.status},
            )
    if any(not _refund_key(refund) for refund in refunds.data):
        # A refund made without our key (from Stripe's dashboard, or before keys were sent).
        return cannot_tell(inquiry, "Stripe holds refunds this payment cannot be matched to.")
    return _nothing_done(inquiry.reference, "Stripe holds no such refund", {})


def _refund_key(refund: stripe.Refund) -> str:
    """The idempotency key StripeAdapter.refund left in the metadata ("" for other refunds)."""
    metadata = refund.to_dict().get("metadata") or {}
    return str(metadata.get("idempotency_key") or "")


def _nothing_done(reference: str, why: str, raw: dict[str, Any]) -> ProviderResult:
    return ProviderResult(
        ok=False,
        state=ResultState.FAILED,
        reference=reference,
        message=f"Stripe says this never happened: {why}.",
        raw=raw,
    )
