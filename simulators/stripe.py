"""Stripe's REST API (https://api.stripe.com) and Stripe.js, as our adapter and page use them.

Supported: `GET /v1/balance`; PaymentIntents (`POST /v1/payment_intents`, `GET …/<id>`,
`POST …/<id>/confirm|capture|cancel`); `POST /v1/refunds`; and `GET /v3/`, a stand-in Stripe.js
(see `stripe_js`). Authentication as Stripe does it: the secret key as a Bearer token (what the
stripe SDK sends) or as the Basic user name (what `curl -u sk_test_…:` sends); a publishable key
(Bearer or the `key` form field, as Stripe.js sends it) only for confirming or reading a
PaymentIntent together with its client secret.

Idempotency as Stripe's: a POST with an `Idempotency-Key` already seen is answered with the saved
answer (and `Idempotent-Replayed: true`) when its endpoint and parameters are the same, and with
400 `idempotency_error` when they differ; requests refused before running (bad parameters, bad
keys) are not saved. Test cards: 4242424242424242 (and Stripe's other success cards) succeed,
4000000000000002 is declined, 4000000000009995 has insufficient funds, 4000000000000069 is
expired; `pm_card_visa` and `pm_card_chargeDeclined…` work as server-side payment methods.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pycountry

from simulators.base import Request, Response, Simulator
from simulators.stripe_js import STRIPE_JS

API_VERSION = "2026-10-28.endive"
_KEY_PREFIX = re.compile(r"^(sk|rk|pk)_(test|live)_")
_INTENT_PATH = re.compile(r"/v1/payment_intents/([^/]+)(?:/(confirm|capture|cancel))?")
_PARAM_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PUBLISHABLE_KEY_REFUSED = (
    "This API call cannot be made with a publishable API key. Please use a secret API key. You "
    "can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
)
MAX_AMOUNT = 99999999
CURRENCY_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf"})
ZERO_DECIMAL |= {"ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
SUCCESS_CARDS = {
    "4242424242424242": "visa",
    "4000056655665556": "visa",
    "5555555555554444": "mastercard",
    "2223003122003222": "mastercard",
    "378282246310005": "amex",
    "6011111111111117": "discover",
    "3566002020360505": "jcb",
}
# number → (code, decline_code, message), as Stripe answers its test cards.
DECLINED_CARDS = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "4000000000009987": ("card_declined", "lost_card", "Your card was declined."),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": (
        "incorrect_cvc",
        "incorrect_cvc",
        "Your card's security code is incorrect.",
    ),
}
TEST_PAYMENT_METHODS = {
    "pm_card_visa": "4242424242424242",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
}
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = (*CONFIRMABLE, "requires_capture", "processing")
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
CREATE_PARAMS = {
    "allowed_payment_method_types",
    "amount",
    "currency",
    "capture_method",
    "confirm",
    "description",
    "metadata",
    "payment_method",
    "payment_method_data",
    "payment_method_types",
    "receipt_email",
    "statement_descriptor_suffix",
}
CONFIRM_PARAMS = {"payment_method", "payment_method_data", "return_url", "client_secret", "key"}
PUBLIC_FIELDS = (
    "id",
    "object",
    "amount",
    "amount_details",
    "canceled_at",
    "cancellation_reason",
    "capture_method",
    "client_secret",
    "confirmation_method",
    "created",
    "currency",
    "description",
    "last_payment_error",
    "livemode",
    "payment_method",
    "payment_method_types",
    "status",
)


class StripeApiError(Exception):
    """An answer in Stripe's error shape; `saved` says whether an idempotent replay returns it."""

    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        saved: bool = True,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        error: dict[str, Any] = {"type": type, "message": message}
        if code:
            error["code"] = code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            error["param"] = param
        error.update(extra)
        self.status = status
        self.error = error
        self.saved = saved


def _invalid(message: str, *, param: str | None = None, code: str | None = None) -> StripeApiError:
    """A request refused while its parameters are read: not saved for idempotent replays."""
    return StripeApiError(
        400, "invalid_request_error", message, code=code, param=param, saved=False
    )


