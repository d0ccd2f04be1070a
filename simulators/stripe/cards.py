"""Stripe's test cards and what its API says about them on confirmation."""

from __future__ import annotations

import re
import time
from typing import Any

from simulators.stripe.wire import StripeApiError, invalid, new_id

SUCCESS_CARDS = {
    "4242424242424242": "visa",
    "4000056655665556": "visa",
    "5555555555554444": "mastercard",
    "2223003122003222": "mastercard",
    "378282246310005": "amex",
    "6011111111111117": "discover",
    "3566002020360505": "jcb",
}
# number → (code, decline_code, message), as Stripe answers its test cards.
DECLINED_CARDS = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "4000000000009987": ("card_declined", "lost_card", "Your card was declined."),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": (
        "incorrect_cvc",
        "incorrect_cvc",
        "Your card's security code is incorrect.",
    ),
}
# Cards whose bank asks for 3D Secure on every payment (Stripe.js shows its challenge).
AUTHENTICATION_CARDS = frozenset({"4000002500003155", "4000002760003184"})
TEST_PAYMENT_METHODS = {
    "pm_card_visa": "4242424242424242",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
}


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def check_card(method: dict[str, Any]) -> None:
    """Raise the card error Stripe answers when a payment is confirmed with this card."""
    failure = method["_failure"]
    if failure is not None:
        error = StripeApiError(402, "card_error", failure["message"])
        error.error = dict(failure)
        raise error


def _judge_card(number: str, cvc: str, card: dict[str, Any]) -> None:
    """Raise the card error Stripe answers for this card, if any."""

    def card_error(
        code: str, message: str, param: str, decline_code: str | None = None
    ) -> StripeApiError:
        error = StripeApiError(402, "card_error", message, code=code, param=param or None)
        if decline_code:
            error.error["decline_code"] = decline_code
        return error

    if not (12 <= len(number) <= 19) or not luhn_valid(number):
        raise card_error("incorrect_number", "Your card number is incorrect.", "number")
    now = time.gmtime()
    month, year = card["exp_month"], card["exp_year"]
    if month is None or not 1 <= month <= 12:
        raise card_error(
            "invalid_expiry_month", "Your card's expiration month is invalid.", "exp_month"
        )
    if year is None or year < now.tm_year or year > now.tm_year + 50:
        raise card_error(
            "invalid_expiry_year", "Your card's expiration year is invalid.", "exp_year"
        )
    if year == now.tm_year and month < now.tm_mon:
        raise card_error(
            "invalid_expiry_month", "Your card's expiration month is invalid.", "exp_month"
        )
    if not re.fullmatch(r"\d{3,4}", cvc):
        raise card_error("invalid_cvc", "Your card's security code is invalid.", "cvc")
    if number in DECLINED_CARDS:
        code, decline_code, message = DECLINED_CARDS[number]
        raise card_error(code, message, "", decline_code)
    if number not in SUCCESS_CARDS and number not in AUTHENTICATION_CARDS:
        raise card_error(
            "card_declined",
            "Your card was declined. Your request was in test mode, but used a non test "
            "(live) card. For a list of valid test cards, visit: "
            "https://stripe.com/docs/testing.",
            "",
            "test_mode_live_card",
        )


def payment_method_for(
    params: dict[str, Any], current: str | None, payment_methods: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The card a confirmation uses: new card data, a stored or a test PaymentMethod."""
    data = params.get("payment_method_data")
    if isinstance(data, dict):
        if data.get("type") != "card" or not isinstance(data.get("card"), dict):
            raise invalid(
                "Only card payment methods are simulated.",
                param="payment_method_data[type]",
            )
        card = data["card"]
        billing = (
            data.get("billing_details") if isinstance(data.get("billing_details"), dict) else {}
        )
        return store_method(
            payment_methods,
            number=re.sub(r"\D", "", str(card.get("number", ""))),
            exp_month=str(card.get("exp_month", "")),
            exp_year=str(card.get("exp_year", "")),
            cvc=str(card.get("cvc", "")),
            name=str((billing or {}).get("name", "") or "") or None,
        )
    method_id = params.get("payment_method") or current
    if not method_id:
        raise invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method. "
            "To confirm the PaymentIntent with a payment method, specify `payment_method`.",
            code="payment_intent_unexpected_state",
        )
    if method_id in payment_methods:
        return payment_methods[method_id]
    if method_id in TEST_PAYMENT_METHODS:
        year = str(time.gmtime().tm_year + 3)
        return store_method(
            payment_methods,
            number=TEST_PAYMENT_METHODS[method_id],
            exp_month="12",
            exp_year=year,
            cvc="123",
            name=None,
        )
    raise invalid(
        f"No such PaymentMethod: '{method_id}'", param="payment_method", code="resource_missing"
    )


def store_method(
    payment_methods: dict[str, dict[str, Any]],
    *,
    number: str,
    exp_month: str,
    exp_year: str,
    cvc: str,
    name: str | None,
) -> dict[str, Any]:
    method_id = new_id("pm")
    method: dict[str, Any] = {
        "id": method_id,
        "object": "payment_method",
        "type": "card",
        "billing_details": {"name": name},
        "card": {
            "brand": SUCCESS_CARDS.get(number, "visa" if number.startswith("4") else "unknown"),
            "last4": number[-4:],
            "exp_month": int(exp_month) if exp_month.isdigit() else None,
            "exp_year": int(exp_year) if exp_year.isdigit() else None,
            "funding": "credit",
            "country": "US",
        },
    }
    method["_authentication"] = number in AUTHENTICATION_CARDS
    # What Stripe will answer for this card, decided now: the number and CVC are not kept.
    try:
        _judge_card(number, cvc, method["card"])
    except StripeApiError as failure:
        method["_failure"] = failure.error
    else:
        method["_failure"] = None
    payment_methods[method_id] = method
    return method


def public_method(method: dict[str, Any]) -> dict[str, Any]:
    """A PaymentMethod as Stripe answers it (without the card number and CVC)."""
    return {name: value for name, value in method.items() if not name.startswith("_")}
