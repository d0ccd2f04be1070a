"""Stripe's events: signed as Stripe signs them, and sent to the webhook endpoints registered.

`signed_webhook()` builds one event for a test. Endpoints registered with `register_webhook()`
(what the Stripe dashboard does) or `POST /v1/webhook_endpoints`, on this machine only, receive
the events the simulator's own changes cause, a moment (`webhook_delay_seconds`) after the call
that caused them: one attempt each, recorded in `deliveries`.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from simulators.stripe.wire import API_VERSION, invalid, new_id, signature_header

# What a PaymentIntent's new status after a confirmation tells the endpoints.
CONFIRMED_EVENTS = {
    "requires_action": "payment_intent.requires_action",
    "requires_capture": "payment_intent.amount_capturable_updated",
    "succeeded": "payment_intent.succeeded",
}


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost")


class WebhookEndpoints:
    """The account's webhook endpoints and the events sent to them."""

    payment_intents: dict[str, dict[str, Any]]
    charges: dict[str, dict[str, Any]]
    _state_lock: threading.RLock

    def __init__(self) -> None:
        # Endpoints by id: {"id", "url", "enabled_events", "secret", …}.
        self.webhook_endpoints: dict[str, dict[str, Any]] = {}
        # What was sent: {"endpoint_id", "event_id", "event_type", "url", "status"}, oldest first.
        self.deliveries: list[dict[str, Any]] = []
        self.webhook_delay_seconds = 1.0

    def signed_webhook(
        self,
        event_type: str,
        payment_intent_id: str,
        secret: str,
        *,
        timestamp: int | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The event Stripe would send now about the PaymentIntent, signed with `secret`.

        `charge.*` events carry the PaymentIntent's latest charge; `payment_intent.*` events the
        PaymentIntent itself. Answers the raw body and the headers of Stripe's POST.
        """
        with self._state_lock:
            intent = self.payment_intents[payment_intent_id]
            if event_type.startswith("charge."):
                obj = dict(self.charges[intent["latest_charge"]])
            else:
                obj = dict(intent)
        signed_at = int(time.time()) if timestamp is None else timestamp
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": signed_at,
            "data": {"object": obj},
            "livemode": obj["livemode"],
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        body = json.dumps(event, indent=2).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": signature_header(body, secret, signed_at),
        }
        return body, headers

    def register_webhook(
        self, url: str, *, secret: str = "", enabled_events: tuple[str, ...] = ("*",)
    ) -> dict[str, Any]:
        """Add an endpoint for `url` (on this machine), as the Stripe dashboard does; answers
        it with its signing `secret` (the integration's `webhook_signing_secret`)."""
        if not is_loopback(url):
            raise ValueError(f"{url} is not on this machine.")
        endpoint: dict[str, Any] = {
            "id": new_id("we"),
            "object": "webhook_endpoint",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "enabled_events": list(enabled_events),
            "livemode": False,
            "secret": secret or f"whsec_{secrets.token_hex(16)}",
            "status": "enabled",
            "url": url,
        }
        with self._state_lock:
            self.webhook_endpoints[endpoint["id"]] = endpoint
        return dict(endpoint)

    def _create_webhook_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        for name in params:
            if name not in ("url", "enabled_events", "description", "metadata", "api_version"):
                raise invalid(
                    f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
                )
        url, events = params.get("url"), params.get("enabled_events")
        if not url:
            raise invalid("Missing required param: url.", param="url", code="parameter_missing")
        if not isinstance(events, list) or not events:
            raise invalid(
                "Missing required param: enabled_events.",
                param="enabled_events",
                code="parameter_missing",
            )
        if not is_loopback(str(url)):
            # Stripe wants a public HTTPS URL; this stand-in only calls this machine.
            raise invalid("Invalid URL: the simulator only sends to 127.0.0.1.", param="url")
        return self.register_webhook(str(url), enabled_events=tuple(map(str, events)))

    def _notify(self, event_type: str, payment_intent_id: str) -> None:
        """Send `event_type` about the PaymentIntent to the endpoints that listen for it."""
        for endpoint in list(self.webhook_endpoints.values()):
            if not {"*", event_type} & set(endpoint["enabled_events"]):
                continue
            body, headers = self.signed_webhook(event_type, payment_intent_id, endpoint["secret"])
            timer = threading.Timer(
                self.webhook_delay_seconds, self._deliver, (endpoint, event_type, body, headers)
            )
            timer.daemon = True
            timer.start()

    def _deliver(
        self, endpoint: dict[str, Any], event_type: str, body: bytes, headers: dict[str, str]
    ) -> None:
        # One attempt: Stripe retries for three days, which a demo does not need.
        status = 0
        if is_loopback(endpoint["url"]):
            with contextlib.suppress(requests.RequestException):
                status = requests.post(
                    endpoint["url"], data=body, headers=headers, timeout=10
                ).status_code
        with self._state_lock:
            self.deliveries.append(
                {
                    "endpoint_id": endpoint["id"],
                    "event_id": json.loads(body)["id"],
                    "event_type": event_type,
                    "url": endpoint["url"],
                    "status": status,
                }
            )