def _json(status: int, payload: dict[str, Any], **headers: str) -> Response:
    return Response(
        status,
        json.dumps(payload, indent=2).encode(),
        "application/json",
        {
            "Request-Id": f"req_{secrets.token_hex(7)}",
            "Stripe-Version": API_VERSION,
            # Stripe.js calls the API from the shop's own origin.
            "Access-Control-Allow-Origin": "*",
            **headers,
        },
    )


def _error(status: int, type: str, message: str) -> Response:
    return _json(status, {"error": {"type": type, "message": message}})


def _api_key(authorization: str) -> str | None:
    scheme, _, credentials = authorization.partition(" ")
    if scheme == "Bearer":
        return credentials.strip() or None
    if scheme == "Basic":
        try:
            user = base64.b64decode(credentials, validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user or None
    return None


def masked(key: str) -> str:
    """A key as Stripe quotes it in errors: the prefix and the last four characters."""
    prefix = match.group(0) if (match := _KEY_PREFIX.match(key)) else ""
    rest = key[len(prefix) :]
    return prefix + "*" * max(len(rest) - 4, 0) + rest[-4:]


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(18).replace('-', 'x').replace('_', 'y')}"


def parse_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`metadata[k]=v`, `list[0]=a`, `list[]=a`) as nested data."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _PARAM_KEY.match(key)
        if match is None:
            raise _invalid(f"Invalid parameter name: {key}", param=key)
        path = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = root
        for index, part in enumerate(path):
            last = index == len(path) - 1
            if part == "":
                part = str(len(node))
            if last:
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise _invalid(f"Invalid parameter: {key}", param=path[0])
                node = child
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def _integer(params: dict[str, Any], name: str, *, required: bool) -> int | None:
    value = params.get(name)
    if value is None:
        if required:
            raise _invalid(f"Missing required param: {name}.", param=name, code="parameter_missing")
        return None
    if not isinstance(value, str) or not re.fullmatch(r"\d+", value):
        raise _invalid(f"Invalid integer: {value}", param=name, code="parameter_invalid_integer")
    return int(value)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def format_amount(minor: int, currency: str) -> str:
    """An amount as Stripe's messages spell it: `$25.00`, `¥500`, `1.500 bhd`."""
    places = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    text = f"{minor / 10**places:,.{places}f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    """`Stripe-Signature` as Stripe sends it: `t=<unix>,v1=<HMAC-SHA256(secret, "t.body")>`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class _Saved:
    endpoint: str
    params: dict[str, Any]
    response: Response


