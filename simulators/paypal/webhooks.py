"""PayPal's webhooks: subscriptions (`register_webhook()` or `POST /v1/notifications/webhooks`,
loopback URLs only) and the signed events sent to them a moment after the call that caused them."""

from __future__ import annotations

import threading
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from simulators.base import Response, Simulator
from simulators.paypal.answers import error, invalid, json_answer, public, transaction_id
from simulators.paypal.signing import CERT_ID, deliver, is_loopback, signed_event


class PayPalWebhooks(Simulator):
    """The webhooks registered by each client and what was delivered to them."""

    webhooks: dict[str, dict[str, Any]]
    deliveries: list[dict[str, Any]]
    webhook_delay_seconds: float
    _state_lock: threading.RLock
    _key: rsa.RSAPrivateKey

    @property
    def cert_url(self) -> str:
        return f"{self.url}/v1/notifications/certs/{CERT_ID}"

    def webhook(
        self, event_type: str, resource: dict[str, Any], webhook_id: str
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook PayPal would send for `resource`, signed for `webhook_id`: (body, headers)."""
        return signed_event(self._key, self.cert_url, event_type, resource, webhook_id)

    signed_webhook = webhook

    def register_webhook(
        self,
        client_id: str,
        url: str,
        *,
        webhook_id: str = "",
        event_types: tuple[str, ...] = ("*",),
    ) -> str:
        """Subscribe `url` (on this machine) to the client's events, as PayPal's developer
        dashboard does; answers the webhook id the integration's `webhook_id` setting needs."""
        if not is_loopback(url):
            raise ValueError(f"{url} is not on this machine.")
        webhook_id = webhook_id or transaction_id()
        with self._state_lock:
            self.webhooks[webhook_id] = {
                "_client": client_id,
                "id": webhook_id,
                "url": url,
                "event_types": [{"name": name} for name in event_types],
            }
        return webhook_id

    def _create_webhook(self, client_id: str, body: dict[str, Any]) -> Response:
        url, event_types = body.get("url"), body.get("event_types")
        if not isinstance(url, str) or not is_loopback(url):
            # PayPal wants HTTPS; this stand-in wants an address on this machine.
            return invalid("url", "Must be a URL on this machine (127.0.0.1 or localhost).")
        if not isinstance(event_types, list) or not event_types:
            return invalid("event_types", "This field required.")
        mine = [w for w in self.webhooks.values() if w["_client"] == client_id]
        if any(w["url"] == url for w in mine):
            return error(400, "WEBHOOK_URL_ALREADY_EXISTS")
        if len(mine) >= 10:
            return error(400, "WEBHOOK_NUMBER_LIMIT_EXCEEDED")
        names = tuple(str(e.get("name")) for e in event_types if isinstance(e, dict))
        webhook_id = self.register_webhook(client_id, url, event_types=names)
        return json_answer(201, public(self.webhooks[webhook_id]))

    def _notify(self, client_id: str, event_type: str, resource: dict[str, Any]) -> None:
        """Send `event_type` to the client's webhooks subscribed to it, after a moment."""
        for hook in list(self.webhooks.values()):
            names = {e["name"] for e in hook["event_types"]}
            if hook["_client"] != client_id or not names & {"*", event_type}:
                continue
            body, headers = self.webhook(event_type, resource, hook["id"])
            timer = threading.Timer(
                self.webhook_delay_seconds, self._deliver, (hook, event_type, body, headers)
            )
            timer.daemon = True
            timer.start()

    def _deliver(
        self, hook: dict[str, Any], event_type: str, body: bytes, headers: dict[str, str]
    ) -> None:
        status = deliver(hook["url"], body, headers)
        with self._state_lock:
            self.deliveries.append(
                {
                    "webhook_id": hook["id"],
                    "event_type": event_type,
                    "url": hook["url"],
                    "status": status,
                }
            )
