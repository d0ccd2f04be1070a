"""PayPal's REST API (https://api-m.sandbox.paypal.com), as far as the adapter uses it.

Supported: `POST /v1/oauth2/token` with HTTP Basic `client_id:secret` and
`grant_type=client_credentials`, answering a Bearer access token as PayPal does.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from simulators.base import Request, Response, Simulator

TOKEN_LIFETIME_SECONDS = 32400
SCOPES = (
    "https://uri.paypal.com/services/payments/payment/authcode "
    "https://uri.paypal.com/services/payments/refund "
    "https://uri.paypal.com/services/payments/realtimepayment "
    "https://uri.paypal.com/services/payments/orders/client_sdk_orders_api openid"
)


def _json(status: int, payload: dict[str, Any]) -> Response:
    return Response(
        status,
        json.dumps(payload).encode(),
        "application/json",
        {"Paypal-Debug-Id": secrets.token_hex(7)},
    )


def _basic_auth(authorization: str) -> tuple[str, str] | None:
    scheme, _, credentials = authorization.partition(" ")
    if scheme != "Basic":
        return None
    try:
        client_id, colon, secret = (
            base64.b64decode(credentials, validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (client_id, secret) if colon else None


class PayPalSimulator(Simulator):
    internal_error = _json(
        500,
        {"name": "INTERNAL_SERVICE_ERROR", "message": "An internal service error has occurred."},
    )

    def __init__(self) -> None:
        super().__init__()
        self.clients: dict[str, str] = {}  # client ID → secret
        self.access_tokens: dict[str, str] = {}  # issued token → client ID

    def reset(self) -> None:
        super().reset()
        self.clients.clear()
        self.access_tokens.clear()

    def answer(self, request: Request) -> Response:
        if (request.method, request.path) == ("POST", "/v1/oauth2/token"):
            return self._token(request)
        return self.not_simulated(request)

    def _token(self, request: Request) -> Response:
        client = _basic_auth(request.headers.get("Authorization", ""))
        if client is None or self.clients.get(client[0]) != client[1]:
            return _json(
                401,
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
            )
        grant_type = parse_qs(request.body.decode()).get("grant_type", [""])[0]
        if not grant_type:
            return _json(
                400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"}
            )
        if grant_type != "client_credentials":
            return self.not_simulated(request)
        token = "A21AA" + secrets.token_urlsafe(64)
        self.access_tokens[token] = client[0]
        now = datetime.now(UTC)
        return _json(
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
