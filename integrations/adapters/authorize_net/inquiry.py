"""Reading back one of our Authorize.Net operations for reconciliation: reports, never acts.

getTransactionDetails answers for a transId we hold (the checkout's or the authorization a
capture or void acted on); a checkout whose answer was lost before we learnt its transId, and a
refund (a transaction of its own), are found in the unsettled transaction list. A transaction
that settled has left that list, so not finding one there is no proof it never happened.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from integrations.adapters.authorize_net import api, results
from integrations.adapters.base import (
    Inquiry,
    Operation,
    ProviderResult,
    ResultState,
    cannot_tell,
)

if TYPE_CHECKING:
    from integrations.adapters.authorize_net.adapter import AuthorizeNetAdapter

CAPTURED = frozenset({"capturedPendingSettlement", "settledSuccessfully"})


def inquire(adapter: AuthorizeNetAdapter, inquiry: Inquiry) -> ProviderResult:
    if inquiry.operation in (Operation.AUTHORIZE, Operation.CHARGE):
        return _checkout(adapter, inquiry)
    if inquiry.operation == Operation.REFUND:
        return _refund(adapter, inquiry)
    if not inquiry.reference:
        return cannot_tell(inquiry, "no Authorize.Net transaction was recorded for this payment.")
    details = adapter._details(inquiry.reference)
    if details is None:
        return cannot_tell(inquiry, f"Authorize.Net has no transaction {inquiry.reference}.")
    status = api.text(details, "transactionStatus")
    raw = results.result_from_details(details).raw
    if status in results.PENDING_STATUSES:
        return cannot_tell(inquiry, f"the transaction is {status}.")
    if inquiry.operation == Operation.CAPTURE:
        settled = Decimal(api.text(details, "settleAmount") or "0")
        if status in CAPTURED and settled == api.amount_for(inquiry.amount, inquiry.currency):
            return _done(inquiry.reference, raw)
        if status in CAPTURED:
            return cannot_tell(inquiry, f"Authorize.Net captured {settled}, not this amount.")
    elif inquiry.operation == Operation.CANCEL and status == "voided":
        return _done(inquiry.reference, raw)
    return results.failed(
        f"Authorize.Net reports the transaction as {status}: this {inquiry.operation} "
        "never happened.",
        raw,
        inquiry.reference,
    )


def _checkout(adapter: AuthorizeNetAdapter, inquiry: Inquiry) -> ProviderResult:
    if inquiry.reference:
        details = adapter._details(inquiry.reference)
        if details is None:
            return cannot_tell(inquiry, f"Authorize.Net has no transaction {inquiry.reference}.")
        return results.result_from_details(details)
    found = adapter._find_payment(inquiry.payment_request())
    if found is not None:
        return found
    if not inquiry.answer_lost:
        # begin() sends nothing: without a completing call, the card never reached the gateway.
        return results.failed("The buyer never sent the card details; nothing was charged.", {})
    return cannot_tell(inquiry, "the payment is not among Authorize.Net's unsettled ones.")


def _refund(adapter: AuthorizeNetAdapter, inquiry: Inquiry) -> ProviderResult:
    amount = api.amount_for(inquiry.amount, inquiry.currency)
    matches = []
    for summary in adapter._unsettled():
        trans_id = api.text(summary, "transId")
        if trans_id in inquiry.known_references or trans_id == inquiry.reference:
            continue
        if api.text(summary, "invoiceNumber") != inquiry.order_number[:20]:
            continue
        details = adapter._details(trans_id)
        if (
            details is not None
            and api.text(details, "transactionType") == "refundTransaction"
            and api.text(details, "refTransId") == inquiry.reference
            and Decimal(api.text(details, "settleAmount") or "0") == amount
        ):
            matches.append(details)
    if len(matches) == 1:
        return results.result_from_details(matches[0])
    if matches:
        return cannot_tell(inquiry, f"Authorize.Net holds {len(matches)} refunds of this amount.")
    return cannot_tell(inquiry, "no such refund is among Authorize.Net's unsettled ones.")


def _done(reference: str, raw: dict[str, Any]) -> ProviderResult:
    return ProviderResult(ok=True, state=ResultState.SUCCEEDED, reference=reference, raw=raw)
