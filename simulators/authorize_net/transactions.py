"""Authorize.Net's createTransactionRequest as the gateway runs it: authorizations and sales paid
with Accept.js opaque data (single use, expiring), one capture per authorization, voids, refunds
against the card's last 4 digits, the duplicate window, and the nightly settlement (`settle()`)."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from simulators.authorize_net.answers import (
    ALREADY_CAPTURED,
    ALREADY_VOIDED,
    APPROVED,
    CURRENCY_NOT_ALLOWED,
    DECLINED,
    HELD,
    INVALID_AMOUNT,
    NOT_ELIGIBLE,
    NOT_FOUND,
    OVER_CAPTURE,
    OVER_REFUND,
    Nonce,
    Transaction,
    duplicate_reply,
    reply_error,
    transaction_reply,
)
from simulators.authorize_net.tokens import ACCEPT_DESCRIPTOR
from simulators.base import Response, Simulator

DEFAULT_DUPLICATE_WINDOW = 120
MAX_DUPLICATE_WINDOW = 28800

# Card triggers (the sandbox's test cards); any other Luhn-valid card approves.
DECLINED_CARDS = frozenset({"4222222222222"})
REVIEW_CARDS = frozenset({"4012888818888"})
# The sandbox declines any transaction whose billing postal code is 46282.
DECLINED_ZIP = "46282"

ZERO_DECIMAL = frozenset({"JPY", "KRW", "CLP", "VND", "ISK"})
# No merchant account is set up for a currency with three decimals: the gateway answers reason
# 39, as for any currency the account does not take.
THREE_DECIMAL = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


class AuthorizeNetTransactions(Simulator):
    """The merchants' transactions by transId, and what each request may do to them."""

    nonces: dict[str, Nonce]
    transactions: dict[str, Transaction]
    nonce_lifetime_seconds: float
    refunds_need_settlement: bool
    _next_trans_id: int
    _state_lock: threading.RLock

    def settle(self) -> None:
        """Run the nightly settlement: captured transactions and refunds become settled."""
        with self._state_lock:
            for transaction in self.transactions.values():
                if transaction.status == "capturedPendingSettlement":
                    transaction.status = "settledSuccessfully"
                elif transaction.status == "refundPendingSettlement":
                    transaction.status = "refundSettledSuccessfully"

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
        if currency.upper() in THREE_DECIMAL:
            return transaction_reply(ref_id, CURRENCY_NOT_ALLOWED)
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
