"""A small client for PayPal's Payflow Pro NVP protocol (no maintained Python client exists).

The body is `NAME=value&...`, not URL-encoded: a value holding `&`, `=` or `"` is sent with a
length tag (`COMMENT1[5]=a&b=c`), and responses may use length tags the same way.
"""

from __future__ import annotations

import hashlib
import math
import re

import requests

LIVE_HOST = "https://payflowpro.paypal.com"
PILOT_HOST = "https://pilot-payflowpro.paypal.com"
# Payflow Link takes the buyer's card form posted with a secure token (transparent redirect).
LIVE_LINK_URL = "https://payflowlink.paypal.com"
PILOT_LINK_URL = "https://pilot-payflowlink.paypal.com"
# PayPal's page where the buyer approves an Express Checkout token.
LIVE_PAYPAL_URL = "https://www.paypal.com/cgi-bin/webscr"
SANDBOX_PAYPAL_URL = "https://www.sandbox.paypal.com/cgi-bin/webscr"

# What each RESULT means, in words for the person who reads it (the buyer for a decline, staff
# for a capture, void or credit); others fall back to Payflow's RESPMSG.
RESULT_MESSAGES = {
    0: "Approved",
    1: "User authentication failed: check the partner, vendor, user and password",
    2: "Invalid tender type",
    3: "Invalid transaction type",
    4: "Invalid amount",
    7: "A field has the wrong format",
    11: "Payflow timed out waiting for the card network; nothing may have been charged",
    12: "The card was declined. Please use another card or payment method",
    13: "The card issuer asks for a call before approving this payment. "
    "Please use another card or payment method",
    19: "Payflow does not know the original transaction",
    23: "The card number is not valid. Please check it and try again",
    24: "The card's expiration date is not valid or has passed",
    26: "Invalid vendor account",
    30: "Payflow refused a duplicate transaction",
    50: "There is not enough money available on the card. Please use another card",
    105: "Payflow refused the refund: it would exceed what remains to refund",
    108: "Payflow refused the void: the payment was already captured, voided or refunded",
    111: "Payflow refused the capture: it would exceed what remains authorized, or the "
    "authorization was already captured or voided",
    112: "The billing address did not match the card. Please check it and try again",
    114: "The card security code did not match. Please check it and try again",
    125: "The payment was declined by the fraud filters. Please use another payment method",
    160: "This payment form was already used. Please start the payment again",
    161: "This payment is already being processed",
    162: "The payment form expired. Please start the payment again",
}


_PRINTABLE_ID = re.compile(r"^[\x21-\x7e]{1,32}$")


def request_id(idempotency_key: str, purpose: str = "") -> str:
    """The X-VPS-REQUEST-ID for our key: the key itself when Payflow takes it (1 to 32 printable
    characters, no purpose), else a hash; `purpose` keeps one key's several calls apart."""
    if not purpose and _PRINTABLE_ID.match(idempotency_key):
        return idempotency_key
    return hashlib.sha256(f"{purpose}:{idempotency_key}".encode()).hexdigest()[:32]


class NvpFormatError(ValueError):
    """The response was not a Payflow NVP body."""


def encode(fields: dict[str, str]) -> str:
    parts = []
    for name, value in fields.items():
        if any(ch in value for ch in '&="'):
            parts.append(f"{name}[{len(value)}]={value}")
        else:
            parts.append(f"{name}={value}")
    return "&".join(parts)


def decode(body: str) -> dict[str, str]:
    """Parse an NVP body, honouring length tags."""
    result: dict[str, str] = {}
    position = 0
    while position < len(body):
        equals = body.find("=", position)
        if equals < 0:
            raise NvpFormatError(f"no '=' after position {position}")
        name = body[position:equals]
        if name.endswith("]") and "[" in name:
            name, _, length_text = name[:-1].partition("[")
            if not length_text.isdigit():
                raise NvpFormatError(f"bad length tag for {name}")
            end = equals + 1 + int(length_text)
            if end > len(body):
                raise NvpFormatError(f"length tag of {name} runs past the body")
            value = body[equals + 1 : end]
        else:
            end = body.find("&", equals + 1)
            end = len(body) if end < 0 else end
            value = body[equals + 1 : end]
        if not name or not name.replace("_", "").isalnum():
            raise NvpFormatError(f"bad field name {name!r}")
        result[name] = value
        position = end + 1
    return result


def result_message(response: dict[str, str]) -> str:
    try:
        code = int(response.get("RESULT", ""))
    except ValueError:
        return response.get("RESPMSG", "No result")
    return RESULT_MESSAGES.get(code, response.get("RESPMSG", f"Result {code}"))


def call(
    *,
    host: str,
    fields: dict[str, str],
    request_id: str,
    timeout_seconds: float,
    verify_ssl: bool = True,
    proxies: dict[str, str] | None = None,
) -> dict[str, str]:
    """POST one NVP request; raises requests' errors and NvpFormatError for a garbled answer."""
    response = requests.post(
        host,
        data=encode(fields).encode(),
        headers={
            "Content-Type": "text/namevalue",
            "X-VPS-REQUEST-ID": request_id,
            # Whole seconds; int() would turn a sub-second timeout into 0 ("no time at all").
            "X-VPS-CLIENT-TIMEOUT": str(max(1, math.ceil(timeout_seconds))),
        },
        timeout=timeout_seconds,
        verify=verify_ssl,
        proxies=proxies,
    )
    response.raise_for_status()
    decoded = decode(response.text.strip())
    if "RESULT" not in decoded:
        raise NvpFormatError("the answer has no RESULT")
    return decoded
