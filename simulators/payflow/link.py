"""Payflow Link's transparent redirect: the buyer's card form posted to `/payflowlink` with a
secure token, the fields it sends back to the store, and the silent post to SILENTPOSTURL."""

from __future__ import annotations

import logging
import threading
from urllib.parse import parse_qsl

import requests

from simulators.base import Request, Response
from simulators.payflow import pages, records
from simulators.payflow.transactions import PayflowTransactions, refused

logger = logging.getLogger(__name__)


class PayflowLink(PayflowTransactions):
    """The card form reaching Payflow Link, with or without a browser."""

    send_silent_posts: bool
    silent_posts: list[tuple[str, dict[str, str]]]

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
                    **refused(161, "Transaction using secure token is already in progress"),
                }
            if secure.pnref:
                return {**base, **refused(160, "Secure Token already been used")}
            if self._expired(secure):
                return {**base, **refused(162, "Secure Token Expired")}
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


def _send_silent_post(url: str, fields: dict[str, str]) -> None:
    """Payflow Link's server-to-server copy of the result; a store that fails it loses nothing
    (the browser's return carries the same fields), so failures are only logged."""
    try:
        requests.post(url, data=fields, timeout=10)
    except requests.RequestException as error:
        logger.info("Silent post to %s failed: %s", url, error)
