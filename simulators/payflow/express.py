"""Express Checkout over Payflow (`TENDER=P`, `ACTION=S/G/D`) and the stand-in for PayPal's
approval page at `/cgi-bin/webscr`, where the buyer continues or cancels."""

from __future__ import annotations

import secrets
import time
from urllib.parse import parse_qsl, urlencode

from simulators.base import Request, Response
from simulators.payflow import pages, records
from simulators.payflow.records import ExpressToken
from simulators.payflow.transactions import (
    APPROVED,
    LOGIN_FIELDS,
    PayflowTransactions,
    refused,
)


class PayflowExpress(PayflowTransactions):
    """Express Checkout tokens: set up, approved by the buyer, read and completed."""

    express_token_lifetime_seconds: float
    express_tokens: dict[str, ExpressToken]

    def _express(self, vendor: str, fields: dict[str, str]) -> dict[str, str]:
        action = fields["ACTION"]
        correlation = {"CORRELATIONID": secrets.token_hex(7)}
        if action == "S":
            missing = [n for n in ("AMT", "RETURNURL", "CANCELURL") if not fields.get(n)]
            if missing or fields.get("TRXTYPE") not in ("A", "S"):
                return refused(7, f"Field format error: {', '.join(missing) or 'TRXTYPE'} missing")
            token = "EC-" + records.new_reference(17)
            kept = {n: v for n, v in fields.items() if n not in LOGIN_FIELDS}
            self.express_tokens[token] = ExpressToken(token, vendor, kept, time.time())
            return {**APPROVED, "TOKEN": token, **correlation}
        express = self.express_tokens.get(fields.get("TOKEN", ""))
        if express is None or express.vendor != vendor:
            return refused(7, "Field format error: 10410-Invalid token")
        if time.time() - express.created_at > self.express_token_lifetime_seconds:
            return refused(7, "Field format error: 10411-This Express Checkout session has expired")
        if action == "G":
            payer = {"PAYERID": express.payer_id, "PAYERSTATUS": "verified"}
            return {
                **APPROVED,
                "TOKEN": express.token,
                "EMAIL": "buyer@example.com",
                "FIRSTNAME": "Sam",
                "LASTNAME": "Buyer",
                **(payer if express.payer_id else {}),
                **correlation,
            }
        if action != "D":
            return refused(7, "Field format error: ACTION must be S, G or D")
        if express.pnref:
            return refused(
                7,
                "Field format error: 10415-A successful transaction has already been "
                "completed for this token",
            )
        if not express.payer_id:
            return refused(
                7, "Field format error: 10485-Payment has not been authorized by the user"
            )
        if fields.get("PAYERID") != express.payer_id:
            return refused(7, "Field format error: 10406-The PayerID value is invalid")
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


def _with_query(url: str, query: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"
