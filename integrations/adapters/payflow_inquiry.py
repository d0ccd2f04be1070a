"""Reading back one of our Payflow operations for reconciliation: inquiries, never transactions.

A card checkout is looked up through its secure token (TRXTYPE=I); an Express Checkout we never
completed through ACTION=G, which only reads. Payflow answers an inquiry by ORIGID about that
transaction only, and a capture, void or credit carries nothing else to find it by (resending it
with its request ID would act if the first never arrived), so those stay "cannot tell" for a
person to check in PayPal Manager.
"""

from __future__ import annotations

import uuid

from integrations.adapters.base import (
    Inquiry,
    Operation,
    ProviderResult,
    ResultState,
    cannot_tell,
)
from integrations.adapters.payflow import EXPRESS_CHECKOUT_KIND, PayflowAdapter, safe_fields


def inquire(adapter: PayflowAdapter, inquiry: Inquiry) -> ProviderResult:
    if inquiry.operation not in (Operation.AUTHORIZE, Operation.CHARGE):
        return cannot_tell(inquiry, f"Payflow cannot look up a {inquiry.operation} by itself.")
    if not inquiry.reference:
        return cannot_tell(inquiry, "no secure token or PayPal token was recorded.")
    if inquiry.method_kind == EXPRESS_CHECKOUT_KIND:
        return _express(adapter, inquiry)
    outcome = adapter._card_outcome(inquiry.payment_request(), inquiry.reference)
    if outcome.state is ResultState.PENDING:
        return cannot_tell(inquiry, outcome.message)
    return outcome


def _express(adapter: PayflowAdapter, inquiry: Inquiry) -> ProviderResult:
    if inquiry.answer_lost:
        # Our ACTION=D may have gone through, and nothing finds it but its PNREF.
        return cannot_tell(inquiry, "Payflow cannot look up an Express Checkout payment.")
    # We never sent ACTION=D, the only call that takes the money; ACTION=G only reads.
    trxtype = "A" if inquiry.operation == Operation.AUTHORIZE else "S"
    fields = {"TRXTYPE": trxtype, "TENDER": "P", "TOKEN": inquiry.reference, "ACTION": "G"}
    details = adapter._transact(fields, uuid.uuid4().hex)
    approved = details["RESULT"] == "0" and bool(details.get("PAYERID"))
    return ProviderResult(
        ok=False,
        state=ResultState.FAILED,
        message=(
            "The buyer approved at PayPal but never came back; nothing was charged."
            if approved
            else "The buyer never finished at PayPal; nothing was charged."
        ),
        raw=safe_fields(details),
    )
