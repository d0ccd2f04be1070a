"""Authorize.Net's answers as ProviderResults: what the ledger and the buyer see."""

from __future__ import annotations

from typing import Any

from integrations.adapters.authorize_net import api
from integrations.adapters.base import ProviderResult, ResultState

# getTransactionDetails' transactionStatus → what it means for the payment.
SUCCEEDED_STATUSES = frozenset(
    {
        "authorizedPendingCapture",
        "capturedPendingSettlement",
        "settledSuccessfully",
        "refundPendingSettlement",
        "refundSettledSuccessfully",
    }
)
PENDING_STATUSES = frozenset(
    {"FDSPendingReview", "FDSAuthorizedPendingReview", "underReview", "pendingSettlement"}
)
RESPONSE_STATES = {"1": ResultState.SUCCEEDED, "4": ResultState.PENDING}


def result_from_details(details: Any) -> ProviderResult:
    """A transaction read back with getTransactionDetails, as the payment's outcome."""
    status = api.text(details, "transactionStatus")
    raw = {
        "transId": api.text(details, "transId"),
        "transactionStatus": status,
        "transactionType": api.text(details, "transactionType"),
        "authAmount": api.text(details, "authAmount"),
        "settleAmount": api.text(details, "settleAmount"),
        "responseReasonCode": api.text(details, "responseReasonCode"),
    }
    reason = api.text(details, "responseReasonDescription")
    if status in SUCCEEDED_STATUSES:
        state = ResultState.SUCCEEDED
    elif status in PENDING_STATUSES:
        state = ResultState.PENDING
    else:
        state = ResultState.FAILED
    return ProviderResult(
        ok=state is not ResultState.FAILED,
        state=state,
        reference=raw["transId"],
        message=reason or status,
        raw=raw,
    )


def failed(message: str, raw: dict[str, Any], reference: str = "") -> ProviderResult:
    return ProviderResult(
        ok=False, state=ResultState.FAILED, reference=reference, message=message, raw=raw
    )


def error_code(response: Any) -> str:
    result = getattr(response, "transactionResponse", None)
    errors = getattr(result, "errors", None)
    if errors is None:
        return ""
    return str(errors.error[0].errorCode)


def error_text(result: Any) -> str:
    errors = getattr(result, "errors", None)
    return "" if errors is None else str(errors.error[0].errorText)


def message_text(result: Any) -> str:
    messages = getattr(result, "messages", None)
    return "" if messages is None else str(messages.message[0].description)


def raw_of(result: Any) -> dict[str, Any]:
    """What the ledger keeps: ids, codes, the masked account number; never card data."""
    names = (
        "responseCode",
        "authCode",
        "avsResultCode",
        "cvvResultCode",
        "transId",
        "refTransID",
        "accountNumber",
        "accountType",
    )
    raw: dict[str, Any] = {name: api.text(result, name) for name in names}
    if getattr(result, "errors", None) is not None:
        raw["errorCode"] = str(result.errors.error[0].errorCode)
        raw["errorText"] = error_text(result)
    elif getattr(result, "messages", None) is not None:
        raw["messageCode"] = str(result.messages.message[0].code)
    return raw
