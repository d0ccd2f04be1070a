"""Stripe's wire format: form-encoded parameters in, JSON and Stripe's error shape out."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from typing import Any

from simulators.base import Response

API_VERSION = "2026-10-28.endive"
_KEY_PREFIX = re.compile(r"^(sk|rk|pk)_(test|live)_")
_PARAM_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
MAX_AMOUNT = 99999999
CURRENCY_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf"})
ZERO_DECIMAL |= {"ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


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


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> StripeApiError:
    """A request refused while its parameters are read: not saved for idempotent replays."""
    return StripeApiError(
        400, "invalid_request_error", message, code=code, param=param, saved=False
    )


def json_response(status: int, payload: dict[str, Any], **headers: str) -> Response:
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


def error_response(status: int, type: str, message: str) -> Response:
    return json_response(status, {"error": {"type": type, "message": message}})


def api_key_of(authorization: str) -> str | None:
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


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(18).replace('-', 'x').replace('_', 'y')}"


def parse_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`metadata[k]=v`, `list[0]=a`, `list[]=a`) as nested data."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _PARAM_KEY.match(key)
        if match is None:
            raise invalid(f"Invalid parameter name: {key}", param=key)
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
                    raise invalid(f"Invalid parameter: {key}", param=path[0])
                node = child
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def integer_param(params: dict[str, Any], name: str, *, required: bool) -> int | None:
    value = params.get(name)
    if value is None:
        if required:
            raise invalid(f"Missing required param: {name}.", param=name, code="parameter_missing")
        return None
    if not isinstance(value, str) or not re.fullmatch(r"\d+", value):
        raise invalid(f"Invalid integer: {value}", param=name, code="parameter_invalid_integer")
    return int(value)


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
