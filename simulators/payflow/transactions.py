"""Payflow's card transactions and their follow-ups as the pilot server runs them: secure tokens
(CREATESECURETOKEN=Y), sales and authorizations with its amount triggers, delayed capture (D),
void (V), credit (C) and inquiry (I), and the transaction records they keep by PNREF."""

from __future__ import annotations

import re
import secrets
import string
import threading
import time

from payments.money import exponent
from simulators.base import Simulator
from simulators.payflow import records
from simulators.payflow.records import SecureToken, Transaction

_SECURE_TOKEN_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")
_TOKEN_ALPHABET = string.ascii_letters + string.digits
LOGIN_FIELDS = frozenset({"PARTNER", "VENDOR", "USER", "PWD"})
APPROVED = {"RESULT": "0", "RESPMSG": "Approved"}


def refused(result: int, message: str) -> dict[str, str]:
    return {"RESULT": str(result), "RESPMSG": message}


class PayflowTransactions(Simulator):
    """Secure tokens and card transactions, by vendor, and the rules their follow-ups obey."""

    secure_token_lifetime_seconds: float
    secure_tokens: dict[str, SecureToken]
    transactions: dict[str, Transaction]
    _state: threading.RLock

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
            if name not in LOGIN_FIELDS | {"CREATESECURETOKEN"}
        }
        self.secure_tokens[token_id] = SecureToken(
            token, token_id, vendor, transaction, time.time()
        )
        return {**APPROVED, "SECURETOKEN": token, "SECURETOKENID": token_id}

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
            return refused(111, "Capture error: only an approved authorization can be captured")
        if original.closed:
            return refused(
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
            return refused(111, "Capture error: the amount exceeds what remains authorized")
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
            return refused(108, "Void error: this transaction cannot be voided")
        if original.trxtype == "A" and original.closed:
            reason = "voided" if original.voided else "captured in full"
            return refused(108, f"Void error: the authorization was already {reason}")
        if original.trxtype in ("S", "D") and (original.voided or original.refunded):
            return refused(108, "Void error: the transaction was already voided or credited")
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
            return refused(105, "Credit error: only a sale or a delayed capture can be credited")
        refundable = original.amount - original.refunded
        amount = (
            records.minor_units(fields["AMT"], original.currency) if "AMT" in fields else refundable
        )
        if amount <= 0 or amount > refundable:
            return refused(105, "Credit error: the amount exceeds what remains to credit")
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
                return refused(7, "Field format error: Secure Token is invalid")
            if not token.pnref and self._expired(token):
                return refused(162, "Secure Token Expired")
            if not token.pnref:
                return refused(19, "Original transaction ID not found")
            original = self.transactions[token.pnref]
        else:
            found = self._original(vendor, fields)
            if isinstance(found, dict):
                return found
            original = found
        answer = {
            **APPROVED,
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
            return refused(19, "Original transaction ID not found")
        if fields.get("TENDER", "C") != original.tender:
            return refused(2, "Invalid tender: the original transaction used another tender")
        return original
