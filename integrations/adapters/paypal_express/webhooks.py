"""PayPal webhooks: verified by PayPal's own verify-webhook-signature call, then mapped."""

from __future__ import annotations

import json
from typing import Any

from integrations.adapters.base import InvalidWebhook, ResultState, WebhookEvent
from integrations.adapters.paypal_express.api import BoundedApi, call
from integrations.adapters.paypal_express.results import without_links

# Webhook event → what it says happened to the payment it is about.
EVENT_STATES: dict[str, ResultState | None] = {
    "PAYMENT.AUTHORIZATION.CREATED": ResultState.SUCCEEDED,
    "PAYMENT.AUTHORIZATION.VOIDED": None,
    "PAYMENT.SALE.COMPLETED": ResultState.SUCCEEDED,
    "PAYMENT.SALE.PENDING": ResultState.PENDING,
    "PAYMENT.SALE.DENIED": ResultState.FAILED,
    "PAYMENT.SALE.REFUNDED": ResultState.SUCCEEDED,
    "PAYMENT.SALE.REVERSED": None,
    "PAYMENT.CAPTURE.COMPLETED": ResultState.SUCCEEDED,
    "PAYMENT.CAPTURE.PENDING": ResultState.PENDING,
    "PAYMENT.CAPTURE.DENIED": ResultState.FAILED,
    "PAYMENT.CAPTURE.REFUNDED": ResultState.SUCCEEDED,
    "PAYMENT.CAPTURE.REVERSED": None,
}

# Events that settle the buyer's checkout payment itself: our ledger row may still hold the
# PAYMENT id (PAY-…) when they arrive (the execute call timed out, or the webhook beat it).
CHECKOUT_EVENTS = frozenset(
    {
        "PAYMENT.AUTHORIZATION.CREATED",
        "PAYMENT.SALE.COMPLETED",
        "PAYMENT.SALE.PENDING",
        "PAYMENT.SALE.DENIED",
    }
)

WEBHOOK_HEADERS = {
    "transmission_id": "paypal-transmission-id",
    "transmission_time": "paypal-transmission-time",
    "transmission_sig": "paypal-transmission-sig",
    "cert_url": "paypal-cert-url",
    "auth_algo": "paypal-auth-algo",
}


def verified_event(
    api: BoundedApi, webhook_id: str, body: bytes, headers: dict[str, str]
) -> WebhookEvent:
    """The event in `body` once PayPal confirms the signature in `headers`, else InvalidWebhook."""
    lowered = {name.lower(): value for name, value in headers.items()}
    signature = {field: lowered.get(header, "") for field, header in WEBHOOK_HEADERS.items()}
    missing = [WEBHOOK_HEADERS[field] for field, value in signature.items() if not value]
    if missing:
        raise InvalidWebhook(f"Missing PayPal signature headers: {', '.join(missing)}.")
    if not webhook_id:
        raise InvalidWebhook("No PayPal webhook ID is configured for this integration.")
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise InvalidWebhook("The webhook body is not JSON.") from None
    if not isinstance(event, dict) or not event.get("id") or not event.get("event_type"):
        raise InvalidWebhook("The webhook body is not a PayPal event.")
    # PayPal's own check; the SDK's WebhookEvent.verify always fails with current pyOpenSSL.
    answer = call(
        lambda: api.post(
            "v1/notifications/verify-webhook-signature",
            {**signature, "webhook_id": webhook_id, "webhook_event": event},
        )
    )
    if not isinstance(answer, dict) or answer.get("verification_status") != "SUCCESS":
        raise InvalidWebhook("PayPal did not verify the webhook signature.")
    return event_of(event)


def event_of(event: dict[str, Any]) -> WebhookEvent:
    """The event as plain data.

    An authorization or sale event about a checkout payment names the PAYMENT (PAY-…) as its
    reference, because that is what our ledger row holds until the payment is settled (the
    buyer's return has not been processed, execute timed out, or the sale is held); the
    authorization or sale id, which capture and refund need, is `settled_reference`. Other
    events (captures, refunds, voids) name their own resource, which is what our rows hold.
    """
    event_type = str(event["event_type"])
    resource = event.get("resource")
    if not isinstance(resource, dict):
        resource = {}
    resource_id = str(resource.get("id", ""))
    parent_payment = str(resource.get("parent_payment", ""))
    reference, settled_reference = resource_id, ""
    if event_type in CHECKOUT_EVENTS and parent_payment:
        reference, settled_reference = parent_payment, resource_id
    return WebhookEvent(
        id=str(event["id"]),
        type=event_type,
        reference=reference,
        settled_reference=settled_reference,
        state=EVENT_STATES.get(event_type),
        message=str(event.get("summary", "")),
        raw={
            "resource_id": resource_id,
            "parent_payment": parent_payment,
            **without_links(event),
        },
    )