class StripeSimulator(Simulator):
    internal_error = _error(500, "api_error", "An unknown error occurred.")

    def __init__(self) -> None:
        super().__init__()
        self.secret_keys: set[str] = set()
        # Keys Stripe.js may use (confirming a PaymentIntent with its client secret).
        self.publishable_keys: set[str] = set()
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.payment_methods: dict[str, dict[str, Any]] = {}
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
            self._idempotent.clear()

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
            return _json(error.status, {"error": error.error})
        except UnicodeDecodeError:
            return _error(400, "invalid_request_error", "The request body could not be read.")
        key = _api_key(request.headers.get("Authorization", "")) or params.pop("key", None)
        params.pop("key", None)
        if key is None:
            return _error(
                401,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        publishable = key in self.publishable_keys
        if key not in self.secret_keys and not publishable:
            return _error(401, "invalid_request_error", f"Invalid API Key provided: {masked(key)}")
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
                response = _json(*answered)
                saved_answer = True
            except StripeApiError as error:
                response = _json(error.status, {"error": error.error})
                saved_answer = error.saved
            if request.method == "POST" and idempotency_key and saved_answer:
                self._idempotent[idempotency_key] = _Saved(endpoint, params, response)
        return response

    def _replay(
        self, saved: _Saved, endpoint: str, params: dict[str, Any], idempotency_key: str
    ) -> Response:
        if saved.endpoint != endpoint:
            return _json(
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
            return _json(
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
        if intent_id and (method, action) in (("GET", None), ("POST", "confirm")):
            intent = self._intent(intent_id, params, publishable=publishable)
            if method == "GET":
                return 200, self._view(intent, publishable=publishable)
            return self._confirm(intent, params, publishable=publishable)
        if publishable:
            raise StripeApiError(401, "invalid_request_error", _PUBLISHABLE_KEY_REFUSED)
        if (method, path) == ("POST", "/v1/payment_intents"):
            return self._create(params, livemode=livemode)
        if intent_id and (method, action) == ("POST", "capture"):
            return 200, self._capture(self._intent(intent_id, params), params)
        if intent_id and (method, action) == ("POST", "cancel"):
            return 200, self._cancel(self._intent(intent_id, params), params)
        if (method, path) == ("POST", "/v1/refunds"):
            return 200, self._refund(params)
        return None

    # --- PaymentIntents -------------------------------------------------------------------------

    def _intent(
        self, intent_id: str, params: dict[str, Any], *, publishable: bool = False
    ) -> dict[str, Any]:
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise StripeApiError(
                404,
                "invalid_request_error",
                f"No such payment_intent: '{intent_id}'",
                code="resource_missing",
                param="intent",
                saved=False,
            )
        if publishable and params.get("client_secret") != intent["client_secret"]:
            raise _invalid(
                "The client_secret provided does not match the client_secret associated with "
                "the PaymentIntent.",
                param="client_secret",
                code="payment_intent_invalid_parameter",
            )
        return intent

    def _view(self, intent: dict[str, Any], *, publishable: bool) -> dict[str, Any]:
        if publishable:
            return {name: intent[name] for name in PUBLIC_FIELDS}
        return dict(intent)

    def _create(self, params: dict[str, Any], *, livemode: bool) -> tuple[int, dict[str, Any]]:
        for name in params:
            if name not in CREATE_PARAMS and name != "expand":
                raise _invalid(
                    f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
                )
        amount = _integer(params, "amount", required=True)
        currency = str(params.get("currency") or "").lower()
        if not currency:
            raise _invalid(
                "Missing required param: currency.", param="currency", code="parameter_missing"
            )
        if len(currency) != 3 or pycountry.currencies.get(alpha_3=currency.upper()) is None:
            raise _invalid(f"Invalid currency: {currency}.", param="currency")
        assert amount is not None
        minimum = 50 if currency not in THREE_DECIMAL else 500
        if amount < minimum:
            raise _invalid(
                f"Amount must be at least {format_amount(minimum, currency)} {currency}",
                param="amount",
                code="amount_too_small",
            )
        if amount > MAX_AMOUNT:
            raise _invalid(
                f"Amount must be no more than {format_amount(MAX_AMOUNT, currency)}",
                param="amount",
                code="amount_too_large",
            )
        capture_method = params.get("capture_method", "automatic_async")
        if capture_method not in ("automatic", "automatic_async", "manual"):
            raise _invalid(
                "Invalid capture_method: must be one of automatic, automatic_async, or manual",
                param="capture_method",
            )
        # `allowed_payment_method_types` is the name since API version 2026-10-28.
        type_param = (
            "allowed_payment_method_types"
            if "allowed_payment_method_types" in params
            else "payment_method_types"
        )
        types = params.get(type_param, ["card"])
        if not isinstance(types, list) or any(kind != "card" for kind in types):
            raise _invalid(
                "The payment method type provided is not activated in the simulator.",
                param=type_param,
                code="payment_intent_invalid_parameter",
            )
        metadata = params.get("metadata", {})
        if not isinstance(metadata, dict):
            raise _invalid("Invalid object", param="metadata")
        intent_id = _new_id("pi")
        intent: dict[str, Any] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": capture_method,
            "client_secret": f"{intent_id}_secret_{secrets.token_urlsafe(18)}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": currency,
            "description": params.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": livemode,
            "metadata": metadata,
            "payment_method": None,
            "allowed_payment_method_types": types,
            "payment_method_types": types,
            "status": "requires_payment_method",
        }
        self.payment_intents[intent_id] = intent
        if params.get("payment_method"):
            intent["status"] = "requires_confirmation"
        if params.get("confirm") == "true":
            confirm_params: dict[str, Any] = {
                name: params[name]
                for name in ("payment_method", "payment_method_data")
                if name in params
            }
            return self._confirm(intent, confirm_params, publishable=False)
        return 200, dict(intent)

    def _confirm(
        self, intent: dict[str, Any], params: dict[str, Any], *, publishable: bool
    ) -> tuple[int, dict[str, Any]]:
        for name in params:
            if name not in CONFIRM_PARAMS and name != "expand":
                raise _invalid(
                    f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
                )
        if intent["status"] not in CONFIRMABLE:
            raise StripeApiError(
                400,
                "invalid_request_error",
                self._unexpected_state("confirmed", intent, CONFIRMABLE),
                code="payment_intent_unexpected_state",
                payment_intent=self._view(intent, publishable=publishable),
            )
        method = self._payment_method(params, intent)
        intent["payment_method"] = method["id"]
        try:
            self._check_card(method)
        except StripeApiError as decline:
            charge_id = self._charge(intent, method, failure=decline.error)
            intent["last_payment_error"] = {
                **decline.error,
                "charge": charge_id,
                "payment_method": self._public_method(method),
            }
            intent["status"] = "requires_payment_method"
            intent["latest_charge"] = charge_id
            decline.error["charge"] = charge_id
            decline.error["payment_intent"] = self._view(intent, publishable=publishable)
            decline.error["payment_method"] = self._public_method(method)
            raise
        intent["latest_charge"] = self._charge(intent, method, failure=None)
        intent["last_payment_error"] = None
        if intent["capture_method"] == "manual":
            intent["status"] = "requires_capture"
            intent["amount_capturable"] = intent["amount"]
        else:
            intent["status"] = "succeeded"
            intent["amount_received"] = intent["amount"]
        return 200, self._view(intent, publishable=publishable)

    def _payment_method(self, params: dict[str, Any], intent: dict[str, Any]) -> dict[str, Any]:
        data = params.get("payment_method_data")
        if isinstance(data, dict):
            if data.get("type") != "card" or not isinstance(data.get("card"), dict):
                raise _invalid(
                    "Only card payment methods are simulated.",
                    param="payment_method_data[type]",
                )
            card = data["card"]
            billing = (
                data.get("billing_details") if isinstance(data.get("billing_details"), dict) else {}
            )
            return self._store_method(
                number=re.sub(r"\D", "", str(card.get("number", ""))),
                exp_month=str(card.get("exp_month", "")),
                exp_year=str(card.get("exp_year", "")),
                cvc=str(card.get("cvc", "")),
                name=str((billing or {}).get("name", "") or "") or None,
            )
        method_id = params.get("payment_method") or intent["payment_method"]
        if not method_id:
            raise _invalid(
                "You cannot confirm this PaymentIntent because it's missing a payment method. "
                "To confirm the PaymentIntent with a payment method, specify `payment_method`.",
                code="payment_intent_unexpected_state",
            )
        if method_id in self.payment_methods:
            return self.payment_methods[method_id]
        if method_id in TEST_PAYMENT_METHODS:
            year = str(time.gmtime().tm_year + 3)
            return self._store_method(
                number=TEST_PAYMENT_METHODS[method_id],
                exp_month="12",
                exp_year=year,
                cvc="123",
                name=None,
            )
        raise _invalid(
            f"No such PaymentMethod: '{method_id}'", param="payment_method", code="resource_missing"
        )

    def _store_method(
        self, *, number: str, exp_month: str, exp_year: str, cvc: str, name: str | None
    ) -> dict[str, Any]:
        method_id = _new_id("pm")
        method = {
            "id": method_id,
            "object": "payment_method",
            "type": "card",
            "billing_details": {"name": name},
            "card": {
                "brand": SUCCESS_CARDS.get(number, "visa" if number.startswith("4") else "unknown"),
                "last4": number[-4:],
                "exp_month": int(exp_month) if exp_month.isdigit() else None,
                "exp_year": int(exp_year) if exp_year.isdigit() else None,
                "funding": "credit",
                "country": "US",
            },
            # Kept only to decide the card's fate; never answered.
            "_number": number,
            "_cvc": cvc,
        }
        self.payment_methods[method_id] = method
        return method

    @staticmethod
    def _public_method(method: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in method.items() if not name.startswith("_")}

    def _check_card(self, method: dict[str, Any]) -> None:
        number, cvc, card = method["_number"], method["_cvc"], method["card"]

        def card_error(
            code: str, message: str, param: str, decline_code: str | None = None
        ) -> StripeApiError:
            error = StripeApiError(402, "card_error", message, code=code, param=param or None)
            if decline_code:
                error.error["decline_code"] = decline_code
            return error

        if not (12 <= len(number) <= 19) or not _luhn_valid(number):
            raise card_error("incorrect_number", "Your card number is incorrect.", "number")
        now = time.gmtime()
        month, year = card["exp_month"], card["exp_year"]
        if month is None or not 1 <= month <= 12:
            raise card_error(
                "invalid_expiry_month", "Your card's expiration month is invalid.", "exp_month"
            )
        if year is None or year < now.tm_year or year > now.tm_year + 50:
            raise card_error(
                "invalid_expiry_year", "Your card's expiration year is invalid.", "exp_year"
            )
        if year == now.tm_year and month < now.tm_mon:
            raise card_error(
                "invalid_expiry_month", "Your card's expiration month is invalid.", "exp_month"
            )
        if not re.fullmatch(r"\d{3,4}", cvc):
            raise card_error("invalid_cvc", "Your card's security code is invalid.", "cvc")
        if number in DECLINED_CARDS:
            code, decline_code, message = DECLINED_CARDS[number]
            raise card_error(code, message, "", decline_code)
        if number not in SUCCESS_CARDS:
            raise card_error(
                "card_declined",
                "Your card was declined. Your request was in test mode, but used a non test "
                "(live) card. For a list of valid test cards, visit: "
                "https://stripe.com/docs/testing.",
                "",
                "test_mode_live_card",
            )

    def _charge(
        self, intent: dict[str, Any], method: dict[str, Any], *, failure: dict[str, Any] | None
    ) -> str:
        charge_id = _new_id("ch")
        card = method["card"]
        self.charges[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": 0
            if failure or intent["capture_method"] == "manual"
            else intent["amount"],
            "amount_refunded": 0,
            "captured": failure is None and intent["capture_method"] != "manual",
            "created": int(time.time()),
            "currency": intent["currency"],
            "failure_code": failure["code"] if failure else None,
            "failure_message": failure["message"] if failure else None,
            "livemode": intent["livemode"],
            "metadata": intent["metadata"],
            "paid": failure is None,
            "payment_intent": intent["id"],
            "payment_method": method["id"],
            "payment_method_details": {
                "type": "card",
                "card": {name: card[name] for name in ("brand", "last4", "exp_month", "exp_year")},
            },
            "refunded": False,
            "status": "failed" if failure else "succeeded",
        }
        return charge_id

    @staticmethod
    def _unexpected_state(done: str, intent: dict[str, Any], allowed: tuple[str, ...]) -> str:
        return (
            f"This PaymentIntent could not be {done} because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may be "
            f"{done}: {', '.join(allowed)}."
        )

    def _capture(self, intent: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        for name in params:
            if name not in ("amount_to_capture", "metadata", "expand"):
                raise _invalid(
                    f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
                )
        amount = _integer(params, "amount_to_capture", required=False)
        if intent["status"] != "requires_capture":
            raise StripeApiError(
                400,
                "invalid_request_error",
                self._unexpected_state("captured", intent, ("requires_capture",)),
                code="payment_intent_unexpected_state",
                payment_intent=dict(intent),
            )
        capturable = intent["amount_capturable"]
        amount = capturable if amount is None else amount
        if amount > capturable:
            raise StripeApiError(
                400,
                "invalid_request_error",
                "The payment could not be captured because the requested capture amount is "
                "greater than the amount you can capture for this charge.",
                code="amount_too_large",
                param="amount_to_capture",
            )
        if amount == 0:
            raise _invalid("Invalid positive integer", param="amount_to_capture")
        charge = self.charges[intent["latest_charge"]]
        charge["amount_captured"] = amount
        charge["captured"] = True
        # Without multicapture the first capture releases what is left of the hold.
        intent["amount_capturable"] = 0
        intent["amount_received"] = amount
        intent["status"] = "succeeded"
        return dict(intent)

    def _cancel(self, intent: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        for name in params:
            if name not in ("cancellation_reason", "expand"):
                raise _invalid(
                    f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
                )
        reason = params.get("cancellation_reason")
        if reason is not None and reason not in CANCELLATION_REASONS:
            raise _invalid(
                f"Invalid cancellation_reason: must be one of {', '.join(CANCELLATION_REASONS)}",
                param="cancellation_reason",
            )
        if intent["status"] not in CANCELABLE:
            raise StripeApiError(
                400,
                "invalid_request_error",
                self._unexpected_state("canceled", intent, CANCELABLE),
                code="payment_intent_unexpected_state",
                payment_intent=dict(intent),
            )
        intent["status"] = "canceled"
        intent["canceled_at"] = int(time.time())
        intent["cancellation_reason"] = reason
        intent["amount_capturable"] = 0
        return dict(intent)

    # --- Refunds --------------------------------------------------------------------------------

    def _refund(self, params: dict[str, Any]) -> dict[str, Any]:
        for name in params:
            if name not in ("amount", "charge", "payment_intent", "reason", "metadata", "expand"):
                raise _invalid(
                    f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
                )
        amount = _integer(params, "amount", required=False)
        reason = params.get("reason")
        if reason is not None and reason not in REFUND_REASONS:
            raise _invalid(
                f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}", param="reason"
            )
        charge = self._refundable_charge(params)
        currency = charge["currency"]
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        if remaining <= 0:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = remaining if amount is None else amount
        if amount == 0:
            raise _invalid("Invalid positive integer", param="amount")
        if amount > remaining:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Refund amount ({format_amount(amount, currency)}) is greater than unrefunded "
                f"amount on charge ({format_amount(remaining, currency)})",
                code="amount_too_large",
                param="amount",
            )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        refund_id = _new_id("re")
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "created": int(time.time()),
            "currency": currency,
            "metadata": params.get("metadata", {}),
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": "succeeded",
        }
        self.refunds[refund_id] = refund
        return dict(refund)

    def _refundable_charge(self, params: dict[str, Any]) -> dict[str, Any]:
        charge_id, intent_id = params.get("charge"), params.get("payment_intent")
        if bool(charge_id) == bool(intent_id):
            raise _invalid(
                "You must pass either a charge or a payment_intent to create a refund.",
                code="parameter_missing",
            )
        if intent_id:
            intent = self.payment_intents.get(intent_id)
            if intent is None:
                raise _invalid(
                    f"No such payment_intent: '{intent_id}'",
                    param="payment_intent",
                    code="resource_missing",
                )
            charge_id = intent["latest_charge"]
            if intent["status"] != "succeeded" or charge_id is None:
                raise StripeApiError(
                    400,
                    "invalid_request_error",
                    f"This PaymentIntent ({intent_id}) does not have a successful charge to "
                    "refund.",
                    code="charge_not_refundable",
                    param="payment_intent",
                )
        charge = self.charges.get(str(charge_id))
        if charge is None:
            raise _invalid(
                f"No such charge: '{charge_id}'", param="charge", code="resource_missing"
            )
        if not charge["captured"]:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Charge {charge['id']} has not been captured; cancel its PaymentIntent instead.",
                code="charge_not_refundable",
            )
        return charge

    # --- Webhooks -------------------------------------------------------------------------------

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
            "id": _new_id("evt"),
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

    def _balance(self, *, livemode: bool) -> dict[str, Any]:
        funds = [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}]
        return {
            "object": "balance",
            "available": funds,
            "connect_reserved": [{"amount": 0, "currency": "usd"}],
            "livemode": livemode,
            "pending": funds,
        }
