"""Authorize.Net: cards tokenized by Accept.js in the buyer's browser, then the XML API.

`begin` makes no call: the page loads Accept.js, which turns the card into single-use opaque data
posted to our return URL; `complete` sends that to createTransactionRequest. Authorize.Net has no
idempotency keys, so ours travels as refId (echoed back) and as poNumber, which is part of the
gateway's duplicate check: a replayed request inside the duplicate window is refused with reason
11 and the original transId, which we then read back. A retry of `complete` with opaque data the
first call already used gets E00114 instead; then the payment is found again in the unsettled
transaction list (by invoice number) and confirmed by its description, which carries our key.
getTransactionDetails cannot search by refId, and no other call can, so this is the only way back.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

import pyxb
from authorizenet import apicontractsv1, apicontrollers, constants

from integrations.adapters.authorize_net import api, results, webhooks
from integrations.adapters.authorize_net import inquiry as inquiry_module
from integrations.adapters.base import (
    BrowserPaymentAdapter,
    CheckoutUrls,
    ConnectionCheck,
    Inquiry,
    PaymentNotTaken,
    PaymentRequest,
    PaymentStep,
    ProviderError,
    ProviderResult,
    ResultState,
    StepKind,
    WebhookEvent,
    unreachable,
)
from integrations.types import PaymentAction
from payments.money import THREE_DECIMAL


class AuthorizeNetAdapter(BrowserPaymentAdapter):
    # A priorAuthCapture settles the authorization once; the rest of the hold is released.
    multiple_captures: ClassVar[bool] = False
    # eCheck (the integration's second method) has no browser step yet: rules do not offer it.
    method_kinds: ClassVar[frozenset[str] | None] = frozenset({"credit_card"})
    # The gateway takes amounts with at most two decimals, in the currencies the merchant account
    # is set up for: no account is set up for a three-decimal one (BHD, KWD…). Which others an
    # account takes is not ours to know; the gateway refuses them at complete() (reason 39).
    refused_currencies: ClassVar[frozenset[str]] = THREE_DECIMAL

    # --- plumbing -------------------------------------------------------------------------------

    def _endpoint(self) -> str:
        if self.config.api_base_url:
            return self.config.api_base_url + api.API_PATH
        return (
            constants.constants.SANDBOX if self.config.sandbox else constants.constants.PRODUCTION
        )

    def _merchant(self) -> Any:
        return api.merchant(
            str(self.config.settings.get("api_login_id", "")),
            self.config.secrets.get("transaction_key", ""),
        )

    def _call(self, controller: Any) -> Any:
        return api.call(
            controller, endpoint=self._endpoint(), timeout_seconds=self.config.timeout_seconds
        )

    def _transaction(self, transaction: Any, idempotency_key: str) -> Any:
        return self._call(
            api.transaction_request(self._merchant(), transaction, api.ref_id(idempotency_key))
        )

    def _details(self, trans_id: str) -> Any | None:
        """The transaction as getTransactionDetails reports it; None when the gateway has none."""
        response = self._call(api.details_request(self._merchant(), trans_id))
        return response.transaction if _listed(response) else None

    # --- credentials ----------------------------------------------------------------------------

    def check_credentials(self) -> ConnectionCheck:
        try:
            request = apicontractsv1.authenticateTestRequest()
            # PyXB checks facets on assignment: a malformed stored key raises here.
            request.merchantAuthentication = self._merchant()
        except Exception as error:
            return ConnectionCheck(
                ok=False,
                message="The stored API login ID or transaction key has the wrong format "
                f"({type(error).__name__}); edit the integration.",
            )
        try:
            response = api.execute(
                apicontrollers.authenticateTestController(request),
                endpoint=self._endpoint(),
                timeout_seconds=self.config.timeout_seconds,
            )
        except Exception as error:  # the SDK raises lxml/PyXB errors for a garbled body
            return ConnectionCheck(
                ok=False,
                message=f"Authorize.Net's answer could not be read: {type(error).__name__}",
            )
        if response is None:
            return unreachable("no answer from Authorize.Net (connection failed or HTTP error)")
        if getattr(response, "messages", None) is None:
            return ConnectionCheck(ok=False, message="Authorize.Net's answer could not be read.")
        code, text = api.first_message(response)
        if str(response.messages.resultCode) == "Ok":
            return ConnectionCheck(
                ok=True, message="Connected to Authorize.Net; the credentials work."
            )
        return ConnectionCheck(
            ok=False, message=f"Authorize.Net refused the credentials: {text} ({code})."
        )

    # --- the buyer's browser step ---------------------------------------------------------------

    def begin(self, request: PaymentRequest, urls: CheckoutUrls) -> PaymentStep:
        currency = request.currency.upper()
        if currency in self.refused_currencies:
            # Refused before the buyer types the card, not by the gateway after it.
            raise PaymentNotTaken(
                f"Authorize.Net cannot take payments in {currency}: "
                "it takes no currency with three decimals."
            )
        if self.config.api_base_url:
            script_url = f"{self.config.api_base_url}/v1/Accept.js"
        elif self.config.sandbox:
            script_url = api.ACCEPT_JS_SANDBOX
        else:
            script_url = api.ACCEPT_JS_LIVE
        return PaymentStep(
            kind=StepKind.ACCEPT_JS,
            reference="",
            data={
                "script_url": script_url,
                "api_login_id": str(self.config.settings.get("api_login_id", "")),
                "client_key": str(self.config.settings.get("client_key", "")),
            },
        )

    def complete(
        self, request: PaymentRequest, *, reference: str, params: dict[str, str]
    ) -> ProviderResult:
        if reference:
            # An earlier answer (held for review) named the transaction: report it, never pay
            # again, whatever the browser sends now.
            details = self._details(reference)
            if details is not None:
                return results.result_from_details(details)
        descriptor = params.get("dataDescriptor", "").strip()
        value = params.get("dataValue", "").strip()
        if not descriptor or not value:
            # ok=True: not a failure, the buyer has not finished (the ledger keeps it pending).
            return ProviderResult(
                ok=True,
                state=ResultState.PENDING,
                reference=reference,
                message="The card details have not been sent yet.",
            )
        key = api.ref_id(request.idempotency_key)
        transaction = apicontractsv1.transactionRequestType()
        transaction.transactionType = (
            "authOnlyTransaction"
            if request.payment_action == PaymentAction.AUTHORIZE
            else "authCaptureTransaction"
        )
        transaction.amount = api.amount_for(request.amount, request.currency)
        transaction.currencyCode = request.currency.upper()
        opaque = apicontractsv1.opaqueDataType()
        try:
            # The browser's fields: PyXB checks their facets as they are assigned.
            opaque.dataDescriptor = descriptor
            opaque.dataValue = value
        except pyxb.PyXBException:
            return results.failed("The card details could not be read; please try again.", {})
        transaction.payment = apicontractsv1.paymentType()
        transaction.payment.opaqueData = opaque
        order = apicontractsv1.orderType()
        order.invoiceNumber = request.order_number[:20]
        order.description = self._description(request)
        transaction.order = order
        transaction.poNumber = key
        address = api.bill_to(request.billing)
        if address is not None:
            transaction.billTo = address
        transaction.transactionSettings = api.duplicate_window()
        response = self._transaction(transaction, request.idempotency_key)
        if not hasattr(response, "transactionResponse"):
            code, text = api.first_message(response)
            if code == "E00114":
                # The opaque data was used already (an earlier call went through) or expired.
                found = self._find_payment(request)
                if found is not None:
                    return found
                return results.failed(
                    "The card details expired or were already used; please enter them again.",
                    {"code": code},
                )
            return results.failed(
                f"Authorize.Net refused the payment: {text} ({code}).", {"code": code}
            )
        return self._result(response)

    def abandon(self, request: PaymentRequest, *, reference: str) -> ProviderResult:
        if not reference:
            # begin() leaves nothing at the gateway, and a complete() that reached it left a
            # reference or a settled row: there is nothing to stop.
            return super().abandon(request, reference=reference)
        # A payment held for review: void it, so that a later approval charges nobody.
        details = self._details(reference)
        if details is None:
            return super().abandon(request, reference=reference)
        outcome = results.result_from_details(details)
        if outcome.state is not ResultState.PENDING:
            return outcome
        void = self.cancel(
            reference=reference,
            amount=request.amount,
            currency=request.currency,
            idempotency_key=f"{request.idempotency_key}-abandon",
        )
        if not void.ok:
            raise ProviderError(f"The held payment {reference} could not be voided: {void.message}")
        return ProviderResult(
            ok=False,
            state=ResultState.FAILED,
            reference=reference,
            message="The buyer left the payment page; the held payment was voided.",
            raw=void.raw,
        )

    @staticmethod
    def _description(request: PaymentRequest) -> str:
        return f"Order {request.order_number} ({api.ref_id(request.idempotency_key)})"[:255]

    def _unsettled(self) -> list[Any]:
        """The summaries of the gateway's unsettled transactions (getUnsettledTransactionList)."""
        response = self._call(api.unsettled_request(self._merchant()))
        if not _listed(response):
            return []
        return list(getattr(getattr(response, "transactions", None), "transaction", []))

    def _find_payment(self, request: PaymentRequest) -> ProviderResult | None:
        """The transaction an earlier complete() created for this request, read back."""
        transactions = self._unsettled()
        invoice = request.order_number[:20]
        amount = api.amount_for(request.amount, request.currency)
        for summary in transactions:
            if api.text(summary, "invoiceNumber") != invoice:
                continue
            details = self._details(api.text(summary, "transId"))
            order = getattr(details, "order", None) if details is not None else None
            if details is None or api.text(order, "description") != self._description(request):
                continue
            if Decimal(api.text(details, "authAmount") or "0") != amount:
                continue
            return results.result_from_details(details)
        return None

    # --- staff operations -----------------------------------------------------------------------

    def capture(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        transaction = apicontractsv1.transactionRequestType()
        transaction.transactionType = "priorAuthCaptureTransaction"
        transaction.amount = api.amount_for(amount, currency)
        transaction.refTransId = reference
        response = self._transaction(transaction, idempotency_key)
        if results.error_code(response) == "311":
            # Captured already: a replay of this capture succeeded if the amounts agree.
            details = self._details(reference)
            settled = Decimal(api.text(details, "settleAmount") or "0")
            if details is not None and settled == api.amount_for(amount, currency):
                return results.result_from_details(details)
        return self._result(response)

    def cancel(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        transaction = apicontractsv1.transactionRequestType()
        transaction.transactionType = "voidTransaction"
        transaction.refTransId = reference
        return self._result(self._transaction(transaction, idempotency_key))

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        # A refund names the card by its last 4 digits; the original transaction knows them.
        try:
            original = self._details(reference)
        except ProviderError as error:
            # Only a read failed: no refund was sent, so this is a clear "no", not an unknown.
            return results.failed(f"{error} Nothing was refunded; try again later.", {})
        if original is None:
            return results.failed(
                "Authorize.Net has no transaction to refund with that reference.", {}
            )
        payment = getattr(original, "payment", None)
        masked = api.text(getattr(payment, "creditCard", None), "cardNumber")
        card = apicontractsv1.creditCardType()
        card.cardNumber = masked[-4:]
        card.expirationDate = "XXXX"
        transaction = apicontractsv1.transactionRequestType()
        transaction.transactionType = "refundTransaction"
        transaction.amount = api.amount_for(amount, currency)
        transaction.payment = apicontractsv1.paymentType()
        transaction.payment.creditCard = card
        transaction.refTransId = reference
        invoice = api.text(getattr(original, "order", None), "invoiceNumber")
        if invoice:
            order = apicontractsv1.orderType()
            order.invoiceNumber = invoice
            transaction.order = order
        transaction.poNumber = api.ref_id(idempotency_key)
        transaction.transactionSettings = api.duplicate_window()
        return self._result(self._transaction(transaction, idempotency_key))

    def inquire(self, inquiry: Inquiry) -> ProviderResult:
        return inquiry_module.inquire(self, inquiry)

    # --- answers --------------------------------------------------------------------------------

    def _result(self, response: Any) -> ProviderResult:
        """A createTransaction answer as a ProviderResult; a duplicate reads the original back."""
        if not hasattr(response, "transactionResponse"):
            code, text = api.first_message(response)
            return results.failed(
                f"Authorize.Net refused the request: {text} ({code}).", {"code": code}
            )
        result = response.transactionResponse
        raw = results.raw_of(result)
        response_code = api.text(result, "responseCode")
        trans_id = api.text(result, "transId")
        if response_code in results.RESPONSE_STATES:
            state = results.RESPONSE_STATES[response_code]
            message = results.message_text(result) or "Approved."
            return ProviderResult(
                ok=True,  # approved, or held for review (PENDING): neither is a failure
                state=state,
                reference=trans_id,
                message=message,
                raw=raw,
            )
        if response_code not in ("2", "3"):
            raise ProviderError(f"Authorize.Net answered responseCode {response_code!r}.")
        if results.error_code(response) == "11" and trans_id not in ("", "0"):
            details = self._details(trans_id)
            if details is not None:
                return results.result_from_details(details)
        # A decline is a transaction of its own: its transId is the reference, as when the
        # payment is read back later (a repeated complete), so both answers name it.
        declined = trans_id if response_code == "2" and trans_id != "0" else ""
        return results.failed(
            results.error_text(result) or "Authorize.Net declined the transaction.", raw, declined
        )

    # --- webhooks -------------------------------------------------------------------------------

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        return webhooks.parse_webhook(
            body, headers, signature_key=self.config.secrets.get("signature_key", "")
        )


def _listed(response: Any) -> bool:
    """Whether a reporting call found something; an error other than "nothing found" raises.

    The reporting calls need the Transaction Details API enabled on the merchant account
    (E00011 otherwise): without them an outcome cannot be read back, so it stays unknown.
    """
    code, text = api.first_message(response)
    if str(response.messages.resultCode) == "Ok":
        return code != "I00004"  # "No records found."
    if code == "E00040":  # "The record cannot be found."
        return False
    raise ProviderError(f"Authorize.Net could not report the transaction: {text} ({code}).")
