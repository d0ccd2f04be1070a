"""Stripe's answers mapped to ours: PaymentIntents for the browser step, staff operations, events.

The buyer's card goes from Stripe.js straight to Stripe: `begin` creates a PaymentIntent whose
client secret the page confirms, `complete` reads what Stripe says about it. Staff operations act
on the PaymentIntent (capture, cancel) and create refunds against it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import stripe
from stripe.params import PaymentIntentCaptureParams, PaymentIntentCreateParams, RefundCreateParams

from integrations.adapters.base import (
    BrowserPaymentAdapter,
    CheckoutUrls,
    ConnectionCheck,
    Inquiry,
    Operation,
    PaymentRequest,
    PaymentStep,
    ProviderError,
    ProviderResult,
    ResultState,
    StepKind,
    WebhookEvent,
    unreachable,
)
from integrations.adapters.stripe import api
from payments.money import from_minor_units, to_minor_units

logger = logging.getLogger(__name__)
T = TypeVar("T")
# What the ledger keeps of a PaymentIntent: no client secret, no card data.
INTENT_FIELDS = (
    "id",
    "object",
    "status",
    "amount",
    "amount_capturable",
    "amount_received",
    "currency",
    "capture_method",
    "latest_charge",
    "cancellation_reason",
    "livemode",
    "metadata",
)
REFUND_STATES = {
    "succeeded": ResultState.SUCCEEDED,
    "pending": ResultState.PENDING,
    "requires_action": ResultState.PENDING,
    "failed": ResultState.FAILED,
    "canceled": ResultState.FAILED,
}
# Events that settle a payment, by what they say happened to it.
WEBHOOK_STATES = {
    "payment_intent.succeeded": ResultState.SUCCEEDED,
    # An authorization: the money is held and may be captured.
    "payment_intent.amount_capturable_updated": ResultState.SUCCEEDED,
    "payment_intent.payment_failed": ResultState.FAILED,
    "payment_intent.canceled": ResultState.FAILED,
    "charge.refunded": ResultState.SUCCEEDED,
}


def intent_raw(intent: Any) -> dict[str, Any]:
    data = intent.to_dict()
    raw = {name: data.get(name) for name in INTENT_FIELDS}
    error = data.get("last_payment_error")
    if error:
        raw["last_payment_error"] = {name: error.get(name) for name in api.ERROR_FIELDS}
    latest_charge = data.get("latest_charge")
    if isinstance(latest_charge, dict):  # expanded
        raw["latest_charge"] = latest_charge.get("id")
    return raw


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if k != "client_secret"}
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value


class StripeAdapter(BrowserPaymentAdapter):
    # Stripe's first capture releases the rest of the hold (multicapture is an opt-in feature).
    multiple_captures: ClassVar[bool] = False
    # abandon() reads the PaymentIntent back and cancels it only when nothing was paid.
    reconcile_abandons: ClassVar[bool] = True

    def _call(self, operation: Callable[[stripe.StripeClient], T]) -> T:
        return api.call(self.config, operation)

    def check_credentials(self) -> ConnectionCheck:
        try:
            balance = api.client_for(self.config).v1.balance.retrieve()
        except stripe.AuthenticationError as error:
            return ConnectionCheck(
                ok=False, message=f"Stripe refused the secret key: {error.user_message or error}"
            )
        except stripe.PermissionError as error:
            return ConnectionCheck(
                ok=False, message=f"The key may not read the balance: {error.user_message or error}"
            )
        except stripe.APIConnectionError as error:
            return unreachable(error.user_message or error)
        except stripe.StripeError as error:
            return ConnectionCheck(
                ok=False, message=f"Stripe answered with an error: {error.user_message or error}"
            )
        except UnicodeDecodeError:
            # The SDK's debug logging decodes every body as UTF-8 before the body is parsed, so a
            # garbled answer raises this instead of stripe.APIError.
            return ConnectionCheck(ok=False, message="Stripe's answer could not be read.")
        mode = "live" if balance.livemode else "test"
        return ConnectionCheck(
            ok=True, message=f"Connected to Stripe ({mode} mode); the secret key works."
        )

    # --- the buyer's browser step ---------------------------------------------------------------

    def begin(self, request: PaymentRequest, urls: CheckoutUrls) -> PaymentStep:
        manual = request.payment_action == Operation.AUTHORIZE
        params: PaymentIntentCreateParams = {
            "amount": to_minor_units(request.amount, request.currency),
            "currency": request.currency.lower(),
            "capture_method": "manual" if manual else "automatic",
            # API version 2026-10-28 (the SDK's pinned one) names it so on create; the
            # PaymentIntent still answers `payment_method_types`.
            "allowed_payment_method_types": ["card"],
            "metadata": {"order_number": request.order_number},
        }
        try:
            intent = self._call(
                lambda client: client.v1.payment_intents.create(
                    params, {"idempotency_key": request.idempotency_key}
                )
            )
        except stripe.StripeError as error:  # e.g. an amount below Stripe's minimum
            raise ProviderError(
                f"Stripe refused the payment: {api.message(error)}", permanent=True
            ) from error
        return PaymentStep(
            kind=StepKind.STRIPE_JS,
            reference=intent.id,
            data={
                "script_url": api.script_url(self.config),
                "publishable_key": str(self.config.settings.get("publishable_key", "")),
                "client_secret": intent.client_secret or "",
            },
            raw=intent_raw(intent),
        )

    def complete(
        self, request: PaymentRequest, *, reference: str, params: dict[str, str]
    ) -> ProviderResult:
        # `params` (`payment_intent=…` on the return URL) only says the buyer came back: the
        # outcome and the PaymentIntent are the ones we started and Stripe reports.
        intent = self._retrieve(reference)
        expected = to_minor_units(request.amount, request.currency)
        if intent.amount != expected or intent.currency != request.currency.lower():
            raise ProviderError(
                f"Stripe's PaymentIntent {intent.id} is for {intent.amount} {intent.currency}, "
                f"not {expected} {request.currency.lower()}.",
                permanent=True,
            )
        return self._intent_result(intent)

    def abandon(self, request: PaymentRequest, *, reference: str) -> ProviderResult:
        intent = self._retrieve(reference)
        # Paid or authorized after all (the buyer's return got lost): that is the outcome.
        if intent.status not in ("requires_capture", "succeeded", "canceled"):
            try:
                intent = self._call(
                    lambda client: client.v1.payment_intents.cancel(
                        reference,
                        {"cancellation_reason": "abandoned"},
                        {"idempotency_key": f"{request.idempotency_key}-abandon"},
                    )
                )
            except stripe.InvalidRequestError as error:
                if error.code != "payment_intent_unexpected_state":
                    return self._refused(error, reference)
                # The buyer finished paying a moment ago: say what happened.
                intent = self._retrieve(reference)
        if intent.status == "canceled":
            return ProviderResult(
                ok=False,
                state=ResultState.FAILED,
                reference=intent.id,
                message="The buyer left the payment page; nothing was charged.",
                raw=intent_raw(intent),
            )
        return self._intent_result(intent)

    def _retrieve(self, reference: str) -> stripe.PaymentIntent:
        try:
            return self._call(lambda client: client.v1.payment_intents.retrieve(reference))
        except stripe.StripeError as error:
            raise ProviderError(
                f"Stripe could not find the payment: {api.message(error)}", permanent=True
            ) from error

    @staticmethod
    def _intent_result(intent: stripe.PaymentIntent) -> ProviderResult:
        raw = intent_raw(intent)
        status = intent.status
        if status in ("requires_capture", "succeeded"):
            return ProviderResult(
                ok=True, state=ResultState.SUCCEEDED, reference=intent.id, raw=raw
            )
        if status == "canceled":
            return ProviderResult(
                ok=False,
                state=ResultState.FAILED,
                reference=intent.id,
                message="The payment was canceled; nothing was charged.",
                raw=raw,
            )
        error = intent.last_payment_error
        if status == "requires_payment_method" and error is not None:
            return ProviderResult(
                ok=False,
                state=ResultState.FAILED,
                reference=intent.id,
                message=error.message or "Your card was declined.",
                raw=raw,
            )
        # requires_payment_method / requires_confirmation / requires_action / processing: the
        # buyer has not finished (or the bank has not answered yet). Not a failure, so ok.
        return ProviderResult(ok=True, state=ResultState.PENDING, reference=intent.id, raw=raw)

    # --- staff operations -----------------------------------------------------------------------

    def capture(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        params: PaymentIntentCaptureParams = {"amount_to_capture": to_minor_units(amount, currency)}
        try:
            intent = self._call(
                lambda client: client.v1.payment_intents.capture(
                    reference, params, {"idempotency_key": idempotency_key}
                )
            )
        except stripe.StripeError as error:
            return self._refused(error, reference)
        return self._intent_result(intent)

    def cancel(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        try:
            intent = self._call(
                lambda client: client.v1.payment_intents.cancel(
                    reference,
                    {"cancellation_reason": "requested_by_customer"},
                    {"idempotency_key": idempotency_key},
                )
            )
        except stripe.StripeError as error:
            return self._refused(error, reference)
        if intent.status != "canceled":
            return self._intent_result(intent)
        return ProviderResult(
            ok=True, state=ResultState.SUCCEEDED, reference=intent.id, raw=intent_raw(intent)
        )

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        # Our capture and charge rows hold the PaymentIntent id; a charge id works as well.
        # The key in the metadata lets inquire() find this refund if its answer is lost.
        params: RefundCreateParams = {
            "amount": to_minor_units(amount, currency),
            "metadata": {"idempotency_key": idempotency_key},
        }
        if reference.startswith(("ch_", "py_")):
            params["charge"] = reference
        else:
            params["payment_intent"] = reference
        try:
            refund = self._call(
                lambda client: client.v1.refunds.create(
                    params, {"idempotency_key": idempotency_key}
                )
            )
        except stripe.StripeError as error:
            return self._refused(error, reference)
        kind = getattr(refund, "object", None)
        if kind != "refund":
            # A provider or proxy replaying an earlier answer (a PaymentIntent read just before):
            # nothing says this refund was made, so it is unknown until reconciled.
            logger.warning("Stripe answered a refund with a %s object; recorded unknown", kind)
            raise ProviderError(f"Stripe answered a refund with a {kind} object, not a refund.")
        state = REFUND_STATES.get(refund.status or "", ResultState.PENDING)
        raw = {
            name: getattr(refund, name, None)
            for name in ("id", "object", "amount", "currency", "status", "charge")
        }
        raw["payment_intent"] = refund.payment_intent
        return ProviderResult(
            ok=state is not ResultState.FAILED,
            state=state,
            reference=refund.id,
            message="" if state is ResultState.SUCCEEDED else f"The refund is {refund.status}.",
            raw=raw,
        )

    # --- reconciliation -------------------------------------------------------------------------

    def inquire(self, inquiry: Inquiry) -> ProviderResult:
        """Read the PaymentIntent (and its refunds): never confirms, captures or cancels."""
        from integrations.adapters.stripe import inquiry as lookups  # it imports this module

        return lookups.inquire(self, inquiry)

    @staticmethod
    def _refused(error: stripe.StripeError, reference: str) -> ProviderResult:
        """Stripe said no to the operation (over-capture, over-refund, wrong state)."""
        return ProviderResult(
            ok=False,
            state=ResultState.FAILED,
            reference=reference,
            message=api.message(error),
            raw={"error": api.error_details(error)},
        )

    # --- webhooks -------------------------------------------------------------------------------

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        secret = self.config.secrets.get("webhook_signing_secret", "")
        event = api.verified_event(body, headers, secret)
        event_type = str(event.get("type", ""))
        data = event.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        obj = obj if isinstance(obj, dict) else {}
        if obj.get("object") == "payment_intent":
            reference = str(obj.get("id", ""))
        elif obj.get("object") in ("charge", "refund"):
            reference = str(obj.get("payment_intent") or "")
        else:
            reference = ""
        state = WEBHOOK_STATES.get(event_type)
        message = ""
        if event_type == "payment_intent.payment_failed":
            failure = obj.get("last_payment_error") or {}
            message = str(failure.get("message") or "The payment failed.")
        elif event_type == "payment_intent.canceled":
            message = "The payment was canceled."
        elif event_type == "charge.refunded":
            currency = str(obj.get("currency", "")).upper()
            refunded = from_minor_units(int(obj.get("amount_refunded") or 0), currency)
            message = f"{refunded} {currency} refunded in all."
        return WebhookEvent(
            id=event["id"],
            type=event_type,
            reference=reference,
            state=state,
            message=message,
            raw=_without_secrets(event),
        )
