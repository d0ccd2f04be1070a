"""Authorize.Net webhooks: X-ANET-Signature (HMAC-SHA512 of the raw body) first, then the event."""

from __future__ import annotations

import hashlib
import hmac
import json

from integrations.adapters.authorize_net.results import RESPONSE_STATES
from integrations.adapters.base import InvalidWebhook, ResultState, WebhookEvent

WEBHOOK_STATES = {
    "net.authorize.payment.fraud.declined": ResultState.FAILED,
    "net.authorize.payment.fraud.held": ResultState.PENDING,
    "net.authorize.payment.fraud.approved": ResultState.SUCCEEDED,
}
TRANSACTION_EVENTS = frozenset(
    {
        "net.authorize.payment.authorization.created",
        "net.authorize.payment.authcapture.created",
        "net.authorize.payment.capture.created",
        "net.authorize.payment.refund.created",
        "net.authorize.payment.priorAuthCapture.created",
    }
)


def parse_webhook(body: bytes, headers: dict[str, str], *, signature_key: str) -> WebhookEvent:
    """Verify X-ANET-Signature over the raw body, then read the notification."""
    if not signature_key:
        raise InvalidWebhook("No Authorize.Net signature key is stored for this integration.")
    header = next(
        (value for name, value in headers.items() if name.lower() == "x-anet-signature"), ""
    )
    scheme, _, given = header.strip().partition("=")
    if scheme.lower() != "sha512" or not given:
        raise InvalidWebhook("The X-ANET-Signature header is missing or malformed.")
    # The key is used as text, not hex-decoded, exactly as Authorize.Net signs.
    expected = hmac.new(signature_key.encode(), body, hashlib.sha512).hexdigest()
    if not hmac.compare_digest(expected.lower(), given.strip().lower()):
        raise InvalidWebhook("The X-ANET-Signature does not match the body.")
    try:
        notification = json.loads(body)
        event_id = notification["notificationId"]
        event_type = str(notification["eventType"])
        payload = notification.get("payload") or {}
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidWebhook("The notification body cannot be read.") from error
    if not isinstance(event_id, str) or not event_id.strip():
        # Authorize.Net names every notification; ours are applied once per id, so one without
        # (or with null, which str() would read as "None") cannot be.
        raise InvalidWebhook("The notification has no notificationId.")
    if not isinstance(payload, dict):
        raise InvalidWebhook("The notification payload cannot be read.")
    state: ResultState | None = WEBHOOK_STATES.get(event_type)
    if event_type in TRANSACTION_EVENTS:
        state = RESPONSE_STATES.get(str(payload.get("responseCode")), ResultState.FAILED)
    reference = str(payload.get("id", "")) if payload.get("entityName") == "transaction" else ""
    return WebhookEvent(
        id=event_id,
        type=event_type,
        reference=reference,
        state=state,
        message=webhook_message(event_type),
        raw=notification,
        # Our invoiceNumber is the order number (cut to the gateway's 20 characters).
        order_number=str(payload.get("invoiceNumber", "")) if reference else "",
    )


def webhook_message(event_type: str) -> str:
    return {
        "net.authorize.payment.authorization.created": "Authorize.Net authorized the payment.",
        "net.authorize.payment.authcapture.created": "Authorize.Net charged the payment.",
        "net.authorize.payment.capture.created": "Authorize.Net captured the payment.",
        "net.authorize.payment.priorAuthCapture.created": "Authorize.Net captured the payment.",
        "net.authorize.payment.void.created": "The payment was voided at Authorize.Net.",
        "net.authorize.payment.refund.created": "Authorize.Net refunded the payment.",
        "net.authorize.payment.fraud.declined": "Authorize.Net's fraud filters declined it.",
        "net.authorize.payment.fraud.held": "Authorize.Net's fraud filters held it for review.",
        "net.authorize.payment.fraud.approved": "The held payment was approved.",
    }.get(event_type, event_type)
