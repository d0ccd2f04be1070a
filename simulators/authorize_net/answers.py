"""The Authorize.Net simulator's state and its XML answers (built with the SDK's own bindings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

import pyxb
from authorizenet import apicontractsv1
from pyxb.utils.domutils import BindingDOMSupport

from simulators.authorize_net.accept_js import ACCEPT_MESSAGES
from simulators.base import Response

NAMESPACE = "AnetApi/xml/v1/schema/AnetApiSchema.xsd"
BOM = "\ufeff".encode()

# (responseCode, response reason code, reason text) as the gateway answers them.
APPROVED = (1, 1, "This transaction has been approved.")
DECLINED = (2, 2, "This transaction has been declined.")
HELD = (4, 252, "Your order has been received. Thank you for your business!")
ALREADY_VOIDED = (1, 310, "This transaction has already been voided.")
DUPLICATE = (3, 11, "A duplicate transaction has been submitted.")
NOT_FOUND = (3, 16, "The transaction cannot be found.")
INVALID_AMOUNT = (3, 5, "A valid amount is required.")
CURRENCY_NOT_ALLOWED = (
    3,
    39,
    "The supplied currency code is either invalid, not supported, not allowed for this merchant "
    "or doesn't have an exchange rate.",
)
OVER_CAPTURE = (
    3,
    47,
    "The amount requested for settlement cannot be greater than the original amount authorized.",
)
NOT_ELIGIBLE = (
    3,
    54,
    "The referenced transaction does not meet the criteria for issuing a credit.",
)
OVER_REFUND = (
    3,
    55,
    "The sum of credits against the referenced transaction would exceed original debit amount.",
)
ALREADY_CAPTURED = (3, 311, "This transaction has already been captured.")


@dataclass
class Nonce:
    login: str
    card_number: str
    expiration: str  # YYYY-MM
    created: float  # time.monotonic()
    used: bool = False


@dataclass
class Transaction:
    trans_id: str
    login: str
    type: str
    status: str
    response: tuple[int, int, str]
    amount: Decimal
    currency: str
    card_number: str
    expiration: str
    submitted: datetime
    invoice_number: str = ""
    description: str = ""
    po_number: str = ""
    bill_to: dict[str, str] = field(default_factory=dict)
    auth_code: str = ""
    ref_trans_id: str = ""
    settle_amount: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    duplicate_key: tuple[Any, ...] = ()
    duplicate_until: float = 0.0  # time.monotonic()

    @property
    def masked(self) -> str:
        return "XXXX" + self.card_number[-4:]


def details_answer(transaction: Transaction, ref_id: str | None) -> Response:
    """getTransactionDetailsResponse for `transaction` (card masked, as the gateway does)."""
    details = apicontractsv1.transactionDetailsType()
    details.transId = transaction.trans_id
    if transaction.ref_trans_id:
        details.refTransId = transaction.ref_trans_id
    details.submitTimeUTC = transaction.submitted.replace(tzinfo=None)
    details.submitTimeLocal = transaction.submitted.replace(tzinfo=None)
    details.transactionType = transaction.type
    details.transactionStatus = transaction.status
    details.responseCode, details.responseReasonCode, details.responseReasonDescription = (
        transaction.response
    )
    if transaction.auth_code:
        details.authCode = transaction.auth_code
    details.AVSResponse = "Y"
    if transaction.invoice_number or transaction.description:
        order = apicontractsv1.orderExType()
        if transaction.invoice_number:
            order.invoiceNumber = transaction.invoice_number
        if transaction.description:
            order.description = transaction.description
        details.order = order
    details.authAmount = transaction.amount
    details.settleAmount = transaction.settle_amount
    details.taxExempt = False
    card = apicontractsv1.creditCardMaskedType()
    card.cardNumber = transaction.masked
    card.expirationDate = "XXXX"
    card.cardType = "Visa"
    details.payment = apicontractsv1.paymentMaskedType()
    details.payment.creditCard = card
    if transaction.bill_to:
        details.billTo = apicontractsv1.customerAddressType(**transaction.bill_to)
    details.recurringBilling = False
    response = ok(apicontractsv1.getTransactionDetailsResponse(), ref_id)
    response.transaction = details
    return send(response)


def unsettled_answer(unsettled: list[Transaction], ref_id: str | None) -> Response:
    """getUnsettledTransactionListResponse, newest first."""
    response = apicontractsv1.getUnsettledTransactionListResponse()
    if not unsettled:
        response.refId = ref_id
        response.messages = messages("Ok", "I00004", "No records found.")
        return send(response)
    response = ok(response, ref_id)
    summaries = apicontractsv1.ArrayOfTransactionSummaryType()
    for transaction in sorted(unsettled, key=lambda t: t.submitted, reverse=True):
        summary = apicontractsv1.transactionSummaryType()
        summary.transId = transaction.trans_id
        summary.submitTimeUTC = transaction.submitted.replace(tzinfo=None)
        summary.submitTimeLocal = transaction.submitted.replace(tzinfo=None)
        summary.transactionStatus = transaction.status
        if transaction.invoice_number:
            summary.invoiceNumber = transaction.invoice_number
        summary.accountType = "Visa"
        summary.accountNumber = transaction.masked
        summary.settleAmount = transaction.settle_amount or transaction.amount
        summary.marketType = "eCommerce"
        summary.product = "Card Not Present"
        summaries.transaction.append(summary)
    response.transactions = summaries
    response.totalNumInResultSet = len(unsettled)
    return send(response)


def send(binding: Any) -> Response:
    dom = binding.toDOM(bds=BindingDOMSupport(default_namespace=apicontractsv1.Namespace))
    return Response(200, BOM + dom.toxml("utf-8"), "application/xml; charset=utf-8")


def messages(result_code: str, code: str, text: str) -> Any:
    messages = apicontractsv1.messagesType()
    messages.resultCode = result_code
    messages.message.append(pyxb.BIND(code=code, text=text))
    return messages


def ok(response: Any, ref_id: str | None) -> Any:
    if ref_id:
        response.refId = ref_id
    response.messages = messages("Ok", "I00001", "Successful.")
    return response


def reply_error(root: str, code: str, text: str, *, ref_id: str | None = None) -> Response:
    """An error answer with messages only, written by hand: like the real gateway's, it may lack
    elements the schema requires (createTransactionResponse without transactionResponse), which
    the SDK then reads through its lxml fallback."""
    ref = f"<refId>{escape(ref_id)}</refId>" if ref_id else ""
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<{root} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns="{NAMESPACE}">'
        f"{ref}<messages><resultCode>Error</resultCode>"
        f"<message><code>{code}</code><text>{escape(text)}</text></message></messages>"
        f"</{root}>"
    )
    return Response(200, BOM + body.encode(), "application/xml; charset=utf-8")


def transaction_reply(
    ref_id: str | None,
    outcome: tuple[int, int, str],
    transaction: Transaction | None = None,
    *,
    ref_trans_id: str = "",
) -> Response:
    response_code, reason, text = outcome
    result = apicontractsv1.transactionResponse()
    result.responseCode = str(response_code)
    result.authCode = transaction.auth_code if transaction and response_code == 1 else ""
    result.avsResultCode = "Y" if transaction else "P"
    result.cvvResultCode = "M" if transaction and response_code != 3 else ""
    result.transId = transaction.trans_id if transaction else "0"
    result.refTransID = ref_trans_id
    result.transHash = ""
    result.testRequest = "0"
    result.accountNumber = transaction.masked if transaction else ""
    result.accountType = "Visa" if transaction else ""
    if response_code in (1, 4):
        result.messages = pyxb.BIND(pyxb.BIND(code=str(reason), description=text))
    else:
        result.errors = pyxb.BIND(pyxb.BIND(errorCode=str(reason), errorText=text))
    response = apicontractsv1.createTransactionResponse()
    if ref_id:
        response.refId = ref_id
    if response_code in (1, 4):
        response.messages = messages("Ok", "I00001", "Successful.")
    else:
        response.messages = messages("Error", "E00027", "The transaction was unsuccessful.")
    response.transactionResponse = result
    return send(response)


def duplicate_reply(
    ref_id: str | None, original: Transaction, *, include_original: bool
) -> Response:
    """Reason 11; with the original's transId and authCode only when the request set the window."""
    if not include_original:
        return transaction_reply(ref_id, DUPLICATE)
    response = transaction_reply(ref_id, DUPLICATE, original)
    if original.response[0] == 1:
        # _transaction_reply leaves authCode empty on an error; the real gateway repeats it here.
        body = response.body.replace(
            b"<authCode></authCode>", f"<authCode>{original.auth_code}</authCode>".encode()
        ).replace(b"<authCode/>", f"<authCode>{original.auth_code}</authCode>".encode())
        return Response(response.status, body, response.content_type)
    return response


def accept_failure(codes: list[str]) -> dict[str, Any]:
    return {
        "messages": {
            "resultCode": "Error",
            "message": [{"code": code, "text": ACCEPT_MESSAGES[code]} for code in codes],
        }
    }
