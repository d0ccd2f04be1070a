"""The PayPal Express adapter: the buyer approves on PayPal's page, we execute on return.

`begin` answers a REDIRECT to the approval URL; PayPal sends the browser back to our return URL
with `paymentId` and `PayerID`, and `complete` executes the payment. Each call carries a
`PayPal-Request-Id` derived from our idempotency key, so a retried call replays PayPal's first
answer instead of paying twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

import paypalrestsdk
import requests
from paypalrestsdk import exceptions as paypal_errors

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
    cannot_tell,
    unreachable,
)
from integrations.adapters.paypal_express.api import BoundedApi, amount_of, call, request_body
from integrations.adapters.paypal_express.results import (
    ERROR_MESSAGES,
    refused,
    resource_outcome,
    without_links,
)
from integrations.adapters.paypal_express.webhooks import verified_event
from payments.money import THREE_DECIMAL


class PayPalExpressAdapter(BrowserPaymentAdapter):
    # PayPal lets several partial captures follow one authorization, up to its amount.
    multiple_captures: ClassVar[bool] = True
    # None of the currencies PayPal takes has three decimals (BHD, KWD…): rules do not offer
    # PayPal for one, rather than let the buyer reach PayPal's refusal.
    refused_currencies: ClassVar[frozenset[str]] = THREE_DECIMAL

    def _api(self) -> BoundedApi:
        options: dict[str, Any] = {
            "mode": "sandbox" if self.config.sandbox else "live",
            "client_id": str(self.config.settings.get("client_id", "")),
            "client_secret": self.config.secrets.get("client_secret", ""),
        }
        if self.config.api_base_url:
            options["endpoint"] = self.config.api_base_url
        return BoundedApi(self.config.timeout_seconds, **options)

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
                        "amount": amount_of(request.amount, request.currency),
                        "invoice_number": request.order_number,
                        "description": f"Order {request.order_number}",
                    }
                ],
            },
            api=api,
        )
        payment.request_id = f"{request.idempotency_key}-create"[:108]
        created = call(payment.create)
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
            kind=StepKind.REDIRECT,
            reference=payment.id,
            url=approval,
            raw=without_links(payment.to_dict()),
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
        body = request_body(f"{request.idempotency_key}-execute", {"payer_id": payer_id}, api)
        executed = call(lambda: payment.post("execute", body, payment))
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
                raw={"error": without_links(error)},
            )
        result = refused(error, "PayPal could not complete the payment.")
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

    def _find(self, reference: str, api: BoundedApi) -> dict[str, Any]:
        try:
            found = call(lambda: paypalrestsdk.Payment.find(reference, api=api))
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
        raw = without_links(payment)
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
                    result = resource_outcome(kind, item[kind], raw)
                    if result.state != ResultState.PENDING:
                        return result
                    # Our row keeps the payment id until PayPal settles the sale or the
                    # authorization: the webhook that does so names the payment (see event_of).
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
        body = request_body(
            idempotency_key,
            {"amount": amount_of(amount, currency), "is_final_capture": False},
            api,
        )
        capture = call(lambda: authorization.post("capture", body, paypalrestsdk.Capture))
        if capture.error:
            return refused(capture.error, "PayPal refused the capture.")
        return resource_outcome("capture", capture.to_dict(), without_links(capture.to_dict()))

    def cancel(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        api = self._api()
        authorization = paypalrestsdk.Authorization({"id": reference}, api=api)
        body = request_body(idempotency_key, {}, api)
        if not call(lambda: authorization.post("void", body, authorization)):
            return refused(authorization.error or {}, "PayPal refused to void the authorization.")
        data = authorization.to_dict()
        if data.get("state") != "voided":
            raise ProviderError(f"PayPal answered the void with state {data.get('state')!r}.")
        return ProviderResult(
            ok=True,
            state=ResultState.SUCCEEDED,
            reference=data.get("id", reference),
            raw=without_links(data),
        )

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        """Refund a capture (intent authorize) or a sale (intent sale): ids look alike."""
        api = self._api()
        attributes = {"amount": amount_of(amount, currency)}
        try:
            refund = call(
                lambda: paypalrestsdk.Capture({"id": reference}, api=api).post(
                    "refund", request_body(idempotency_key, attributes, api), paypalrestsdk.Refund
                )
            )
        except ProviderError as error:
            if not isinstance(error.__cause__, paypal_errors.ResourceNotFound):
                raise
            refund = call(
                lambda: paypalrestsdk.Sale({"id": reference}, api=api).post(
                    "refund", request_body(idempotency_key, attributes, api), paypalrestsdk.Refund
                )
            )
        if refund.error:
            return refused(refund.error, "PayPal refused the refund.")
        return resource_outcome("refund", refund.to_dict(), without_links(refund.to_dict()))

    # --- reconciliation -----------------------------------------------------------------------

    def inquire(self, inquiry: Inquiry) -> ProviderResult:
        """Find the payment (through its authorization, capture or sale) and read what it holds.

        PayPal cannot look a call up by its PayPal-Request-Id, so a capture or refund is matched
        by amount among the payment's related resources, leaving out those our ledger has.
        """
        if not inquiry.reference:
            return cannot_tell(inquiry, "no PayPal payment was recorded for this payment.")
        api = self._api()
        if inquiry.operation in (Operation.AUTHORIZE, Operation.CHARGE):
            payment = self._find(inquiry.reference, api)
            outcome = self._outcome(payment, inquiry.reference)
            never_executed = not inquiry.answer_lost and not _related(payment)
            if outcome.state is ResultState.PENDING and never_executed:
                # Only our execute takes the money, and we never sent it.
                return ProviderResult(
                    ok=False,
                    state=ResultState.FAILED,
                    reference=inquiry.reference,
                    message="The buyer never came back from PayPal; nothing was charged.",
                    raw=outcome.raw,
                )
            return outcome
        if inquiry.operation == Operation.CANCEL:
            authorization = self._resource(paypalrestsdk.Authorization, inquiry.reference, api)
            raw = without_links(authorization)
            if authorization.get("state") == "voided":
                return ProviderResult(
                    ok=True, state=ResultState.SUCCEEDED, reference=inquiry.reference, raw=raw
                )
            return ProviderResult(
                ok=False,
                state=ResultState.FAILED,
                reference=inquiry.reference,
                message=f"PayPal reports the authorization as {authorization.get('state')}.",
                raw=raw,
            )
        if inquiry.operation == Operation.CAPTURE:
            parent = self._resource(paypalrestsdk.Authorization, inquiry.reference, api)
            return self._match(inquiry, "capture", parent, api)
        if inquiry.operation == Operation.REFUND:
            try:
                parent = self._resource(paypalrestsdk.Capture, inquiry.reference, api)
            except ProviderError as error:
                if not isinstance(error.__cause__, paypal_errors.ResourceNotFound):
                    raise
                parent = self._resource(paypalrestsdk.Sale, inquiry.reference, api)
            return self._match(inquiry, "refund", parent, api)
        return cannot_tell(inquiry, f"PayPal has no {inquiry.operation} to look up.")

    @staticmethod
    def _resource(kind: Any, reference: str, api: BoundedApi) -> dict[str, Any]:
        found = call(lambda: kind.find(reference, api=api))
        data: dict[str, Any] = found.to_dict()
        return data

    def _match(
        self, inquiry: Inquiry, kind: str, parent: dict[str, Any], api: BoundedApi
    ) -> ProviderResult:
        """Our capture or refund among the parent payment's related resources, by amount."""
        payment = self._find(str(parent.get("parent_payment") or ""), api)
        wanted = amount_of(inquiry.amount, inquiry.currency)
        candidates = [
            item[kind]
            for item in _related(payment)
            if kind in item
            and str(item[kind].get("id")) not in inquiry.known_references
            and _same_amount(item[kind].get("amount") or {}, wanted)
            and (kind != "refund" or inquiry.reference in _refunded_ids(item[kind]))
        ]
        if len(candidates) > 1:
            return cannot_tell(inquiry, f"PayPal holds {len(candidates)} {kind}s of this amount.")
        if not candidates:
            return ProviderResult(
                ok=False,
                state=ResultState.FAILED,
                reference=inquiry.reference,
                message=f"PayPal holds no {kind} of this amount that our ledger does not know.",
                raw={"payment": str(payment.get("id") or "")},
            )
        return resource_outcome(kind, candidates[0], without_links(candidates[0]))

    # --- webhooks -----------------------------------------------------------------------------

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        webhook_id = str(self.config.settings.get("webhook_id") or "")
        return verified_event(self._api(), webhook_id, body, headers)


def _related(payment: dict[str, Any]) -> list[dict[str, Any]]:
    related: list[dict[str, Any]] = []
    for transaction in payment.get("transactions") or []:
        related += transaction.get("related_resources") or []
    return related


def _same_amount(amount: dict[str, Any], wanted: dict[str, str]) -> bool:
    try:
        total = Decimal(str(amount.get("total")))
    except ArithmeticError:
        return False
    return total == Decimal(wanted["total"]) and amount.get("currency") == wanted["currency"]


def _refunded_ids(refund: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(refund.get(name) or "") for name in ("capture_id", "sale_id"))
