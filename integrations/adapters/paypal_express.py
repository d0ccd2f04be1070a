"""PayPal Express over PayPal's REST API v1 (Payments), through `paypalrestsdk`.

The buyer approves on PayPal's page (`begin` answers a REDIRECT to the approval URL); PayPal sends
the browser back to our return URL with `paymentId` and `PayerID`, and `complete` executes the
payment. The SDK returns False with `.error` for HTTP 400 and raises for anything else; every
call below handles both. Each call carries a `PayPal-Request-Id` derived from our idempotency key,
so a retried call replays PayPal's first answer instead of paying twice.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, ClassVar

import paypalrestsdk
import requests
from paypalrestsdk import exceptions as paypal_errors
from paypalrestsdk.resource import Resource

from integrations.adapters.base import (
    AdapterBase,
    CheckoutUrls,
    ConnectionCheck,
    InvalidWebhook,
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
from payments.money import from_minor_units, to_minor_units

# ISO 4217 gives these two decimals, but PayPal takes whole amounts only (JPY has none anyway).
WHOLE_AMOUNT_CURRENCIES = frozenset({"HUF", "TWD"})
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
# Webhook event → what it says happened to the payment it is about.
EVENT_STATES: dict[str, ResultState | None] = {
    "PAYMENT.AUTHORIZATION.CREATED": ResultState.SUCCEEDED,
    "PAYMENT.AUTHORIZATION.VOIDED": None,
    "PAYMENT.SALE.COMPLETED": ResultState.SUCCEEDED,
    "PAYMENT.SALE.PENDING": ResultState.PENDING,
    "PAYMENT.SALE.DENIED": ResultState.FAILED,
    "PAYMENT.SALE.REFUNDED": ResultState.SUCCEEDED,
    "PAYMENT.SALE.REVERSED": None,
    "PAYMENT.CAPTURE.COMPLETED": ResultState.SUCCEEDED,
    "PAYMENT.CAPTURE.PENDING": ResultState.PENDING,
    "PAYMENT.CAPTURE.DENIED": ResultState.FAILED,
    "PAYMENT.CAPTURE.REFUNDED": ResultState.SUCCEEDED,
    "PAYMENT.CAPTURE.REVERSED": None,
}
# Events that settle the buyer's checkout payment itself: our ledger row may still hold the
# PAYMENT id (PAY-…) when they arrive (the execute call timed out, or the webhook beat it).
CHECKOUT_EVENTS = frozenset(
    {
        "PAYMENT.AUTHORIZATION.CREATED",
        "PAYMENT.SALE.COMPLETED",
        "PAYMENT.SALE.PENDING",
        "PAYMENT.SALE.DENIED",
    }
)
WEBHOOK_HEADERS = {
    "transmission_id": "paypal-transmission-id",
    "transmission_time": "paypal-transmission-time",
    "transmission_sig": "paypal-transmission-sig",
    "cert_url": "paypal-cert-url",
    "auth_algo": "paypal-auth-algo",
}


class _BoundedApi(paypalrestsdk.Api):
    """The SDK's Api with a timeout on every HTTP call (the SDK sets none)."""

    def __init__(self, timeout_seconds: float, **options: Any) -> None:
        super().__init__(**options)
        self.timeout_seconds = timeout_seconds

    def http_call(self, url: str, method: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout_seconds)
        return super().http_call(url, method, **kwargs)


def _total(amount: Decimal, currency: str) -> dict[str, str]:
    """PayPal's amount object: the total as text in the currency's exponent (JPY "1000")."""
    exact = from_minor_units(to_minor_units(amount, currency), currency)
    if currency.upper() in WHOLE_AMOUNT_CURRENCIES and exact == exact.to_integral_value():
        exact = exact.quantize(Decimal(1))
    return {"total": f"{exact:f}", "currency": currency.upper()}


def _body(request_id: str, attributes: dict[str, Any], api: _BoundedApi) -> Resource:
    """A sub-action body carrying our own PayPal-Request-Id (the SDK would pick a random one)."""
    body = Resource(attributes, api=api)
    body.request_id = request_id[:108]
    return body


