"""PayPal's answers as ProviderResults: what succeeded, what is held, what was refused."""

from __future__ import annotations

from typing import Any

from integrations.adapters.base import ProviderResult, ResultState

# What a buyer or staff member reads for PayPal's error names; others show PayPal's message.
ERROR_MESSAGES = {
    "INSTRUMENT_DECLINED": "PayPal declined the payment from your PayPal account. "
    "Please choose another payment method, or start a new PayPal payment.",
    "PAYMENT_STATE_INVALID": "PayPal can no longer complete this payment; please start again.",
    "PAYER_CANNOT_PAY": "The buyer cannot pay with PayPal for this purchase.",
    "AUTHORIZATION_ALREADY_COMPLETED": "The authorization was already fully captured or voided.",
    "AUTHORIZATION_EXPIRED": "The authorization has expired; it can no longer be captured.",
    "CAPTURE_AMOUNT_LIMIT_EXCEEDED": "The amount is more than PayPal lets you capture on "
    "this authorization.",
    "REFUND_EXCEEDED_TRANSACTION_AMOUNT": "The amount is more than is left to refund.",
    "TRANSACTION_ALREADY_REFUNDED": "The payment was already fully refunded.",
}


def refused(error: dict[str, Any], fallback: str) -> ProviderResult:
    name = str(error.get("name", ""))
    message = ERROR_MESSAGES.get(name) or str(error.get("message") or fallback)
    details = error.get("details")
    if not ERROR_MESSAGES.get(name) and isinstance(details, list) and details:
        issues = "; ".join(
            f"{d.get('field', '')}: {d.get('issue', '')}" for d in details if isinstance(d, dict)
        )
        message = f"{message} ({issues})"
    return ProviderResult(
        ok=False, state=ResultState.FAILED, message=message, raw={"error": without_links(error)}
    )


def without_links(data: Any) -> Any:
    """PayPal's answer without its links (noise in the ledger); it carries no secrets."""
    if isinstance(data, dict):
        return {key: without_links(value) for key, value in data.items() if key != "links"}
    if isinstance(data, list):
        return [without_links(item) for item in data]
    return data


def resource_outcome(kind: str, resource: dict[str, Any], raw: dict[str, Any]) -> ProviderResult:
    """An authorization, sale, capture or refund as a result; its id is the next reference."""
    state = resource.get("state", "")
    reference = str(resource.get("id", ""))
    succeeded = {
        "authorization": ("authorized", "partially_captured", "captured"),
        "sale": ("completed", "partially_refunded", "refunded"),
        "capture": ("completed", "partially_refunded", "refunded"),
        "refund": ("completed",),
    }[kind]
    if state in succeeded:
        return ProviderResult(ok=True, state=ResultState.SUCCEEDED, reference=reference, raw=raw)
    if state == "pending":
        reason = resource.get("reason_code") or resource.get("pending_reason") or "review"
        return ProviderResult(
            ok=True,
            state=ResultState.PENDING,
            reference=reference,
            message=f"PayPal holds the {kind} as pending ({reason}).",
            raw=raw,
        )
    return ProviderResult(
        ok=False,
        state=ResultState.FAILED,
        reference=reference,
        message=f"PayPal reports the {kind} as {state or 'unknown'}.",
        raw=raw,
    )
