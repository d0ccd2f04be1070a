"""PayPal Payflow Pro's NVP API (https://pilot-payflowpro.paypal.com/), the transparent-redirect
endpoint of Payflow Link and a stand-in for PayPal's Express Checkout page, as far as the adapter
uses them.

Supported: the message protocol (a `NAME=value&…` body with length tags, never URL-encoded; the
`Content-Type: text/namevalue`, `X-VPS-REQUEST-ID` and `X-VPS-CLIENT-TIMEOUT` headers; a reused
request ID replays the first answer with `DUPLICATE=1`), the PARTNER/VENDOR/USER/PWD login,
secure tokens (`CREATESECURETOKEN=Y`: single use, 30 minutes, RESULT 160/161/162), the card
form posted to `POST /payflowlink`, transactions A/S/D/V/C/I with the pilot server's amount
triggers, and Express Checkout over Payflow (`TENDER=P`, `ACTION=S/G/D`) with the buyer's
approval page at `GET /cgi-bin/webscr`.

For tests and the demo: `accounts` (the logins it accepts), `post_card()` (the buyer's card form
reaching Payflow Link, without a browser), `approve_express()` (the buyer pressing Continue on
PayPal), `silent_posts` (what went, or would go, to SILENTPOSTURL; `send_silent_posts` sends them
over HTTP), `transactions` by PNREF, and `secure_token_lifetime_seconds` /
`express_token_lifetime_seconds` to make tokens expire.

Card transactions and secure tokens live in `transactions`, Express Checkout in `express`,
Payflow Link in `link`, the records kept in `records` and the pages shown in `pages`.
"""

from __future__ import annotations

import copy
import re
import threading
from typing import Any

from integrations.adapters import payflow_nvp
from simulators.base import Request, Response
from simulators.payflow import records
from simulators.payflow.express import PayflowExpress
from simulators.payflow.link import PayflowLink
from simulators.payflow.records import (
    ExpressToken,
    PayflowAccount,
    SecureToken,
    Transaction,
)

__all__ = ["PayflowAccount", "PayflowSimulator"]

TRANSACTION_TYPES = frozenset("SADVCIFLN")
TENDERS = frozenset("ACDKP")
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,32}$")  # 1 to 32 printable characters
SECURE_TOKEN_LIFETIME_SECONDS = 30 * 60.0
EXPRESS_TOKEN_LIFETIME_SECONDS = 3 * 3600.0