def _refused(error: dict[str, Any], fallback: str) -> ProviderResult:
    name = str(error.get("name", ""))
    message = ERROR_MESSAGES.get(name) or str(error.get("message") or fallback)
    details = error.get("details")
    if not ERROR_MESSAGES.get(name) and isinstance(details, list) and details:
        issues = "; ".join(
            f"{d.get('field', '')}: {d.get('issue', '')}" for d in details if isinstance(d, dict)
        )
        message = f"{message} ({issues})"
    return ProviderResult(
        ok=False, state=ResultState.FAILED, message=message, raw={"error": _safe(error)}
    )


def _safe(data: Any) -> Any:
    """PayPal's answer without its links (noise in the ledger); it carries no secrets."""
    if isinstance(data, dict):
        return {key: _safe(value) for key, value in data.items() if key != "links"}
    if isinstance(data, list):
        return [_safe(item) for item in data]
    return data


class PayPalExpressAdapter(AdapterBase):
    supports: ClassVar[frozenset[Operation]] = frozenset(
        {
            Operation.CHECK_CREDENTIALS,
            Operation.AUTHORIZE,
            Operation.CHARGE,
            Operation.CAPTURE,
            Operation.CANCEL,
            Operation.REFUND,
        }
    )
    # PayPal lets several partial captures follow one authorization, up to its amount.
    multiple_captures: ClassVar[bool] = True
    browser_step: ClassVar[bool] = True

    def _api(self) -> _BoundedApi:
        options: dict[str, Any] = {
            "mode": "sandbox" if self.config.sandbox else "live",
            "client_id": str(self.config.settings.get("client_id", "")),
            "client_secret": self.config.secrets.get("client_secret", ""),
        }
        if self.config.api_base_url:
            options["endpoint"] = self.config.api_base_url
        return _BoundedApi(self.config.timeout_seconds, **options)

    def check_credentials(self) -> ConnectionCheck:
        try:
            self._api().get_access_token()
        except paypal_errors.UnauthorizedAccess:
            return ConnectionCheck(
                ok=False, message="PayPal refused the client ID or secret (401)."
            )
        except paypal_errors.ConnectionError as error:
            return ConnectionCheck(ok=False, message=f"PayPal answered with an error: {error}")
        except requests.RequestException as error:
            return unreachable(error)
        except (KeyError, ValueError) as error:
            return ConnectionCheck(ok=False, message=f"PayPal's answer could not be read: {error}")
        mode = "sandbox" if self.config.sandbox else "live"
        return ConnectionCheck(
            ok=True, message=f"Connected to PayPal ({mode}); the credentials work."
        )

    # --- the buyer's browser step -------------------------------------------------------------

    def begin(self, request: PaymentRequest, urls: CheckoutUrls) -> PaymentStep:
        intent = "authorize" if request.payment_action == Operation.AUTHORIZE else "sale"
        api = self._api()
        payment = paypalrestsdk.Payment(
            {
                "intent": intent,
                "payer": {"payment_method": "paypal"},
                "redirect_urls": {"return_url": urls.return_url, "cancel_url": urls.cancel_url},
                "transactions": [
                    {
                        "amount": _total(request.amount, request.currency),
                        "invoice_number": request.order_number,
                        "description": f"Order {request.order_number}",
                    }
                ],
            },
            api=api,
        )
        payment.request_id = f"{request.idempotency_key}-create"[:108]
        created = _call(payment.create)
        if not created:
            error = payment.error or {}
            raise ProviderError(
                f"PayPal refused the payment: {error.get('name')} {error.get('details') or ''}",
                permanent=True,
            )
        approval = next(
            (link.href for link in payment.links or [] if link.rel == "approval_url"), ""
        )
        if not payment.id or not approval:
            raise ProviderError("PayPal's answer had no payment id or approval URL.")
        return PaymentStep(
            kind=StepKind.REDIRECT, reference=payment.id, url=approval, raw=_safe(payment.to_dict())
        )

    def complete(
        self, request: PaymentRequest, *, reference: str, params: dict[str, str]
    ) -> ProviderResult:
        api = self._api()
        payer_id = params.get("PayerID", "")
        if params.get("paymentId", reference) != reference or not payer_id:
            # Not (or not yet) a return for this payment: report what PayPal knows of it.
            return self._outcome(self._find(reference, api), reference)
        payment = paypalrestsdk.Payment({"id": reference}, api=api)
        body = _body(f"{request.idempotency_key}-execute", {"payer_id": payer_id}, api)
        executed = _call(lambda: payment.post("execute", body, payment))
        if executed:
            outcome = self._outcome(payment.to_dict(), reference)
            if outcome.state == ResultState.PENDING:
                # A replayed execute answers as it first did; a held sale may have settled since.
                return self._outcome(self._find(reference, api), reference)
            return outcome
        error = payment.error or {}
        if error.get("name") == "PAYMENT_ALREADY_DONE":
            return self._outcome(self._find(reference, api), reference)
        if error.get("name") == "PAYMENT_NOT_APPROVED_FOR_EXECUTION":
            return ProviderResult(
                ok=True,
                state=ResultState.PENDING,
                reference=reference,
                message="The buyer has not approved the payment at PayPal yet.",
                raw={"error": _safe(error)},
            )
        result = _refused(error, "PayPal could not complete the payment.")
        return ProviderResult(
            ok=False,
            state=result.state,
            reference=reference,
            message=result.message,
            raw=result.raw,
        )

    def abandon(self, request: PaymentRequest, *, reference: str) -> ProviderResult:
        # A v1 payment cannot be cancelled; nothing is taken until we execute it, which after
        # this we never do. PayPal lets an unexecuted payment expire after three hours.
        outcome = self._outcome(self._find(reference, api=self._api()), reference)
        if outcome.state == ResultState.SUCCEEDED:
            return outcome
        return ProviderResult(
            ok=False,
            state=ResultState.FAILED,
            reference=reference,
            message="The buyer left PayPal; nothing was charged.",
            raw=outcome.raw,
        )

    def _find(self, reference: str, api: _BoundedApi) -> dict[str, Any]:
        try:
            found = _call(lambda: paypalrestsdk.Payment.find(reference, api=api))
        except ProviderError as error:
            if isinstance(error.__cause__, paypal_errors.ResourceNotFound):
                return {"id": reference, "state": "unknown"}
            raise
        if found.error:
            raise ProviderError(f"PayPal refused to show the payment: {found.error.get('name')}")
        data: dict[str, Any] = found.to_dict()
        return data

    def _outcome(self, payment: dict[str, Any], reference: str) -> ProviderResult:
        """What an (executed or not) v1 payment says: the authorization or sale it made."""
        raw = _safe(payment)
        if payment.get("state") == "unknown":
            return ProviderResult(
                ok=False,
                state=ResultState.FAILED,
                reference=reference,
                message="PayPal does not know this payment.",
                raw=raw,
            )
        if payment.get("state") == "failed":
            return ProviderResult(
                ok=False,
                state=ResultState.FAILED,
                reference=reference,
                message=ERROR_MESSAGES["INSTRUMENT_DECLINED"],
                raw=raw,
            )
        related: list[dict[str, Any]] = []
        for transaction in payment.get("transactions") or []:
            related += transaction.get("related_resources") or []
        for item in related:
            for kind in ("authorization", "sale"):
                if kind in item:
                    result = _resource_outcome(kind, item[kind], raw)
                    if result.state != ResultState.PENDING:
                        return result
                    # Our row keeps the payment id until PayPal settles the sale or the
                    # authorization: the webhook that does so names the payment (see _event).
                    return ProviderResult(
                        ok=True,
                        state=ResultState.PENDING,
                        reference=str(payment.get("id") or reference),
                        message=result.message,
                        raw=raw,
                    )
        return ProviderResult(
            ok=True,
            state=ResultState.PENDING,
            reference=reference,
            message="The buyer has not approved the payment at PayPal yet.",
            raw=raw,
        )

    # --- staff operations -------------------------------------------------------------------

    def capture(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        api = self._api()
        authorization = paypalrestsdk.Authorization({"id": reference}, api=api)
        body = _body(
            idempotency_key,
            {"amount": _total(amount, currency), "is_final_capture": False},
            api,
        )
        capture = _call(lambda: authorization.post("capture", body, paypalrestsdk.Capture))
        if capture.error:
            return _refused(capture.error, "PayPal refused the capture.")
        return _resource_outcome("capture", capture.to_dict(), _safe(capture.to_dict()))

    def cancel(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        api = self._api()
        authorization = paypalrestsdk.Authorization({"id": reference}, api=api)
        body = _body(idempotency_key, {}, api)
        if not _call(lambda: authorization.post("void", body, authorization)):
            return _refused(authorization.error or {}, "PayPal refused to void the authorization.")
        data = authorization.to_dict()
        if data.get("state") != "voided":
            raise ProviderError(f"PayPal answered the void with state {data.get('state')!r}.")
        return ProviderResult(
            ok=True,
            state=ResultState.SUCCEEDED,
            reference=data.get("id", reference),
            raw=_safe(data),
        )

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        """Refund a capture (intent authorize) or a sale (intent sale): ids look alike."""
        api = self._api()
        attributes = {"amount": _total(amount, currency)}
        try:
            refund = _call(
                lambda: paypalrestsdk.Capture({"id": reference}, api=api).post(
                    "refund", _body(idempotency_key, attributes, api), paypalrestsdk.Refund
                )
            )
        except ProviderError as error:
            if not isinstance(error.__cause__, paypal_errors.ResourceNotFound):
                raise
            refund = _call(
                lambda: paypalrestsdk.Sale({"id": reference}, api=api).post(
                    "refund", _body(idempotency_key, attributes, api), paypalrestsdk.Refund
                )
            )
        if refund.error:
            return _refused(refund.error, "PayPal refused the refund.")
        return _resource_outcome("refund", refund.to_dict(), _safe(refund.to_dict()))

    # --- webhooks -----------------------------------------------------------------------------

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        lowered = {name.lower(): value for name, value in headers.items()}
        signature = {field: lowered.get(header, "") for field, header in WEBHOOK_HEADERS.items()}
        missing = [WEBHOOK_HEADERS[field] for field, value in signature.items() if not value]
        if missing:
            raise InvalidWebhook(f"Missing PayPal signature headers: {', '.join(missing)}.")
        webhook_id = str(self.config.settings.get("webhook_id") or "")
        if not webhook_id:
            raise InvalidWebhook("No PayPal webhook ID is configured for this integration.")
        try:
            event = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise InvalidWebhook("The webhook body is not JSON.") from None
        if not isinstance(event, dict) or not event.get("id") or not event.get("event_type"):
            raise InvalidWebhook("The webhook body is not a PayPal event.")
        # PayPal's own check; the SDK's WebhookEvent.verify always fails with current pyOpenSSL.
        answer = _call(
            lambda: self._api().post(
                "v1/notifications/verify-webhook-signature",
                {**signature, "webhook_id": webhook_id, "webhook_event": event},
            )
        )
        if not isinstance(answer, dict) or answer.get("verification_status") != "SUCCESS":
            raise InvalidWebhook("PayPal did not verify the webhook signature.")
        return _event(event)


def _call(action: Any) -> Any:
    """Run one SDK call; what is not an answer (timeout, 5xx, 429, garbage) is ProviderError."""
    try:
        return action()
    except paypal_errors.UnauthorizedAccess as error:
        raise ProviderError("PayPal refused the client ID or secret (401).", permanent=True) from (
            error
        )
    except paypal_errors.ResourceNotFound as error:
        raise ProviderError("PayPal does not know that id (404).", permanent=True) from error
    except paypal_errors.ConnectionError as error:
        raise ProviderError(f"PayPal answered with an error: {error.response.status_code}") from (
            error
        )
    except requests.RequestException as error:
        raise ProviderError(f"Could not reach PayPal: {type(error).__name__}") from error
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise ProviderError("PayPal's answer could not be read.") from error


def _resource_outcome(kind: str, resource: dict[str, Any], raw: dict[str, Any]) -> ProviderResult:
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


def _event(event: dict[str, Any]) -> WebhookEvent:
    """The event as plain data.

    An authorization or sale event about a checkout payment names the PAYMENT (PAY-…) as its
    reference, because that is what our ledger row holds until the payment is settled (the
    buyer's return has not been processed, execute timed out, or the sale is held); the
    authorization or sale id, which capture and refund need, is `settled_reference`. Other
    events (captures, refunds, voids) name their own resource, which is what our rows hold.
    """
    event_type = str(event["event_type"])
    resource = event.get("resource")
    if not isinstance(resource, dict):
        resource = {}
    resource_id = str(resource.get("id", ""))
    parent_payment = str(resource.get("parent_payment", ""))
    reference, settled_reference = resource_id, ""
    if event_type in CHECKOUT_EVENTS and parent_payment:
        reference, settled_reference = parent_payment, resource_id
    return WebhookEvent(
        id=str(event["id"]),
        type=event_type,
        reference=reference,
        settled_reference=settled_reference,
        state=EVENT_STATES.get(event_type),
        message=str(event.get("summary", "")),
        raw={
            "resource_id": resource_id,
            "parent_payment": parent_payment,
            **_safe(event),
        },
    )
