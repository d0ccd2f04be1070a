"""Authorize.Net's XML API (https://apitest.authorize.net/xml/v1/request.api) and Accept.js, as far
as the adapter uses them.

API requests: `authenticateTestRequest`, `createTransactionRequest` (authOnlyTransaction,
authCaptureTransaction, priorAuthCaptureTransaction, voidTransaction, refundTransaction),
`getTransactionDetailsRequest` and `getUnsettledTransactionListRequest`. Every request is
validated with the SDK's own schema bindings (`apicontractsv1.CreateFromDocument`), so a request
the real API would reject as malformed gets E00003 here too; every answer is built with the same
bindings (so it is schema-valid) and starts with a UTF-8 byte order mark as the real API's do.

Gateway rules kept as the real one keeps them: opaque data is single-use and expires after 15
minutes (E00114); duplicates inside the duplicate window (`duplicateWindow`, default 120 s) are
refused with reason 11, carrying the original's transId only when the request set the window; an
authorization is captured once (311), for at most its amount (47); refunds need the card's last 4
digits (54), may be several, never more than was captured (55). One simplification: captures
count as settled at once, so they can be refunded straight away (the real gateway requires the
nightly settlement first; set `refunds_need_settlement` and call `settle()` to model it).

Browser side (`accept_js`): `GET /v1/Accept.js`, `POST /v1/accept/token`, and a small test page
at `GET /v1/accept/demo`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
import xml.sax
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyxb
import pyxb.binding.content
import requests
from authorizenet import apicontractsv1

from simulators.authorize_net.accept_js import DEMO_PAGE, accept_js, card_errors
from simulators.authorize_net.answers import (
    ALREADY_CAPTURED,
    ALREADY_VOIDED,
    APPROVED,
    BOM,
    DECLINED,
    HELD,
    INVALID_AMOUNT,
    NOT_ELIGIBLE,
    NOT_FOUND,
    OVER_CAPTURE,
    OVER_REFUND,
    Nonce,
    Transaction,
    accept_failure,
    details_answer,
    duplicate_reply,
    ok,
    reply_error,
    send,
    transaction_reply,
    unsettled_answer,
)
from simulators.base import Request, Response, Simulator

PATH = "/xml/v1/request.api"
ACCEPT_DESCRIPTOR = "COMMON.ACCEPT.INAPP.PAYMENT"
DEFAULT_DUPLICATE_WINDOW = 120
MAX_DUPLICATE_WINDOW = 28800

# Card triggers (the sandbox's test cards); any other Luhn-valid card approves.
DECLINED_CARDS = frozenset({"4222222222222"})
REVIEW_CARDS = frozenset({"4012888818888"})
# The sandbox declines any transaction whose billing postal code is 46282.
DECLINED_ZIP = "46282"

ZERO_DECIMAL = frozenset({"JPY", "KRW", "CLP", "VND", "ISK"})

# PyXB's default limit (20) rejects valid requests with a full billing address as
# "Nondeterminism exceeded"; the real gateway accepts them (the adapter raises it too).
pyxb.binding.content.AutomatonConfiguration.PermittedNondeterminism = 1000


class AuthorizeNetSimulator(Simulator):
    content_type = "application/xml; charset=utf-8"

    def __init__(self) -> None:
        super().__init__()
        self.merchants: dict[str, str] = {}  # API login ID → transaction key
        self.client_keys: dict[str, str] = {}  # API login ID → public client key (Accept.js)
        self.nonces: dict[str, Nonce] = {}
        self.transactions: dict[str, Transaction] = {}
        self.nonce_lifetime_seconds = 15 * 60.0
        self.refunds_need_settlement = False
        # The Transaction Details API is a per-merchant setting of the real gateway.
        self.reporting_enabled = True
        self.webhook_id = str(uuid.uuid4())  # the merchant's webhook subscription
        self._next_trans_id = 60000000001
        self._state_lock = threading.RLock()

    def reset(self) -> None:
        super().reset()
        with self._state_lock:
            self.merchants.clear()
            self.client_keys.clear()
            self.nonces.clear()
            self.transactions.clear()
            self.nonce_lifetime_seconds = 15 * 60.0
            self.refunds_need_settlement = False
            self.reporting_enabled = True

    # --- helpers for tests and the demo -------------------------------------------------------

    def provider_state(self) -> dict[str, Any]:
        # A copy taken under the lock (the demo runner pickles it while requests go on), and
        # without the lock itself, which cannot be pickled.
        with self._state_lock:
            state = super().provider_state()
            state.pop("_state_lock")
            return copy.deepcopy(state)

    def tokenize(
        self,
        card_number: str,
        month: str,
        year: str,
        cvv: str,
        client_key: str,
        api_login_id: str,
    ) -> tuple[str, str]:
        """What Accept.js hands the page for this card: (dataDescriptor, dataValue).

        Raises ValueError with the Accept.js error codes when the card or the keys are refused.
        """
        answer = self._token(api_login_id, client_key, card_number, month, year, cvv)
        if answer["messages"]["resultCode"] != "Ok":
            codes = ", ".join(m["code"] for m in answer["messages"]["message"])
            raise ValueError(f"Accept.js refused the card: {codes}")
        opaque = answer["opaqueData"]
        return opaque["dataDescriptor"], opaque["dataValue"]

    def settle(self) -> None:
        """Run the nightly settlement: captured transactions and refunds become settled."""
        with self._state_lock:
            for transaction in self.transactions.values():
                if transaction.status == "capturedPendingSettlement":
                    transaction.status = "settledSuccessfully"
                elif transaction.status == "refundPendingSettlement":
                    transaction.status = "refundSettledSuccessfully"

    def signed_webhook(
        self, event_type: str, trans_id: str, signature_key: str
    ) -> tuple[bytes, dict[str, str]]:
        """The notification Authorize.Net would POST for `trans_id`, signed with `signature_key`."""
        with self._state_lock:
            transaction = self.transactions.get(trans_id)
        payload: dict[str, Any] = {"entityName": "transaction", "id": trans_id}
        if transaction is not None:
            payload.update(
                responseCode=transaction.response[0],
                authCode=transaction.auth_code,
                avsResponse="Y",
                authAmount=float(transaction.amount),
                invoiceNumber=transaction.invoice_number,
            )
        if event_type == "net.authorize.payment.fraud.declined":
            payload["responseCode"] = 2
        body = json.dumps(
            {
                "notificationId": str(uuid.uuid4()),
                "eventType": event_type,
                "eventDate": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "webhookId": self.webhook_id,
                "payload": payload,
            }
        ).encode()
        digest = hmac.new(signature_key.encode(), body, hashlib.sha512).hexdigest().upper()
        return body, {"X-ANET-Signature": f"sha512={digest}", "Content-Type": "application/json"}

    def deliver_webhook(self, url: str, event_type: str, trans_id: str, signature_key: str) -> int:
        """POST the signed notification to `url` as Authorize.Net does; the HTTP status."""
        body, headers = self.signed_webhook(event_type, trans_id, signature_key)
        return requests.post(url, data=body, headers=headers, timeout=10).status_code

    # --- HTTP -----------------------------------------------------------------------------------

    def answer(self, request: Request) -> Response:
        route = (request.method, request.path)
        if route == ("GET", "/v1/Accept.js"):
            return Response(200, accept_js(), "application/javascript; charset=utf-8")
        if route == ("POST", "/v1/accept/token"):
            return self._token_endpoint(request)
        if route == ("GET", "/v1/accept/demo"):
            return self._demo_page()
        if route != ("POST", PATH):
            return self.not_simulated(request)
        try:
            document = apicontractsv1.CreateFromDocument(request.body)
        except (pyxb.PyXBException, xml.sax.SAXException) as error:
            return reply_error(
                "ErrorResponse",
                "E00003",
                f"An error occurred while parsing the XML request. {error}",
            )
        request_name = document._element().name().localName()
        response_name = request_name.removesuffix("Request") + "Response"
        # Plain str: a PyXB value of the request's type would need an xsi:type in the answer.
        ref_id = str(document.refId) if getattr(document, "refId", None) else None
        merchant = document.merchantAuthentication
        login = str(merchant.name)
        if self.merchants.get(login) != merchant.transactionKey:
            return reply_error(
                response_name,
                "E00007",
                "User authentication failed due to invalid authentication values.",
                ref_id=ref_id,
            )
        with self._state_lock:
            if request_name == "authenticateTestRequest":
                return send(ok(apicontractsv1.authenticateTestResponse(), ref_id))
            if request_name == "createTransactionRequest":
                return self._create_transaction(login, document, ref_id)
            reporting = ("getTransactionDetailsRequest", "getUnsettledTransactionListRequest")
            if request_name in reporting and not self.reporting_enabled:
                return reply_error(
                    response_name,
                    "E00011",
                    "Access denied. You do not have permissions to call the Transaction "
                    "Details API.",
                    ref_id=ref_id,
                )
            if request_name == "getTransactionDetailsRequest":
                return self._transaction_details(login, str(document.transId or ""), ref_id)
            if request_name == "getUnsettledTransactionListRequest":
                return self._unsettled_list(login, ref_id)
        return reply_error(
            response_name, "E00004", "The name of the requested API method is invalid."
        )

    # --- Accept.js ------------------------------------------------------------------------------

    def _token_endpoint(self, request: Request) -> Response:
        try:
            container = json.loads(request.body)["securePaymentContainerRequest"]
            auth = container["merchantAuthentication"]
            token = container["data"]["token"]
            answer = self._token(
                str(auth.get("name", "")),
                str(auth.get("clientKey", "")),
                str(token.get("cardNumber", "")),
                str(token.get("month", "")),
                str(token.get("year", "")),
                str(token.get("cardCode", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            answer = accept_failure(["E_WC_14"])
        return Response(
            200,
            json.dumps(answer).encode(),
            "application/json; charset=utf-8",
            headers={"Access-Control-Allow-Origin": "*"},
        )

    def _token(
        self, login: str, client_key: str, card_number: str, month: str, year: str, cvv: str
    ) -> dict[str, Any]:
        codes = card_errors(card_number, month, year, cvv, today=date.today())
        if not login:
            codes.append("E_WC_10")
        if not client_key:
            codes.append("E_WC_18")
        if codes:
            return accept_failure(codes)
        if login not in self.merchants or self.client_keys.get(login) != client_key:
            return accept_failure(["E_WC_21"])
        full_year = int(year) + 2000 if len(year) == 2 else int(year)
        value = base64.b64encode(secrets.token_bytes(96)).decode()
        with self._state_lock:
            self.nonces[value] = Nonce(
                login=login,
                card_number="".join(ch for ch in card_number if ch.isdigit()),
                expiration=f"{full_year:04d}-{int(month):02d}",
                created=time.monotonic(),
            )
        return {
            "opaqueData": {"dataDescriptor": ACCEPT_DESCRIPTOR, "dataValue": value},
            "messages": {
                "resultCode": "Ok",
                "message": [{"code": "I_WC_01", "text": "Successful."}],
            },
        }

    def _demo_page(self) -> Response:
        login, client_key = next(iter(self.client_keys.items()), ("", ""))
        page = DEMO_PAGE % {"login": login, "client_key": client_key, "year": date.today().year + 2}
        return Response(200, page.encode(), "text/html; charset=utf-8")

    # --- createTransactionRequest ---------------------------------------------------------------

    def _create_transaction(self, login: str, document: Any, ref_id: str | None) -> Response:
        request = document.transactionRequest
        kind = str(request.transactionType)
        if kind in ("authOnlyTransaction", "authCaptureTransaction"):
            return self._authorize(login, request, kind, ref_id)
        if kind == "priorAuthCaptureTransaction":
            return self._capture(login, request, ref_id)
        if kind == "voidTransaction":
            return self._void(login, request, ref_id)
        if kind == "refundTransaction":
            return self._refund(login, request, ref_id)
        return transaction_reply(ref_id, (3, 3, "A referenced transaction type is not supported."))

    def _authorize(self, login: str, request: Any, kind: str, ref_id: str | None) -> Response:
        payment = request.payment
        opaque = payment.opaqueData if payment is not None else None
        if opaque is None or str(opaque.dataDescriptor) != ACCEPT_DESCRIPTOR:
            return transaction_reply(ref_id, (3, 33, "Payment opaqueData cannot be left blank."))
        nonce = self.nonces.get(str(opaque.dataValue))
        expired = nonce is not None and (
            time.monotonic() - nonce.created > self.nonce_lifetime_seconds
        )
        if nonce is None or nonce.used or nonce.login != login or expired:
            return reply_error(
                "createTransactionResponse", "E00114", "Invalid OTS Token.", ref_id=ref_id
            )
        nonce.used = True
        currency = str(request.currencyCode or "USD")
        amount = _decimal(request.amount)
        if amount is None or not _valid_amount(amount, currency):
            return transaction_reply(ref_id, INVALID_AMOUNT)
        bill_to = _bill_to(request.billTo)
        order = request.order
        invoice = str(order.invoiceNumber or "") if order is not None else ""
        description = str(order.description or "") if order is not None else ""
        po_number = str(request.poNumber or "")
        key = (login, nonce.card_number, nonce.expiration, kind, amount, invoice, po_number,
               tuple(sorted(bill_to.items())))  # fmt: skip
        duplicate = self._duplicate_of(key)
        window, window_sent = _duplicate_window(request)
        if duplicate is not None:
            return duplicate_reply(ref_id, duplicate, include_original=window_sent)
        if nonce.card_number in DECLINED_CARDS or bill_to.get("zip") == DECLINED_ZIP:
            outcome, status = DECLINED, "declined"
        elif nonce.card_number in REVIEW_CARDS:
            outcome, status = HELD, "FDSPendingReview"
        elif kind == "authOnlyTransaction":
            outcome, status = APPROVED, "authorizedPendingCapture"
        else:
            outcome, status = APPROVED, "capturedPendingSettlement"
        transaction = self._new_transaction(
            login=login,
            type=kind,
            status=status,
            response=outcome,
            amount=amount,
            currency=currency,
            card_number=nonce.card_number,
            expiration=nonce.expiration,
            invoice_number=invoice,
            description=description,
            po_number=po_number,
            bill_to=bill_to,
            auth_code="" if outcome is DECLINED else secrets.token_hex(3).upper(),
            settle_amount=amount if status == "capturedPendingSettlement" else Decimal(0),
            duplicate_key=key,
            duplicate_until=time.monotonic() + window,
        )
        return transaction_reply(ref_id, outcome, transaction)

    def _referenced(self, login: str, request: Any) -> Transaction | tuple[int, int, str]:
        ref_trans_id = str(request.refTransId or "")
        if not ref_trans_id:
            return (3, 33, "refTransId cannot be left blank.")
        transaction = self.transactions.get(ref_trans_id)
        if transaction is None or transaction.login != login:
            return NOT_FOUND
        return transaction

    def _capture(self, login: str, request: Any, ref_id: str | None) -> Response:
        found = self._referenced(login, request)
        if isinstance(found, tuple):
            return transaction_reply(ref_id, found)
        if found.status in ("capturedPendingSettlement", "settledSuccessfully"):
            return transaction_reply(ref_id, ALREADY_CAPTURED, found, ref_trans_id=found.trans_id)
        if found.status != "authorizedPendingCapture":
            return transaction_reply(ref_id, NOT_FOUND)
        amount = found.amount if request.amount is None else _decimal(request.amount)
        if amount is None or not _valid_amount(amount, found.currency):
            return transaction_reply(ref_id, INVALID_AMOUNT)
        if amount > found.amount:
            return transaction_reply(ref_id, OVER_CAPTURE)
        # One capture per authorization: what is not captured is released.
        found.status = "capturedPendingSettlement"
        found.settle_amount = amount
        return transaction_reply(ref_id, APPROVED, found, ref_trans_id=found.trans_id)

    def _void(self, login: str, request: Any, ref_id: str | None) -> Response:
        found = self._referenced(login, request)
        if isinstance(found, tuple):
            return transaction_reply(ref_id, found)
        if found.status == "voided":
            return transaction_reply(ref_id, ALREADY_VOIDED, found, ref_trans_id=found.trans_id)
        voidable = (
            "authorizedPendingCapture",
            "capturedPendingSettlement",
            "refundPendingSettlement",
            "FDSPendingReview",
        )
        if found.status not in voidable:
            return transaction_reply(ref_id, NOT_FOUND)
        found.status = "voided"
        return transaction_reply(ref_id, APPROVED, found, ref_trans_id=found.trans_id)

    def _refund(self, login: str, request: Any, ref_id: str | None) -> Response:
        found = self._referenced(login, request)
        if isinstance(found, tuple):
            return transaction_reply(ref_id, found)
        card = request.payment.creditCard if request.payment is not None else None
        if card is None or not card.cardNumber:
            return transaction_reply(ref_id, (3, 33, "cardNumber cannot be left blank."))
        amount = _decimal(request.amount)
        if amount is None or not _valid_amount(amount, found.currency):
            return transaction_reply(ref_id, INVALID_AMOUNT)
        settled = ("settledSuccessfully",) + (
            () if self.refunds_need_settlement else ("capturedPendingSettlement",)
        )
        if (
            found.type not in ("authOnlyTransaction", "authCaptureTransaction")
            or found.status not in settled
            or not found.card_number.endswith(str(card.cardNumber)[-4:])
        ):
            return transaction_reply(ref_id, NOT_ELIGIBLE)
        po_number = str(request.poNumber or "")
        key = (login, found.card_number, "refundTransaction", amount, found.trans_id, po_number)
        duplicate = self._duplicate_of(key)
        window, window_sent = _duplicate_window(request)
        if duplicate is not None:
            return duplicate_reply(ref_id, duplicate, include_original=window_sent)
        if found.refunded + amount > found.settle_amount:
            return transaction_reply(ref_id, OVER_REFUND)
        found.refunded += amount
        refund = self._new_transaction(
            login=login,
            type="refundTransaction",
            status="refundPendingSettlement",
            response=APPROVED,
            amount=amount,
            currency=found.currency,
            card_number=found.card_number,
            expiration=found.expiration,
            invoice_number=found.invoice_number,
            po_number=po_number,
            ref_trans_id=found.trans_id,
            settle_amount=amount,
            duplicate_key=key,
            duplicate_until=time.monotonic() + window,
        )
        return transaction_reply(ref_id, APPROVED, refund, ref_trans_id=found.trans_id)

    def _duplicate_of(self, key: tuple[Any, ...]) -> Transaction | None:
        now = time.monotonic()
        for transaction in reversed(list(self.transactions.values())):
            if transaction.duplicate_key == key and transaction.duplicate_until > now:
                return transaction
        return None

    def _new_transaction(self, **values: Any) -> Transaction:
        trans_id = str(self._next_trans_id)
        self._next_trans_id += 1
        transaction = Transaction(trans_id=trans_id, submitted=datetime.now(UTC), **values)
        self.transactions[trans_id] = transaction
        return transaction

    # --- reporting ------------------------------------------------------------------------------

    def _transaction_details(self, login: str, trans_id: str, ref_id: str | None) -> Response:
        transaction = self.transactions.get(trans_id)
        if transaction is None or transaction.login != login:
            return reply_error(
                "getTransactionDetailsResponse",
                "E00040",
                "The record cannot be found.",
                ref_id=ref_id,
            )
        return details_answer(transaction, ref_id)

    def _unsettled_list(self, login: str, ref_id: str | None) -> Response:
        settled = ("settledSuccessfully", "refundSettledSuccessfully")
        unsettled = [
            t for t in self.transactions.values() if t.login == login and t.status not in settled
        ]
        return unsettled_answer(unsettled, ref_id)


def _valid_amount(amount: Decimal, currency: str) -> bool:
    if amount <= 0:
        return False
    places = 0 if currency.upper() in ZERO_DECIMAL else 2
    return amount == amount.quantize(Decimal(1).scaleb(-places))


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _duplicate_window(request: Any) -> tuple[float, bool]:
    settings = request.transactionSettings
    for setting in settings.setting if settings is not None else ():
        if str(setting.settingName) == "duplicateWindow":
            seconds = int(str(setting.settingValue))
            return float(min(max(seconds, 0), MAX_DUPLICATE_WINDOW)), True
    return float(DEFAULT_DUPLICATE_WINDOW), False


def _bill_to(address: Any) -> dict[str, str]:
    if address is None:
        return {}
    names = ("firstName", "lastName", "company", "address", "city", "state", "zip", "country")
    return {name: str(getattr(address, name)) for name in names if getattr(address, name)}


__all__ = ["BOM", "PATH", "AuthorizeNetSimulator"]
