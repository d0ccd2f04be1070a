"""A small client for PayPal's Payflow Pro NVP protocol (no maintained Python client exists).

The body is `NAME=value&...`, not URL-encoded: a value holding `&`, `=` or `"` is sent with a
length tag (`COMMENT1[5]=a&b=c`), and responses may use length tags the same way.
"""

from __future__ import annotations

import math

import requests

LIVE_HOST = "https://payflowpro.paypal.com"
PILOT_HOST = "https://pilot-payflowpro.paypal.com"

# RESULT codes worth a clear sentence; others fall back to RESPMSG.
RESULT_MESSAGES = {
    0: "Approved",
    1: "User authentication failed: check the partner, vendor, user and password",
    2: "Invalid tender type",
    3: "Invalid transaction type",
    4: "Invalid amount",
    7: "A field has the wrong format",
    12: "Declined",
    13: "Referral: the issuer asks for a voice authorization",
    19: "Original transaction not found",
    23: "Invalid card number",
    24: "Invalid expiration date",
    26: "Invalid vendor account",
    30: "Duplicate transaction",
    105: "Credit error",
    108: "Void error",
    111: "Capture error",
    160: "Secure token already used",
    161: "Transaction using secure token is already in progress",
    162: "Secure token expired",
}


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
