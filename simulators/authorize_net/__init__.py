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

Browser side: `GET /v1/Accept.js`, `POST /v1/accept/token`, and a small test page at
`GET /v1/accept/demo`.

Payments live in `transactions`, Accept.js tokens in `tokens` (the script and page text in
`accept_js`), reports and webhooks in `reporting`, the answers' wording and bindings in `answers`.
"""

from __future__ import annotations

import copy
import threading
import uuid
import xml.sax
from typing import Any

import pyxb
import pyxb.binding.content
from authorizenet import apicontractsv1

from simulators.authorize_net.accept_js import accept_js
from simulators.authorize_net.answers import BOM, Nonce, Transaction, ok, reply_error, send
from simulators.authorize_net.reporting import AuthorizeNetReporting
from simulators.authorize_net.tokens import AcceptJsTokens
from simulators.authorize_net.transactions import AuthorizeNetTransactions
from simulators.base import Request, Response

__all__ = ["BOM", "PATH", "AuthorizeNetSimulator"]

PATH = "/xml/v1/request.api"

# PyXB's default limit (20) rejects valid requests with a full billing address as
# "Nondeterminism exceeded"; the real gateway accepts them (the adapter raises it too).
pyxb.binding.content.AutomatonConfiguration.PermittedNondeterminism = 1000


class AuthorizeNetSimulator(AuthorizeNetTransactions, AuthorizeNetReporting, AcceptJsTokens):
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
