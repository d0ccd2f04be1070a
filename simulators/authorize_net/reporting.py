"""What Authorize.Net tells the merchant about its transactions: the Transaction Details API
(getTransactionDetails, getUnsettledTransactionList) and signed webhook notifications."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import requests

from simulators.authorize_net.answers import (
    Transaction,
    details_answer,
    reply_error,
    unsettled_answer,
)
from simulators.base import Response, Simulator


class AuthorizeNetReporting(Simulator):
    """Reports and notifications about the merchants' transactions."""

    transactions: dict[str, Transaction]
    webhook_id: str
    _state_lock: threading.RLock

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
