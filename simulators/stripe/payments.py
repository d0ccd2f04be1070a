"""PaymentIntents and their charges: the state Stripe keeps and the rules it applies."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pycountry

from simulators.stripe.cards import check_card, payment_method_for, public_method
from simulators.stripe.wire import (
    MAX_AMOUNT,
    THREE_DECIMAL,
    StripeApiError,
    format_amount,
    integer_param,
    invalid,
    new_id,
)

CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = (*CONFIRMABLE, "requires_capture", "processing")
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
CREATE_PARAMS = {
    "allowed_payment_method_types",
    "amount",
    "currency",
    "capture_method",
    "confirm",
    "description",
    "metadata",
    "payment_method",
    "payment_method_data",
    "payment_method_types",
    "receipt_email",
    "statement_descriptor_suffix",
}
CONFIRM_PARAMS = {"payment_method", "payment_method_data", "return_url", "client_secret", "key"}
PUBLIC_FIELDS = (
    "id",
    "object",
    "amount",
    "amount_details",
    "canceled_at",
    "cancellation_reason",
    "capture_method",
    "client_secret",
    "confirmation_method",
    "created",
    "currency",
    "description",
    "last_payment_error",
    "livemode",
    "next_action",
    "payment_method",
    "payment_method_types",
    "status",
)
AUTHENTICATION_FAILED = (
    "We are unable to authenticate your payment method. Please choose a different payment "
    "method and try again."
)


def check_three_decimal(amount: int, currency: str, param: str) -> None:
    if currency in THREE_DECIMAL and amount % 10:
        # Stripe's rule for three-decimal currencies (the wording is the simulator's).
        raise invalid(
            f"Amounts in {currency} must end in 0: round {amount} to the nearest ten.",
            param=param,
            code="invalid_amount",
        )


class PaymentIntents:
    """The PaymentIntents, charges and payment methods of one Stripe account."""

    def __init__(self) -> None:
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.payment_methods: dict[str, dict[str, Any]] = {}

    # --- PaymentIntents -------------------------------------------------------------------------

    def _intent(
        self, intent_id: str, params: dict[str, Any], *, publishable: bool = False
    ) -> dict[str, Any]:
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise StripeApiError(
                404,
                "invalid_request_error",
                f"No such payment_intent: '{intent_id}'",
                code="resource_missing",
                param="intent",
                saved=False,
            )
        if publishable and params.get("client_secret") != intent["client_secret"]:
            raise invalid(
                "The client_secret provided does not match the client_secret associated with "
                "the PaymentIntent.",
                param="client_secret",
                code="payment_intent_invalid_parameter",
            )
        return intent

    def _view(self, intent: dict[str, Any], *, publishable: bool) -> dict[str, Any]:
        if publishable:
            return {name: intent[name] for name in PUBLIC_FIELDS}
        return dict(intent)

    def _create(self, params: dict[str, Any], *, livemode: bool) -> tuple[int, dict[str, Any]]:
        for name in params:
            if name not in CREATE_PARAMS and name != "expand":
                raise invalid(
                    f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
                )
        amount = integer_param(params, "amount", required=True)
        currency = str(params.get("currency") or "").lower()
        if not currency:
            raise invalid(
                "Missing required param: currency.", param="currency", code="parameter_missing"
            )
        if len(currency) != 3 or pycountry.currencies.get(alpha_3=currency.upper()) is None:
            raise invalid(f"Invalid currency: {currency}.", param="currency")
        assert amount is not None
        minimum = 50 if currency not in THREE_DECIMAL else 500
        if amount < minimum:
            raise invalid(
                f"Amount must be at least {format_amount(minimum, currency)} {currency}",
                param="amount",
                code="amount_too_small",
            )
        check_three_decimal(amount, currency, "amount")
        if amount > MAX_AMOUNT:
            raise invalid(
                f"Amount must be no more than {format_amount(MAX_AMOUNT, currency)}",
                param="amount",
                code="amount_too_large",
            )
        capture_method = params.get("capture_method", "automatic_async")
        if capture_method not in ("automatic", "automatic_async", "manual"):
            raise invalid(
                "Invalid capture_method: must be one of automatic, automatic_async, or manual",
                param="capture_method",
            )
        # `allowed_payment_method_types` is the name since API version 2026-10-28.
        type_param = (
            "allowed_payment_method_types"
            if "allowed_payment_method_types" in params
            else "payment_method_types"
        )
        types = params.get(type_param, ["card"])
        if not isinstance(types, list) or any(kind != "card" for kind in types):
            raise invalid(
                "The payment method type provided is not activated in the simulator.",
                param=type_param,
                code="payment_intent_invalid_parameter",
            )
        metadata = params.get("metadata", {})
        if not isinstance(metadata, dict):
            raise invalid("Invalid object", param="metadata")
        intent_id = new_id("pi")
        intent: dict[str, Any] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": capture_method,
            "client_secret": f"{intent_id}_secret_{secrets.token_urlsafe(18)}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": currency,
            "description": params.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": livemode,
            "metadata": metadata,
            "next_action": None,
            "payment_method": None,
            "allowed_payment_method_types": types,
            "payment_method_types": types,
            "status": "requires_payment_method",
        }
        self.payment_intents[intent_id] = intent
        if params.get("payment_method"):
            intent["status"] = "requires_confirmation"
        if params.get("confirm") == "true":
            confirm_params: dict[str, Any] = {
                name: params[name]
                for name in ("payment_method", "payment_method_data")
                if name in params
            }
            return self._confirm(intent, confirm_params, publishable=False)
        return 200, dict(intent)

    def _confirm(
        self, intent: dict[str, Any], params: dict[str, Any], *, publishable: bool
    ) -> tuple[int, dict[str, Any]]:
        for name in params:
            if name not in CONFIRM_PARAMS and name != "expand":
                raise invalid(
                    f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
                )
        if intent["status"] not in CONFIRMABLE:
            raise StripeApiError(
                400,
                "invalid_request_error",
                self._unexpected_state("confirmed", intent, CONFIRMABLE),
                code="payment_intent_unexpected_state",
                payment_intent=self._view(intent, publishable=publishable),
            )
        method = payment_method_for(params, intent["payment_method"], self.payment_methods)
        intent["payment_method"] = method["id"]
        try:
            check_card(method)
        except StripeApiError as decline:
            charge_id = self._charge(intent, method, failure=decline.error)
            intent["last_payment_error"] = {
                **decline.error,
                "charge": charge_id,
                "payment_method": public_method(method),
            }
            intent["status"] = "requires_payment_method"
            intent["latest_charge"] = charge_id
            decline.error["charge"] = charge_id
            decline.error["payment_intent"] = self._view(intent, publishable=publishable)
            decline.error["payment_method"] = public_method(method)
            raise
        intent["last_payment_error"] = None
        if method["_authentication"]:
            # The bank wants 3D Secure: Stripe.js shows the challenge, then `_authenticate`.
            intent["status"] = "requires_action"
            intent["next_action"] = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect"},
            }
            return 200, self._view(intent, publishable=publishable)
        return self._approve(intent, method, publishable=publishable)

    def _authenticate(
        self, intent: dict[str, Any], params: dict[str, Any], *, publishable: bool
    ) -> tuple[int, dict[str, Any]]:
        """The buyer's answer to the 3D Secure challenge (a simulator-only call of Stripe.js)."""
        for name in params:
            if name not in ("client_secret", "outcome"):
                raise invalid(
                    f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
                )
        outcome = params.get("outcome")
        if outcome not in ("complete", "fail"):
            raise invalid("Invalid outcome: must be one of complete or fail", param="outcome")
        if intent["status"] != "requires_action":
            raise StripeApiError(
                400,
                "invalid_request_error",
                self._unexpected_state("authenticated", intent, ("requires_action",)),
                code="payment_intent_unexpected_state",
            )
        method = self.payment_methods[intent["payment_method"]]
        intent["next_action"] = None
        if outcome == "complete":
            return self._approve(intent, method, publishable=publishable)
        intent["status"] = "requires_payment_method"
        intent["last_payment_error"] = {
            "type": "invalid_request_error",
            "code": "payment_intent_authentication_failure",
            "message": AUTHENTICATION_FAILED,
            "payment_method": public_method(method),
        }
        return 200, self._view(intent, publishable=publishable)

    def _approve(
        self, intent: dict[str, Any], method: dict[str, Any], *, publishable: bool
    ) -> tuple[int, dict[str, Any]]:
        intent["latest_charge"] = self._charge(intent, method, failure=None)
        if intent["capture_method"] == "manual":
            intent["status"] = "requires_capture"
            intent["amount_capturable"] = intent["amount"]
        else:
            intent["status"] = "succeeded"
            intent["amount_received"] = intent["amount"]
        return 200, self._view(intent, publishable=publishable)

    def _charge(
        self, intent: dict[str, Any], method: dict[str, Any], *, failure: dict[str, Any] | None
    ) -> str:
        charge_id = new_id("ch")
        card = method["card"]
        self.charges[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": 0
            if failure or intent["capture_method"] == "manual"
            else intent["amount"],
            "amount_refunded": 0,
            "captured": failure is None and intent["capture_method"] != "manual",
            "created": int(time.time()),
            "currency": intent["currency"],
            "failure_code": failure["code"] if failure else None,
            "failure_message": failure["message"] if failure else None,
            "livemode": intent["livemode"],
            "metadata": intent["metadata"],
            "paid": failure is None,
            "payment_intent": intent["id"],
            "payment_method": method["id"],
            "payment_method_details": {
                "type": "card",
                "card": {name: card[name] for name in ("brand", "last4", "exp_month", "exp_year")},
            },
            "refunded": False,
            "status": "failed" if failure else "succeeded",
        }
        return charge_id

    @staticmethod
    def _unexpected_state(done: str, intent: dict[str, Any], allowed: tuple[str, ...]) -> str:
        return (
            f"This PaymentIntent could not be {done} because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may be "
            f"{done}: {', '.join(allowed)}."
        )

    def _capture(self, intent: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        for name in params:
            if name not in ("amount_to_capture", "metadata", "expand"):
                raise invalid(
                    f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
                )
        amount = integer_param(params, "amount_to_capture", required=False)
        if intent["status"] != "requires_capture":
            raise StripeApiError(
                400,
                "invalid_request_error",
                self._unexpected_state("captured", intent, ("requires_capture",)),
                code="payment_intent_unexpected_state",
                payment_intent=dict(intent),
            )
        capturable = intent["amount_capturable"]
        amount = capturable if amount is None else amount
        check_three_decimal(amount, intent["currency"], "amount_to_capture")
        if amount > capturable:
            raise StripeApiError(
                400,
                "invalid_request_error",
                "The payment could not be captured because the requested capture amount is "
                "greater than the amount you can capture for this charge.",
                code="amount_too_large",
                param="amount_to_capture",
            )
        if amount == 0:
            raise invalid("Invalid positive integer", param="amount_to_capture")
        charge = self.charges[intent["latest_charge"]]
        charge["amount_captured"] = amount
        charge["captured"] = True
        # Without multicapture the first capture releases what is left of the hold.
        intent["amount_capturable"] = 0
        intent["amount_received"] = amount
        intent["status"] = "succeeded"
        return dict(intent)

    def _cancel(self, intent: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        for name in params:
            if name not in ("cancellation_reason", "expand"):
                raise invalid(
                    f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
                )
        reason = params.get("cancellation_reason")
        if reason is not None and reason not in CANCELLATION_REASONS:
            raise invalid(
                f"Invalid cancellation_reason: must be one of {', '.join(CANCELLATION_REASONS)}",
                param="cancellation_reason",
            )
        if intent["status"] not in CANCELABLE:
            raise StripeApiError(
                400,
                "invalid_request_error",
                self._unexpected_state("canceled", intent, CANCELABLE),
                code="payment_intent_unexpected_state",
                payment_intent=dict(intent),
            )
        intent["status"] = "canceled"
        intent["canceled_at"] = int(time.time())
        intent["cancellation_reason"] = reason
        intent["amount_capturable"] = 0
        return dict(intent)
