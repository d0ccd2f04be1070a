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
"""

from __future__ import annotations

import copy
import logging
import re
import secrets
import string
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests

from integrations.adapters import payflow_nvp
from payments.money import exponent
from simulators.base import Request, Response, Simulator
from simulators.payflow import pages, records
from simulators.payflow.records import (
    ExpressToken,
    PayflowAccount,
    SecureToken,
    Transaction,
)

logger = logging.getLogger(__name__)

TRANSACTION_TYPES = frozenset("SADVCIFLN")
TENDERS = frozenset("ACDKP")
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,32}$")  # 1 to 32 printable characters
_SECURE_TOKEN_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")
_TOKEN_ALPHABET = string.ascii_letters + string.digits
_LOGIN_FIELDS = frozenset({"PARTNER", "VENDOR", "USER", "PWD"})
_APPROVED = {"RESULT": "0", "RESPMSG": "Approved"}
SECURE_TOKEN_LIFETIME_SECONDS = 30 * 60.0
EXPRESS_TOKEN_LIFETIME_SECONDS = 3 * 3600.0


class PayflowSimulator(Simulator):
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

    def _create_secure_token(self, vendor: str, fields: dict[str, str]) -> dict[str, str]:
        token_id = fields.get("SECURETOKENID", "")
        if not _SECURE_TOKEN_ID.match(token_id):
            return {"RESULT": "7", "RESPMSG": "Field format error: Secure Token Id is invalid"}
        if token_id in self.secure_tokens:
            return {
                "RESULT": "7",
                "RESPMSG": "Field format error: Secure Token Id already been used",
            }
        token = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(25))
        transaction = {
            name: value
            for name, value in fields.items()
            if name not in _LOGIN_FIELDS | {"CREATESECURETOKEN"}
        }
        self.secure_tokens[token_id] = SecureToken(
            token, token_id, vendor, transaction, time.time()
        )
        return {**_APPROVED, "SECURETOKEN": token, "SECURETOKENID": token_id}

    def _card(self, vendor: str, transaction: dict[str, str], card: dict[str, str]) -> Transaction:
        """Run an A or S card transaction: the pilot server's triggers decide the outcome."""
        currency = transaction.get("CURRENCY", "USD")
        amount = records.minor_units(transaction.get("AMT", "0.00"), currency)
        acct = card.get("ACCT", "").replace(" ", "")
        result, message = 0, "Approved"
        if not (acct.isdigit() and 13 <= len(acct) <= 19 and records.luhn_valid(acct)):
            result, message = 23, "Invalid account number"
        elif not records.expiry_valid(card.get("EXPDATE", "")):
            result, message = 24, "Invalid expiration date"
        elif card.get("CVV2") and not re.fullmatch(r"\d{3,4}", card["CVV2"]):
            result, message = 7, "Field format error: CVV2 is invalid"
        else:
            whole_units = amount // 10 ** exponent(currency)
            if whole_units == 1012 or whole_units >= 2001:
                result, message = 12, "Declined"
            elif whole_units == 1013:
                result, message = 13, "Referral"
        record = self._record(
            vendor,
            trxtype=transaction.get("TRXTYPE", "S"),
            tender="C",
            amount=amount,
            currency=currency,
            result=result,
            respmsg=message,
            acct_last4=acct[-4:],
            invnum=transaction.get("INVNUM", ""),
        )
        extra = {"AUTHCODE": f"{secrets.randbelow(10**6):06d}"} if record.approved else {}
        if record.approved:
            extra.update(
                {"AVSADDR": "Y", "AVSZIP": "Y", "CVV2MATCH": "Y" if "CVV2" in card else "X"}
            )
        record.extra = extra
        return record

    def _delayed_capture(self, vendor: str, fields: dict[str, str]) -> dict[str, str]:
        original = self._original(vendor, fields)
        if isinstance(original, dict):
            return original
        if original.trxtype != "A" or not original.approved:
            return _refused(111, "Capture error: only an approved authorization can be captured")
        if original.closed:
            return _refused(
                111,
                "Capture error: the authorization was voided"
                if original.voided
                else "Capture error: the authorization has already been captured",
            )
        remaining = original.amount - original.captured
        amount = (
            records.minor_units(fields["AMT"], original.currency) if "AMT" in fields else remaining
        )
        if amount <= 0 or amount > remaining:
            return _refused(111, "Capture error: the amount exceeds what remains authorized")
        original.captured += amount
        # CAPTURECOMPLETE=Y (the default) releases whatever remains of the authorization.
        if fields.get("CAPTURECOMPLETE", "Y") != "N" or original.captured == original.amount:
            original.closed = True
        capture = self._derived(original, "D", amount)
        return capture.as_answer()

    def _void(self, vendor: str, fields: dict[str, str]) -> dict[str, str]:
        original = self._original(vendor, fields)
        if isinstance(original, dict):
            return original
        if not original.approved or original.trxtype not in ("A", "S", "D"):
            return _refused(108, "Void error: this transaction cannot be voided")
        if original.trxtype == "A" and original.closed:
            reason = "voided" if original.voided else "captured in full"
            return _refused(108, f"Void error: the authorization was already {reason}")
        if original.trxtype in ("S", "D") and (original.voided or original.refunded):
            return _refused(108, "Void error: the transaction was already voided or credited")
        original.voided = True
        original.closed = True
        # Voiding an authorization after partial captures releases only what remains.
        released = original.amount - original.captured if original.trxtype == "A" else 0
        return self._derived(original, "V", released or original.amount).as_answer()

    def _credit(self, vendor: str, fields: dict[str, str]) -> dict[str, str]:
        original = self._original(vendor, fields)
        if isinstance(original, dict):
            return original
        if original.trxtype not in ("S", "D") or not original.approved or original.voided:
            return _refused(105, "Credit error: only a sale or a delayed capture can be credited")
        refundable = original.amount - original.refunded
        amount = (
            records.minor_units(fields["AMT"], original.currency) if "AMT" in fields else refundable
        )
        if amount <= 0 or amount > refundable:
            return _refused(105, "Credit error: the amount exceeds what remains to credit")
        original.refunded += amount
        return self._derived(original, "C", amount).as_answer()

    def _inquiry(self, vendor: str, fields: dict[str, str]) -> dict[str, str]:
        if "SECURETOKEN" in fields:
            token = next(
                (
                    t
                    for t in self.secure_tokens.values()
                    if t.token == fields["SECURETOKEN"] and t.vendor == vendor
                ),
                None,
            )
            if token is None:
                return _refused(7, "Field format error: Secure Token is invalid")
            if not token.pnref and self._expired(token):
                return _refused(162, "Secure Token Expired")
            if not token.pnref:
                return _refused(19, "Original transaction ID not found")
            original = self.transactions[token.pnref]
        else:
            found = self._original(vendor, fields)
            if isinstance(found, dict):
                return found
            original = found
        answer = {
            **_APPROVED,
            "PNREF": records.new_reference(),
            "ORIGRESULT": str(original.result),
            "ORIGPNREF": original.pnref,
            "TRANSSTATE": records.transaction_state(original),
            "TRXTYPE": original.trxtype,
            "TENDER": original.tender,
            "AMT": records.major_units(original.amount, original.currency),
            "CURRENCY": original.currency,
        }
        if original.acct_last4:
            answer["ACCT"] = original.acct_last4
        if original.invnum:
            answer["INVNUM"] = original.invnum
        return answer

    # --- Express Checkout -----------------------------------------------------------------------

    def _express(self, vendor: str, fields: dict[str, str]) -> dict[str, str]:
        action = fields["ACTION"]
        correlation = {"CORRELATIONID": secrets.token_hex(7)}
        if action == "S":
            missing = [n for n in ("AMT", "RETURNURL", "CANCELURL") if not fields.get(n)]
            if missing or fields.get("TRXTYPE") not in ("A", "S"):
                return _refused(7, f"Field format error: {', '.join(missing) or 'TRXTYPE'} missing")
            token = "EC-" + records.new_reference(17)
            kept = {n: v for n, v in fields.items() if n not in _LOGIN_FIELDS}
            self.express_tokens[token] = ExpressToken(token, vendor, kept, time.time())
            return {**_APPROVED, "TOKEN": token, **correlation}
        express = self.express_tokens.get(fields.get("TOKEN", ""))
        if express is None or express.vendor != vendor:
            return _refused(7, "Field format error: 10410-Invalid token")
        if time.time() - express.created_at > self.express_token_lifetime_seconds:
            return _refused(
                7, "Field format error: 10411-This Express Checkout session has expired"
            )
        if action == "G":
            payer = {"PAYERID": express.payer_id, "PAYERSTATUS": "verified"}
            return {
                **_APPROVED,
                "TOKEN": express.token,
                "EMAIL": "buyer@example.com",
                "FIRSTNAME": "Sam",
                "LASTNAME": "Buyer",
                **(payer if express.payer_id else {}),
                **correlation,
            }
        if action != "D":
            return _refused(7, "Field format error: ACTION must be S, G or D")
        if express.pnref:
            return _refused(
                7,
                "Field format error: 10415-A successful transaction has already been "
                "completed for this token",
            )
        if not express.payer_id:
            return _refused(
                7, "Field format error: 10485-Payment has not been authorized by the user"
            )
        if fields.get("PAYERID") != express.payer_id:
            return _refused(7, "Field format error: 10406-The PayerID value is invalid")
        currency = express.fields.get("CURRENCY", "USD")
        amount_text = fields.get("AMT", express.fields["AMT"])
        record = self._record(
            vendor,
            trxtype=fields.get("TRXTYPE", express.fields["TRXTYPE"]),
            tender="P",
            amount=records.minor_units(amount_text, currency),
            currency=currency,
            result=0,
            respmsg="Approved",
            invnum=express.fields.get("INVNUM", ""),
        )
        record.extra = {"PPREF": secrets.token_hex(8).upper()[:17], "PAYMENTTYPE": "instant"}
        express.pnref = record.pnref
        return {**record.as_answer(), "TOKEN": express.token, **correlation}

    def approve_express(self, token: str) -> dict[str, str]:
        """The buyer approves on PayPal: the query PayPal sends the browser back with."""
        with self._state:
            express = self.express_tokens[token]
            if not express.payer_id:
                express.payer_id = records.new_reference(13)
            return {"token": token, "PayerID": express.payer_id}

    def _paypal_page(self, request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        query = {name: values[0] for name, values in request.query.items()}
        fields = {**query, **form}
        with self._state:
            express = self.express_tokens.get(fields.get("token", ""))
        if express is None:
            return pages.page(
                404, "PayPal", "<p>This checkout session is unknown or has ended.</p>"
            )
        if request.method == "POST":
            if fields.get("choice") == "continue":
                target = _with_query(
                    express.fields["RETURNURL"], self.approve_express(express.token)
                )
            else:
                target = _with_query(express.fields["CANCELURL"], {"token": express.token})
            return Response(303, b"", "text/html", {"Location": target})
        amount = f"{express.fields['AMT']} {express.fields.get('CURRENCY', 'USD')}"
        return pages.paypal_approval(express.token, amount, express.fields.get("INVNUM", ""))

    # --- Payflow Link's transparent redirect ----------------------------------------------------

    def _payflowlink(self, request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        with self._state:
            known = self.secure_tokens.get(form.get("SECURETOKENID", ""))
        if known is None or known.token != form.get("SECURETOKEN"):
            return pages.page(400, "Payflow Link", "<p>Secure Token is invalid.</p>")
        result = self.post_card(
            form["SECURETOKEN"],
            form["SECURETOKENID"],
            form.get("ACCT", ""),
            form.get("EXPDATE", ""),
            form.get("CVV2", ""),
        )
        target = known.fields.get("RETURNURL" if result["RESULT"] == "0" else "ERRORURL", "")
        target = target or known.fields.get("RETURNURL", "")
        return pages.auto_post(target, result)

    def post_card(
        self, token: str, token_id: str, acct: str, expdate: str, cvv2: str
    ) -> dict[str, str]:
        """The buyer's card form reaches Payflow Link: the fields it posts back to the store.

        The same fields go server to server to SILENTPOSTURL (recorded in `silent_posts`).
        """
        with self._state:
            secure = self.secure_tokens.get(token_id)
            if secure is None or secure.token != token:
                return {"RESULT": "7", "RESPMSG": "Field format error: Secure Token is invalid"}
            base = {"SECURETOKEN": token, "SECURETOKENID": token_id}
            if secure.in_progress:
                return {
                    **base,
                    **_refused(161, "Transaction using secure token is already in progress"),
                }
            if secure.pnref:
                return {**base, **_refused(160, "Secure Token already been used")}
            if self._expired(secure):
                return {**base, **_refused(162, "Secure Token Expired")}
            secure.in_progress = True
        try:
            card = {"ACCT": acct, "EXPDATE": expdate, **({"CVV2": cvv2} if cvv2 else {})}
            with self._state:
                record = self._card(secure.vendor, secure.fields, card)
                secure.pnref = record.pnref
        finally:
            secure.in_progress = False
        fields = {
            **record.as_answer(),
            **base,
            "AMT": records.major_units(record.amount, record.currency),
            "TRXTYPE": record.trxtype,
            "TENDER": "C",
            "ACCT": record.acct_last4,
            "INVNUM": record.invnum,
        }
        if secure.fields.get("SILENTPOSTURL"):
            silent_post = (secure.fields["SILENTPOSTURL"], dict(fields))
            with self._state:
                self.silent_posts.append(silent_post)
            if self.send_silent_posts:
                threading.Thread(target=_send_silent_post, args=silent_post, daemon=True).start()
        return fields

    # --- state helpers --------------------------------------------------------------------------

    def _expired(self, token: SecureToken) -> bool:
        return time.time() - token.created_at > self.secure_token_lifetime_seconds

    def _record(self, vendor: str, **values: object) -> Transaction:
        record = Transaction(pnref=records.new_reference(), vendor=vendor, **values)  # type: ignore[arg-type]
        self.transactions[record.pnref] = record
        return record

    def _derived(self, original: Transaction, trxtype: str, amount: int) -> Transaction:
        return self._record(
            original.vendor,
            trxtype=trxtype,
            tender=original.tender,
            amount=amount,
            currency=original.currency,
            result=0,
            respmsg="Approved",
            origid=original.pnref,
            acct_last4=original.acct_last4,
            invnum=original.invnum,
        )

    def _original(self, vendor: str, fields: dict[str, str]) -> Transaction | dict[str, str]:
        """The transaction ORIGID names, or the answer refusing the request."""
        original = self.transactions.get(fields.get("ORIGID", ""))
        if original is None or original.vendor != vendor:
            return _refused(19, "Original transaction ID not found")
        if fields.get("TENDER", "C") != original.tender:
            return _refused(2, "Invalid tender: the original transaction used another tender")
        return original


def _send_silent_post(url: str, fields: dict[str, str]) -> None:
    """Payflow Link's server-to-server copy of the result; a store that fails it loses nothing
    (the browser's return carries the same fields), so failures are only logged."""
    try:
        requests.post(url, data=fields, timeout=10)
    except requests.RequestException as error:
        logger.info("Silent post to %s failed: %s", url, error)


def _refused(result: int, message: str) -> dict[str, str]:
    return {"RESULT": str(result), "RESPMSG": message}


def _with_query(url: str, query: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"


def _reply(request_id: str, fields: dict[str, str]) -> Response:
    return Response(
        200,
        payflow_nvp.encode(fields).encode(),
        "text/namevalue",
        {"X-VPS-REQUEST-ID": request_id, "Connection": "close"},
    )
