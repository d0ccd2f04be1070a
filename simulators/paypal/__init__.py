"""PayPal's REST API v1 (https://api-m.sandbox.paypal.com) and its buyer approval page.

Served: `POST /v1/oauth2/token` (HTTP Basic `client_id:secret`, `grant_type=client_credentials`);
with the Bearer token: `POST /v1/payments/payment` (intent `sale` or `authorize`, payer `paypal`),
`GET /v1/payments/payment/<id>`, `POST …/payment/<id>/execute`,
`GET|POST /v1/payments/authorization/<id>[/capture|/void]`, `GET|POST
/v1/payments/capture/<id>[/refund]`, `GET|POST /v1/payments/sale/<id>[/refund]`,
`GET /v1/payments/refund/<id>` and `POST /v1/notifications/verify-webhook-signature`.
A `PayPal-Request-Id` seen before (same client, same path) replays the first successful answer.

The buyer's part: `GET /checkoutnow?token=EC-…` shows a stand-in for PayPal's approval page; its
form posts to `POST /checkoutnow`, which sends the browser to the payment's `return_url` with
`paymentId`, `token` and `PayerID` (approve) or to its `cancel_url` with `token` (cancel).
Webhooks are signed like PayPal's: SHA256withRSA over `transmission_id|time|webhook_id|crc32`,
with a certificate served at `PAYPAL-CERT-URL`. `webhook()` builds one for a test; webhooks
registered (`register_webhook()` or `POST /v1/notifications/webhooks`, loopback URLs only) are
sent PAYMENT.AUTHORIZATION.CREATED/VOIDED, PAYMENT.SALE.COMPLETED, PAYMENT.CAPTURE.COMPLETED and
PAYMENT.SALE/CAPTURE.REFUNDED a moment (`webhook_delay_seconds`) after the call that caused them.

The API's payments live in `payments`, webhooks in `webhooks` (signed in `signing`), the buyer's
approval page in `approval` (drawn by `pages`), PayPal's vocabulary in `answers`.
"""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from simulators.base import Request, Response
from simulators.paypal.answers import (
    SCOPES,
    TOKEN_LIFETIME_SECONDS,
    Payment,
    basic_auth,
    error,
    json_answer,
    public,
)
from simulators.paypal.approval import PayPalApproval
from simulators.paypal.payments import PayPalPayments
from simulators.paypal.signing import CERT_ID, self_signed, verification

__all__ = ["PayPalSimulator"]