class PayflowSimulator(PayflowExpress, PayflowLink):
    content_type = "text/namevalue"

    def __init__(self) -> None:
        super().__init__()
        self.secure_token_lifetime_seconds = SECURE_TOKEN_LIFETIME_SECONDS
        self.express_token_lifetime_seconds = EXPRESS_TOKEN_LIFETIME_SECONDS
        # Whether the silent posts recorded in `silent_posts` also go out over HTTP (the demo
        # may turn it on; tests read the record).
        self.send_silent_posts = False
        self.accounts: set[PayflowAccount] = set()
        self.secure_tokens: dict[str, SecureToken] = {}  # by SECURETOKENID
        self.express_tokens: dict[str, ExpressToken] = {}  # by TOKEN
        self.transactions: dict[str, Transaction] = {}  # by PNREF
        # The silent posts Payflow Link would send: (SILENTPOSTURL, fields), in order.
        self.silent_posts: list[tuple[str, dict[str, str]]] = []
        self._answers: dict[tuple[str, str], dict[str, str]] = {}  # by (VENDOR, request ID)
        self._state = threading.RLock()

    def reset(self) -> None:
        super().reset()
        self.secure_token_lifetime_seconds = SECURE_TOKEN_LIFETIME_SECONDS
        self.express_token_lifetime_seconds = EXPRESS_TOKEN_LIFETIME_SECONDS
        self.send_silent_posts = False
        with self._state:
            self.accounts.clear()
            self.secure_tokens.clear()
            self.express_tokens.clear()
            self.transactions.clear()
            self.silent_posts.clear()
            self._answers.clear()

    def provider_state(self) -> dict[str, Any]:
        # A copy taken under the lock (the demo runner pickles it while requests go on), and
        # without the lock itself, which cannot be pickled.
        with self._state:
            state = super().provider_state()
            state.pop("_state")
            return copy.deepcopy(state)

    # --- routing --------------------------------------------------------------------------------

    def answer(self, request: Request) -> Response:
        route = (request.method, request.path)
        if route == ("POST", "/"):
            return self._api(request)
        if route == ("POST", "/payflowlink"):
            return self._payflowlink(request)
        if request.path == "/cgi-bin/webscr" and request.method in ("GET", "POST"):
            return self._paypal_page(request)
        return self.not_simulated(request)

    def _api(self, request: Request) -> Response:
        request_id = request.headers.get("X-VPS-REQUEST-ID", "")
        content_type = request.headers.get("Content-Type", "").replace(" ", "")
        # Payflow documents no RESULT for a missing request ID; a field format error is the
        # closest documented one. text/xml is XMLPay, whose parser rejects an NVP body.
        if content_type == "text/xml":
            return _reply(request_id, {"RESULT": "29", "RESPMSG": "Invalid XML document"})
        if content_type != "text/namevalue" or not _REQUEST_ID.match(request_id):
            return _reply(
                request_id,
                {
                    "RESULT": "7",
                    "RESPMSG": "Field format error: Content-Type text/namevalue and "
                    "X-VPS-REQUEST-ID (1 to 32 printable characters) are required",
                },
            )
        try:
            fields = payflow_nvp.decode(request.body.decode("utf-8"))
        except (payflow_nvp.NvpFormatError, UnicodeDecodeError):
            return _reply(
                request_id, {"RESULT": "7", "RESPMSG": "Field format error: Invalid information"}
            )
        client_timeout = request.headers.get("X-VPS-CLIENT-TIMEOUT")
        if client_timeout is not None and not (
            client_timeout.isdigit() and int(client_timeout) > 0
        ):
            # The client allows no time at all for the transaction.
            return _reply(
                request_id, {"RESULT": "11", "RESPMSG": "Client time-out waiting for response"}
            )
        if records.account_of(fields) not in self.accounts:
            return _reply(request_id, {"RESULT": "1", "RESPMSG": "User authentication failed"})
        vendor = fields["VENDOR"]
        with self._state:
            key = (vendor, request_id)
            if key in self._answers:
                # Payflow ignores the new request's data and answers the first one again.
                return _reply(request_id, {**self._answers[key], "DUPLICATE": "1"})
            answer = self._transaction(vendor, fields)
            if answer is None:
                return self.not_simulated(request)
            self._answers[key] = answer
        return _reply(request_id, answer)

    # --- NVP transactions -----------------------------------------------------------------------

    def _transaction(self, vendor: str, fields: dict[str, str]) -> dict[str, str] | None:
        trxtype = fields.get("TRXTYPE", "")
        tender = fields.get("TENDER", "C")
        if trxtype not in TRANSACTION_TYPES:
            return {"RESULT": "3", "RESPMSG": "Invalid transaction type"}
        if tender not in TENDERS:
            return {"RESULT": "2", "RESPMSG": "Invalid tender"}
        currency = fields.get("CURRENCY", "USD")
        if "AMT" in fields and not records.amount_valid(fields["AMT"], currency):
            return {"RESULT": "4", "RESPMSG": "Invalid amount"}
        if fields.get("CREATESECURETOKEN") == "Y":
            return self._create_secure_token(vendor, fields)
        if tender == "P" and "ACTION" in fields:
            return self._express(vendor, fields)
        if trxtype in ("A", "S") and tender == "C" and "ACCT" in fields:
            return self._card(vendor, fields, fields).as_answer()
        handlers = {
            "D": self._delayed_capture,
            "V": self._void,
            "C": self._credit,
            "I": self._inquiry,
        }
        handler = handlers.get(trxtype)
        return handler(vendor, fields) if handler else None


def _reply(request_id: str, fields: dict[str, str]) -> Response:
    return Response(
        200,
        payflow_nvp.encode(fields).encode(),
        "text/namevalue",
        {"X-VPS-REQUEST-ID": request_id, "Connection": "close"},
    )
