"""Stripe's REST API (https://api.stripe.com) and Stripe.js, as our adapter and page use them.

Routes: `GET /v1/balance`; `POST /v1/payment_intents`, `GET /v1/payment_intents/<id>`,
`POST /v1/payment_intents/<id>/confirm|capture|cancel`; `GET|POST /v1/refunds`;
`POST /v1/webhook_endpoints`; `GET /v3/`, a stand-in Stripe.js; and, the simulator's own
stand-in for the bank's 3D Secure page, `POST /v1/payment_intents/<id>/authenticate`.
Stripe's rules live in `payments` and `refunds`, its test cards in `cards`, its events in
`webhooks`, its wire format in `wire`.

Authentication as Stripe does it: the secret key as a Bearer token (what the stripe SDK sends)
or as the Basic user name (what `curl -u sk_test_…:` sends); a publishable key (Bearer or the
`key` form field, as Stripe.js sends it) only to read, confirm or authenticate a PaymentIntent
together with its client secret.

Idempotency as Stripe's: a POST with an `Idempotency-Key` already seen is answered with the saved
answer (and `Idempotent-Replayed: true`) when its endpoint and parameters are the same, and with
400 `idempotency_error` when they differ; requests refused before running (bad parameters, bad
keys) are not saved. Test cards: 4242424242424242 (and Stripe's other success cards) succeed,
4000002500003155 asks for 3D Secure, 4000000000000002 is declined, 4000000000009995 has
insufficient funds, 4000000000000069 is expired; `pm_card_visa` and `pm_card_chargeDeclined…`
work as server-side payment methods.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from simulators.base import Request, Response, Simulator
from simulators.stripe.payments import PaymentIntents
from simulators.stripe.refunds import Refunds
from simulators.stripe.stripe_js import STRIPE_JS
from simulators.stripe.webhooks import CONFIRMED_EVENTS, WebhookEndpoints
from simulators.stripe.wire import (
    StripeApiError,
    api_key_of,
    error_response,
    json_response,
    masked,
    parse_params,
    signature_header,
)

__all__ = ["StripeSimulator", "masked", "signature_header"]

_INTENT_PATH = re.compile(r"/v1/payment_intents/([^/]+)(?:/(confirm|authenticate|capture|cancel))?")
_PUBLISHABLE_KEY_REFUSED = (
    "This API call cannot be made with a publishable API key. Please use a secret API key. You "
    "can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
)


@dataclass(frozen=True)
class _Saved:
    endpoint: str
    params: dict[str, Any]
    response: Response


class StripeSimulator(PaymentIntents, Refunds, WebhookEndpoints, Simulator):
    internal_error = error_response(500, "api_error", "An unknown error occurred.")

    def __init__(self) -> None:
        Simulator.__init__(self)
        PaymentIntents.__init__(self)
        Refunds.__init__(self)
        WebhookEndpoints.__init__(self)
        self.secret_keys: set[str] = set()
        # Keys Stripe.js may use (confirming a PaymentIntent with its client secret).
        self.publishable_keys: set[str] = set()
        self._idempotent: dict[str, _Saved] = {}
        # One request changes the state at a time, as one Stripe object is locked per request.
        self._state_lock = threading.RLock()

    def reset(self) -> None:
        super().reset()
        with self._state_lock:
            self.secret_keys.clear()
            self.publishable_keys.clear()
            self.payment_intents.clear()
            self.charges.clear()
            self.refunds.clear()
            self.payment_methods.clear()
            self.webhook_endpoints.clear()
            self.deliveries.clear()
            self._idempotent.clear()
        self.webhook_delay_seconds = 1.0

    def provider_state(self) -> dict[str, Any]:
        # A copy taken under the lock (the demo runner pickles it while requests go on), and
        # without the lock itself, which cannot be pickled.
        with self._state_lock:
            state = super().provider_state()
            state.pop("_state_lock")
            return copy.deepcopy(state)

    # --- HTTP -----------------------------------------------------------------------------------

    def answer(self, request: Request) -> Response:
        if request.method == "GET" and request.path in ("/v3", "/v3/"):
            return Response(
                200,
                STRIPE_JS.encode(),
                "application/javascript; charset=utf-8",
                {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"},
            )
        try:
            if request.method == "GET":
                params = parse_params([(k, v) for k, vs in request.query.items() for v in vs])
            else:
                pairs = parse_qsl(request.body.decode(), keep_blank_values=True)
                params = parse_params(pairs)
        except StripeApiError as error:
            return json_response(error.status, {"error": error.error})
        except UnicodeDecodeError:
            return error_response(
                400, "invalid_request_error", "The request body could not be read."
            )
        form_key = params.pop("key", None)
        key = api_key_of(request.headers.get("Authorization", "")) or form_key
        if not isinstance(key, str) or not key:
            return error_response(
                401,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        publishable = key in self.publishable_keys
        if key not in self.secret_keys and not publishable:
            return error_response(
                401, "invalid_request_error", f"Invalid API Key provided: {masked(key)}"
            )
        idempotency_key = request.headers.get("Idempotency-Key")
        endpoint = f"{request.method} {request.path}"
        with self._state_lock:
            if request.method == "POST" and idempotency_key:
                saved = self._idempotent.get(idempotency_key)
                if saved is not None:
                    return self._replay(saved, endpoint, params, idempotency_key)
            try:
                answered = self._route(
                    request, params, livemode="_live_" in key, publishable=publishable
                )
                if answered is None:
                    return self.not_simulated(request)
                response = json_response(*answered)
                saved_answer = True
            except StripeApiError as error:
                response = json_response(error.status, {"error": error.error})
                saved_answer = error.saved
            if request.method == "POST" and idempotency_key and saved_answer:
                self._idempotent[idempotency_key] = _Saved(endpoint, params, response)
        return response

    def _replay(
        self, saved: _Saved, endpoint: str, params: dict[str, Any], idempotency_key: str
    ) -> Response:
        if saved.endpoint != endpoint:
            return json_response(
                400,
                {
                    "error": {
                        "type": "idempotency_error",
                        "message": "Keys for idempotent requests can only be used for the same "
                        f"endpoint they were first used for ('{saved.endpoint}' vs "
                        f"'{endpoint}'). Try using a key other than '{idempotency_key}' if you "
                        "meant to execute a different request.",
                    }
                },
            )
        if saved.params != params:
            return json_response(
                400,
                {
                    "error": {
                        "type": "idempotency_error",
                        "message": "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{idempotency_key}' if you meant to execute a different request.",
                    }
                },
            )
        original = saved.response
        return Response(
            original.status,
            original.body,
            original.content_type,
            {**original.headers, "Idempotent-Replayed": "true"},
        )

    def _route(
        self, request: Request, params: dict[str, Any], *, livemode: bool, publishable: bool
    ) -> tuple[int, dict[str, Any]] | None:
        """The status and body of the answer; None for a route not simulated."""
        method, path = request.method, request.path
        if (method, path) == ("GET", "/v1/balance") and not publishable:
            return 200, self._balance(livemode=livemode)
        found = _INTENT_PATH.fullmatch(path)
        intent_id, action = (found.group(1), found.group(2)) if found else (None, None)
        # The only calls Stripe.js may make with a publishable key and the client secret.
        if intent_id and (method, action) in (
            ("GET", None),
            ("POST", "confirm"),
            ("POST", "authenticate"),
        ):
            intent = self._intent(intent_id, params, publishable=publishable)
            if method == "GET":
                return 200, self._view(intent, publishable=publishable)
            if action == "authenticate":
                return self._notifying(
                    intent_id,
                    lambda: self._authenticate(intent, params, publishable=publishable),
                )
            return self._notifying(
                intent_id, lambda: self._confirm(intent, params, publishable=publishable)
            )
        if publishable:
            raise StripeApiError(401, "invalid_request_error", _PUBLISHABLE_KEY_REFUSED)
        if (method, path) == ("POST", "/v1/payment_intents"):
            return self._notifying(None, lambda: self._create(params, livemode=livemode))
        if intent_id and (method, action) == ("POST", "capture"):
            captured = self._capture(self._intent(intent_id, params), params)
            self._notify("payment_intent.succeeded", intent_id)
            return 200, captured
        if intent_id and (method, action) == ("POST", "cancel"):
            canceled = self._cancel(self._intent(intent_id, params), params)
            self._notify("payment_intent.canceled", intent_id)
            return 200, canceled
        if (method, path) == ("GET", "/v1/refunds"):
            return 200, self._list_refunds(params)
        if (method, path) == ("POST", "/v1/refunds"):
            refund = self._refund(params)
            self._notify("charge.refunded", refund["payment_intent"])
            return 200, refund
        if (method, path) == ("POST", "/v1/webhook_endpoints"):
            return 200, self._create_webhook_endpoint(params)
        return None

    def _notifying(
        self, intent_id: str | None, confirm: Callable[[], tuple[int, dict[str, Any]]]
    ) -> tuple[int, dict[str, Any]]:
        """Run a call that may confirm a PaymentIntent and tell the endpoints how it went."""
        try:
            status, answer = confirm()
        except StripeApiError as error:
            failed = error.error.get("payment_intent") or {}
            if error.status == 402 and (intent_id or failed.get("id")):
                self._notify("payment_intent.payment_failed", intent_id or failed["id"])
            raise
        event_type = CONFIRMED_EVENTS.get(answer.get("status", ""))
        if answer.get("last_payment_error"):  # a failed 3D Secure challenge
            event_type = "payment_intent.payment_failed"
        if event_type:
            self._notify(event_type, answer["id"])
        return status, answer

    def _balance(self, *, livemode: bool) -> dict[str, Any]:
        funds = [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}]
        return {
            "object": "balance",
            "available": funds,
            "connect_reserved": [{"amount": 0, "currency": "usd"}],
            "livemode": livemode,
            "pending": funds,
        }