class PayPalSimulator(PayPalPayments, PayPalApproval):
    internal_error = json_answer(
        500,
        {"name": "INTERNAL_SERVICE_ERROR", "message": "An internal service error has occurred."},
    )

    def __init__(self) -> None:
        super().__init__()
        self.clients: dict[str, str] = {}  # client ID → secret
        self.merchant_names: dict[str, str] = {}  # client ID → business name on the page
        self.access_tokens: dict[str, str] = {}  # issued token → client ID
        self.payments: dict[str, Payment] = {}
        # Sales, authorizations, captures and refunds as PayPal shows them, by id; `_amounts`
        # holds what is left on each (capturable on an authorization, refundable otherwise).
        self.resources: dict[str, dict[str, Any]] = {}
        self._amounts: dict[str, Decimal] = {}
        self._replays: dict[tuple[str, str, str], Response] = {}
        # Registered webhooks by id ({"id", "url", "event_types", "_client"}) and what was
        # delivered to them ({"webhook_id", "event_type", "url", "status"}), oldest first.
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.deliveries: list[dict[str, Any]] = []
        # PayPal notifies a moment after the call that caused the event, never within it.
        self.webhook_delay_seconds = 1.0
        self._state_lock = threading.RLock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._certificate = self_signed(self._key)

    def reset(self) -> None:
        super().reset()
        with self._state_lock:
            self.clients.clear()
            self.merchant_names.clear()
            self.access_tokens.clear()
            self.payments.clear()
            self.resources.clear()
            self._amounts.clear()
            self._replays.clear()
            self.webhooks.clear()
            self.deliveries.clear()
        self.webhook_delay_seconds = 1.0

    def provider_state(self) -> dict[str, Any]:
        # The lock and the signing key stay with the process (neither pickles); a restarted
        # simulator signs with a new key.
        state = super().provider_state()
        for name in ("_state_lock", "_key", "_certificate"):
            state.pop(name, None)
        return state

    def answer(self, request: Request) -> Response:
        route = (request.method, request.path)
        if route == ("POST", "/v1/oauth2/token"):
            return self._token(request)
        if request.path == "/checkoutnow":
            return self._checkout_page(request)
        if route == ("GET", f"/v1/notifications/certs/{CERT_ID}"):
            pem = self._certificate.public_bytes(serialization.Encoding.PEM)
            return Response(200, pem, "application/x-pem-file")
        if not request.path.startswith(("/v1/payments/", "/v1/notifications/")):
            return self.not_simulated(request)
        client_id = self._bearer(request)
        if client_id is None:
            return json_answer(
                401,
                {
                    "error": "invalid_token",
                    "error_description": "Token signature verification failed",
                },
            )
        request_id = request.headers.get("PayPal-Request-Id", "")
        replay_key = (client_id, request_id, request.path)
        with self._state_lock:
            if request.method == "POST" and request_id and replay_key in self._replays:
                return self._replays[replay_key]
            try:
                # A GET's body is ignored (the SDK sends "null" with every GET).
                body = json.loads(request.body or b"{}") if request.method == "POST" else {}
            except ValueError:
                return error(400, "MALFORMED_REQUEST")
            if not isinstance(body, dict):
                return error(400, "MALFORMED_REQUEST")
            response = self._api(request, client_id, body)
            if request.method == "POST" and request_id and 200 <= response.status < 300:
                self._replays[replay_key] = response
            return response

    def _api(self, request: Request, client_id: str, body: dict[str, Any]) -> Response:
        parts = request.path.strip("/").split("/")[1:]  # drop "v1"
        method = request.method
        if parts == ["payments", "payment"] and method == "POST":
            return self._create(client_id, body)
        if parts == ["notifications", "verify-webhook-signature"] and method == "POST":
            return verification(self._key, self.cert_url, body)
        if parts == ["notifications", "webhooks"] and method == "POST":
            return self._create_webhook(client_id, body)
        if parts == ["notifications", "webhooks"] and method == "GET":
            mine = [w for w in self.webhooks.values() if w["_client"] == client_id]
            return json_answer(200, {"webhooks": [public(w) for w in mine]})
        if len(parts) < 3 or parts[0] != "payments":
            return self.not_simulated(request)
        kind, resource_id, action = parts[1], parts[2], "/".join(parts[3:])
        if kind == "payment":
            payment = self.payments.get(resource_id)
            if payment is None or payment.client_id != client_id:
                return error(404, "INVALID_RESOURCE_ID")
            if (method, action) == ("GET", ""):
                return json_answer(200, self._payment_json(payment))
            if (method, action) == ("POST", "execute"):
                return self._execute(payment, body)
            return self.not_simulated(request)
        resource = self.resources.get(resource_id)
        if resource is None or resource["_kind"] != kind or resource["_client"] != client_id:
            return error(404, "INVALID_RESOURCE_ID")
        if (method, action) == ("GET", ""):
            return json_answer(200, public(resource))
        handlers = {
            ("authorization", "capture"): self._capture,
            ("authorization", "void"): self._void,
            ("capture", "refund"): self._refund,
            ("sale", "refund"): self._refund,
        }
        handler = handlers.get((kind, action))
        if method != "POST" or handler is None:
            return self.not_simulated(request)
        return handler(resource, body)

    def _bearer(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return self.access_tokens.get(token) if scheme == "Bearer" else None

    def _token(self, request: Request) -> Response:
        client = basic_auth(request.headers.get("Authorization", ""))
        if client is None or self.clients.get(client[0]) != client[1]:
            return json_answer(
                401,
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
            )
        grant_type = parse_qs(request.body.decode()).get("grant_type", [""])[0]
        if not grant_type:
            return json_answer(
                400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"}
            )
        if grant_type != "client_credentials":
            return self.not_simulated(request)
        token = "A21AA" + secrets.token_urlsafe(64)
        self.access_tokens[token] = client[0]
        now = datetime.now(UTC)
        return json_answer(
            200,
            {
                "scope": SCOPES,
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "nonce": f"{now:%Y-%m-%dT%H:%M:%SZ}{secrets.token_urlsafe(32)}",
            },
        )
