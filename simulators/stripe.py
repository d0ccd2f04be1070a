"""Stripe's REST API (https://api.stripe.com), as far as the adapter uses it.

Supported: `GET /v1/balance`. Authentication as Stripe does it: the secret key as a Bearer token
(what the stripe SDK sends) or as the Basic user name (what `curl -u sk_test_…:` sends).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from typing import Any

from simulators.base import Request, Response, Simulator

_KEY_PREFIX = re.compile(r"^(sk|rk|pk)_(test|live)_")


def _json(status: int, payload: dict[str, Any]) -> Response:
    return Response(
        status,
        json.dumps(payload).encode(),
        "application/json",
        {"Request-Id": f"req_{secrets.token_hex(7)}"},
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


class StripeSimulator(Simulator):
    internal_error = _error(500, "api_error", "An unknown error occurred.")

    def __init__(self) -> None:
        super().__init__()
        self.secret_keys: set[str] = set()

    def reset(self) -> None:
        super().reset()
        self.secret_keys.clear()

    def answer(self, request: Request) -> Response:
        key = _api_key(request.headers.get("Authorization", ""))
        if key is None:
            return _error(
                401,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        if key not in self.secret_keys:
            return _error(401, "invalid_request_error", f"Invalid API Key provided: {masked(key)}")
        if (request.method, request.path) == ("GET", "/v1/balance"):
            return _json(200, self._balance(livemode="_live_" in key))
        return self.not_simulated(request)

    def _balance(self, *, livemode: bool) -> dict[str, Any]:
        funds = [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}]
        return {
            "object": "balance",
            "available": funds,
            "connect_reserved": [{"amount": 0, "currency": "usd"}],
            "livemode": livemode,
            "pending": funds,
        }
