"""PayPal REST v1's vocabulary: its error answers, amounts, ids and the Payment we keep."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from simulators.base import Response

TOKEN_LIFETIME_SECONDS = 32400

SCOPES = (
    "https://uri.paypal.com/services/payments/payment/authcode "
    "https://uri.paypal.com/services/payments/refund "
    "https://uri.paypal.com/services/payments/realtimepayment "
    "https://uri.paypal.com/services/payments/orders/client_sdk_orders_api openid"
)

# PayPal's currencies; these three take no decimals at PayPal (whatever ISO 4217 says).
CURRENCIES = frozenset(
    [
        "AUD",
        "BRL",
        "CAD",
        "CNY",
        "CZK",
        "DKK",
        "EUR",
        "GBP",
        "HKD",
        "HUF",
        "ILS",
        "JPY",
        "MXN",
        "MYR",
        "NOK",
        "NZD",
        "PHP",
        "PLN",
        "RUB",
        "SEK",
        "SGD",
        "CHF",
        "THB",
        "TWD",
        "USD",
    ]
)

NO_DECIMALS = frozenset({"HUF", "JPY", "TWD"})

OVERCAPTURE_CAP = Decimal(75)

BUYER = {"email": "buyer@example.com", "first_name": "Sandbox", "last_name": "Buyer"}

MESSAGES = {
    "WEBHOOK_URL_ALREADY_EXISTS": "Webhook URL already exists.",
    "WEBHOOK_NUMBER_LIMIT_EXCEEDED": "Maximum number of webhooks exceeded.",
    "VALIDATION_ERROR": "Invalid request - see details",
    "INVALID_RESOURCE_ID": "Requested resource ID was not found.",
    "PAYMENT_NOT_APPROVED_FOR_EXECUTION": "Payer has not approved payment",
    "PAYMENT_ALREADY_DONE": "Payment has been done already for this cart.",
    "PAYMENT_STATE_INVALID": "This request is invalid due to the current state of the payment",
    "INSTRUMENT_DECLINED": "The instrument presented was either declined by the processor or "
    "bank, or it can't be used for this payment.",
    "AUTHORIZATION_ALREADY_COMPLETED": "Authorization has been previously captured or voided.",
    "CAPTURE_AMOUNT_LIMIT_EXCEEDED": "Capture amount exceeds allowable limit.",
    "REFUND_EXCEEDED_TRANSACTION_AMOUNT": "Refund refused - the requested refund amount would "
    "exceed the amount of the original transaction.",
    "TRANSACTION_ALREADY_REFUNDED": "Transaction was already fully refunded.",
    "CURRENCY_MISMATCH": "Currency of capture must be the same as currency of authorization.",
}


def json_answer(
    status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return Response(
        status,
        json.dumps(payload).encode(),
        "application/json",
        {"Paypal-Debug-Id": secrets.token_hex(7), **(headers or {})},
    )


def error(status: int, name: str, details: list[dict[str, str]] | None = None) -> Response:
    payload: dict[str, Any] = {
        "name": name,
        "message": MESSAGES.get(name, name),
        "information_link": f"https://developer.paypal.com/docs/api/payments/#errors/{name}",
        "debug_id": secrets.token_hex(7),
    }
    if details:
        payload["details"] = details
    return json_answer(status, payload)


def invalid(field_name: str, issue: str) -> Response:
    return error(400, "VALIDATION_ERROR", [{"field": field_name, "issue": issue}])


def basic_auth(authorization: str) -> tuple[str, str] | None:
    scheme, _, credentials = authorization.partition(" ")
    if scheme != "Basic":
        return None
    try:
        client_id, colon, secret = (
            base64.b64decode(credentials, validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (client_id, secret) if colon else None


def now() -> str:
    return f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"


def transaction_id() -> str:
    """PayPal's 17-character upper-case transaction ids (sale, authorization, capture, refund)."""
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(17))


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:f}" if currency in NO_DECIMALS else f"{amount:.2f}"


def amount_issue(amount: Any) -> tuple[str, str] | None:
    """(field, issue) when `amount` is not a PayPal amount object, else None."""
    if not isinstance(amount, dict):
        return "amount", "This field required."
    currency, total = amount.get("currency"), amount.get("total")
    if not isinstance(currency, str) or currency not in CURRENCIES:
        return "amount.currency", "Currency is not supported."
    if not isinstance(total, str) or not re.fullmatch(r"\d{1,7}(\.\d{1,2})?", total):
        return (
            "amount.total",
            "Currency amount must be non-negative number, may optionally contain exactly 2 "
            "decimal places separated by '.', optional thousands separator ',', limited to 7 "
            "digits before the decimal point",
        )
    if currency in NO_DECIMALS and "." in total:
        return "amount.total", "Currency does not support decimals."
    if Decimal(total) <= 0:
        return "amount.total", "Amount cannot be zero."
    return None


def public(resource: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in resource.items() if not key.startswith("_")}


@dataclass
class Payment:
    id: str
    client_id: str
    intent: str
    token: str
    amount: Decimal
    currency: str
    request: dict[str, Any]
    state: str = "created"  # created → approved (executed) or failed
    create_time: str = field(default_factory=now)
    payer_id: str = ""  # set when the buyer approves
    decline: bool = False  # the buyer's funding source will be declined
    resource_kind: str = ""  # "authorization" or "sale", after execute
    resource_id: str = ""
