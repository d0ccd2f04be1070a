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
"""

from __future__ import annotations

import json
import secrets
import string
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from simulators.base import Request, Response, Simulator
from simulators.paypal.answers import (
    BUYER,
    OVERCAPTURE_CAP,
    SCOPES,
    TOKEN_LIFETIME_SECONDS,
    Payment,
    amount_issue,
    basic_auth,
    error,
    invalid,
    json_answer,
    money,
    now,
    public,
    transaction_id,
)
from simulators.paypal.pages import approval_form, page, redirect
from simulators.paypal.signing import (
    CERT_ID,
    deliver,
    is_loopback,
    self_signed,
    signed_event,
    verification,
)


class PayPalSimulator(Simulator):
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

    @property
    def cert_url(self) -> str:
        return f"{self.url}/v1/notifications/certs/{CERT_ID}"

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

    def _create(self, client_id: str, body: dict[str, Any]) -> Response:
        if body.get("intent") not in ("sale", "authorize", "order"):
            return invalid("intent", "Must be one of sale, authorize, order.")
        if body["intent"] == "order":
            return invalid("intent", "Order intent is not simulated.")
        payer = body.get("payer")
        if not isinstance(payer, dict) or payer.get("payment_method") != "paypal":
            return invalid("payer.payment_method", "Must be paypal.")
        urls = body.get("redirect_urls")
        if not isinstance(urls, dict) or not urls.get("return_url") or not urls.get("cancel_url"):
            return invalid("redirect_urls", "Return and cancel URLs are required.")
        transactions = body.get("transactions")
        if not isinstance(transactions, list) or len(transactions) != 1:
            return invalid("transactions", "Exactly one transaction is simulated.")
        amount = transactions[0].get("amount") if isinstance(transactions[0], dict) else None
        issue = amount_issue(amount)
        if issue:
            return invalid(f"transactions[0].{issue[0]}", issue[1])
        assert isinstance(amount, dict)
        payment = Payment(
            id="PAY-" + transaction_id() + secrets.token_hex(4).upper()[:7],
            client_id=client_id,
            intent=body["intent"],
            token="EC-" + transaction_id(),
            amount=Decimal(amount["total"]),
            currency=amount["currency"],
            request=body,
        )
        self.payments[payment.id] = payment
        return json_answer(201, self._payment_json(payment))

    def _payment_json(self, payment: Payment) -> dict[str, Any]:
        transaction = dict(payment.request["transactions"][0])
        related = []
        if payment.resource_id:
            related.append({payment.resource_kind: public(self.resources[payment.resource_id])})
            for resource in self.resources.values():
                if resource.get("parent_payment") == payment.id and resource["_kind"] in (
                    "capture",
                    "refund",
                ):
                    related.append({resource["_kind"]: public(resource)})
        transaction["related_resources"] = related
        data: dict[str, Any] = {
            "id": payment.id,
            "intent": payment.intent,
            "state": payment.state,
            "cart": payment.token.removeprefix("EC-"),
            "payer": {"payment_method": "paypal"},
            "transactions": [transaction],
            "redirect_urls": payment.request["redirect_urls"],
            "create_time": payment.create_time,
            "links": [
                self._link(f"/v1/payments/payment/{payment.id}", "self", "GET"),
            ],
        }
        if payment.state == "created":
            data["links"] += [
                {
                    "href": f"{self.url}/checkoutnow?token={payment.token}",
                    "rel": "approval_url",
                    "method": "REDIRECT",
                },
                self._link(f"/v1/payments/payment/{payment.id}/execute", "execute", "POST"),
            ]
        if payment.payer_id:
            data["payer"].update(
                status="VERIFIED", payer_info={**BUYER, "payer_id": payment.payer_id}
            )
        if payment.state == "failed":
            data["failure_reason"] = "INSTRUMENT_DECLINED"
        return data

    def _link(self, path: str, rel: str, method: str) -> dict[str, str]:
        return {"href": self.url + path, "rel": rel, "method": method}

    def _execute(self, payment: Payment, body: dict[str, Any]) -> Response:
        if payment.state == "approved":
            return error(400, "PAYMENT_ALREADY_DONE")
        if payment.state == "failed":
            return error(400, "PAYMENT_STATE_INVALID")
        if not payment.payer_id:
            return error(400, "PAYMENT_NOT_APPROVED_FOR_EXECUTION")
        if body.get("payer_id") != payment.payer_id:
            return invalid("payer_id", "Payer ID is invalid")
        if payment.decline:
            payment.state = "failed"
            return error(400, "INSTRUMENT_DECLINED")
        kind = "authorization" if payment.intent == "authorize" else "sale"
        resource = self._new_resource(
            kind,
            payment.client_id,
            payment.amount,
            payment.currency,
            parent_payment=payment.id,
            state="authorized" if kind == "authorization" else "completed",
        )
        if kind == "authorization":
            valid_until = datetime.now(UTC) + timedelta(days=29)
            resource.update(
                reason_code="AUTHORIZATION", valid_until=f"{valid_until:%Y-%m-%dT%H:%M:%SZ}"
            )
        else:
            resource.update(payment_mode="INSTANT_TRANSFER", protection_eligibility="ELIGIBLE")
        payment.state = "approved"
        payment.resource_kind, payment.resource_id = kind, resource["id"]
        created = "AUTHORIZATION.CREATED" if kind == "authorization" else "SALE.COMPLETED"
        self._notify(payment.client_id, f"PAYMENT.{created}", resource)
        return json_answer(200, self._payment_json(payment))

    def _new_resource(
        self, kind: str, client_id: str, amount: Decimal, currency: str, **extra: Any
    ) -> dict[str, Any]:
        resource_id = transaction_id()
        resource = {
            "_kind": kind,
            "_client": client_id,
            "id": resource_id,
            "amount": {"total": money(amount, currency), "currency": currency},
            "create_time": now(),
            "update_time": now(),
            **extra,
        }
        path = f"/v1/payments/{kind}/{resource_id}"
        resource["links"] = [self._link(path, "self", "GET")]
        self.resources[resource_id] = resource
        self._amounts[resource_id] = amount
        return resource

    def _capture(self, authorization: dict[str, Any], body: dict[str, Any]) -> Response:
        if authorization["state"] not in ("authorized", "partially_captured"):
            return error(400, "AUTHORIZATION_ALREADY_COMPLETED")
        currency = authorization["amount"]["currency"]
        amount_field = body.get("amount")
        if amount_field is None:  # no amount: capture everything still authorized
            amount_field = {"total": money(self._amounts[authorization["id"]], currency)}
            amount_field["currency"] = currency
        issue = amount_issue(amount_field)
        if issue:
            return invalid(issue[0], issue[1])
        if amount_field["currency"] != currency:
            return error(400, "CURRENCY_MISMATCH")
        amount = Decimal(amount_field["total"])
        remaining = self._amounts[authorization["id"]]
        # PayPal honours captures up to 115% of the authorization, at most 75 (USD) more.
        authorized = Decimal(authorization["amount"]["total"])
        limit = authorized + min(authorized * Decimal("0.15"), OVERCAPTURE_CAP)
        if authorized - remaining + amount > limit:
            return error(400, "CAPTURE_AMOUNT_LIMIT_EXCEEDED")
        final = bool(body.get("is_final_capture"))
        capture = self._new_resource(
            "capture",
            authorization["_client"],
            amount,
            currency,
            state="completed",
            is_final_capture=final,
            parent_payment=authorization["parent_payment"],
            authorization_id=authorization["id"],
        )
        left = Decimal(0) if final else max(remaining - amount, Decimal(0))
        self._amounts[authorization["id"]] = left
        fully = not left
        authorization["state"] = "captured" if fully else "partially_captured"
        authorization["update_time"] = now()
        self._notify(capture["_client"], "PAYMENT.CAPTURE.COMPLETED", capture)
        return json_answer(200, public(capture))

    def _void(self, authorization: dict[str, Any], body: dict[str, Any]) -> Response:
        # A partly captured authorization can still be voided: that releases the rest.
        if authorization["state"] not in ("authorized", "partially_captured"):
            return error(400, "AUTHORIZATION_ALREADY_COMPLETED")
        authorization["state"] = "voided"
        authorization["update_time"] = now()
        self._amounts[authorization["id"]] = Decimal(0)
        self._notify(authorization["_client"], "PAYMENT.AUTHORIZATION.VOIDED", authorization)
        return json_answer(200, public(authorization))

    def _refund(self, captured: dict[str, Any], body: dict[str, Any]) -> Response:
        currency = captured["amount"]["currency"]
        remaining = self._amounts[captured["id"]]
        if captured["state"] not in ("completed", "partially_refunded") or not remaining:
            return error(400, "TRANSACTION_ALREADY_REFUNDED")
        amount_field = body.get("amount") or {
            "total": money(remaining, currency),
            "currency": currency,
        }
        issue = amount_issue(amount_field)
        if issue:
            return invalid(issue[0], issue[1])
        if amount_field["currency"] != currency:
            return invalid("amount.currency", "Refund currency must match the transaction's.")
        amount = Decimal(amount_field["total"])
        if amount > remaining:
            return error(400, "REFUND_EXCEEDED_TRANSACTION_AMOUNT")
        refund = self._new_resource(
            "refund",
            captured["_client"],
            amount,
            currency,
            state="completed",
            parent_payment=captured["parent_payment"],
            **{f"{captured['_kind']}_id": captured["id"]},
        )
        self._amounts[refund["id"]] = Decimal(0)
        self._amounts[captured["id"]] = remaining - amount
        captured["state"] = "refunded" if amount == remaining else "partially_refunded"
        captured["update_time"] = now()
        event_type = f"PAYMENT.{captured['_kind'].upper()}.REFUNDED"
        self._notify(captured["_client"], event_type, refund)
        return json_answer(201, public(refund))

    def approve(self, payment_id: str, *, decline: bool = False) -> dict[str, str]:
        """The buyer approves at PayPal: the query PayPal appends to the return URL."""
        with self._state_lock:
            payment = self.payments[payment_id]
            if not payment.payer_id:
                payment.payer_id = "".join(
                    secrets.choice(string.ascii_uppercase + string.digits) for _ in range(13)
                )
            payment.decline = decline
            return {"paymentId": payment.id, "token": payment.token, "PayerID": payment.payer_id}

    def _checkout_page(self, request: Request) -> Response:
        if request.method == "POST":
            form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        else:
            form = {k: v[-1] for k, v in request.query.items()}
        payment = next((p for p in self.payments.values() if p.token == form.get("token")), None)
        if payment is None:
            return page(
                404, "Checkout session not found", "<p>This checkout link is not valid.</p>"
            )
        urls = payment.request["redirect_urls"]
        if request.method == "POST" and form.get("action") == "approve":
            query = self.approve(payment.id, decline=form.get("decline") == "on")
            return redirect(urls["return_url"], query)
        if request.method == "POST" and form.get("action") == "cancel":
            return redirect(urls["cancel_url"], {"token": payment.token})
        if request.method == "POST":
            return page(400, "Choose an action", "<p>Approve or cancel the payment.</p>")
        if payment.state != "created":
            return page(200, "Payment finished", "<p>This payment was already completed.</p>")
        return page(
            200,
            "Pay with PayPal",
            approval_form(payment, self.merchant_names.get(payment.client_id, "Sandbox merchant")),
        )

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
