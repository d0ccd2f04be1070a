"""PayPal Payflow Pro's NVP API (https://pilot-payflowpro.paypal.com/), as far as the adapter
uses it.

Supported: the message protocol (a `NAME=value&…` body with length tags, never URL-encoded; the
`Content-Type: text/namevalue`, `X-VPS-REQUEST-ID` and `X-VPS-CLIENT-TIMEOUT` headers; a reused
request ID replays the first answer with `DUPLICATE=1`), the PARTNER/VENDOR/USER/PWD login, and
secure-token creation (`CREATESECURETOKEN=Y` with a `SECURETOKENID`).
"""

from __future__ import annotations

import re
import secrets
import string
import time
from dataclasses import dataclass

from integrations.adapters import payflow_nvp
from simulators.base import Request, Response, Simulator

TRANSACTION_TYPES = frozenset("SADVCIFLN")
TENDERS = frozenset("ACDKP")
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,32}$")  # 1 to 32 printable characters
_SECURE_TOKEN_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")
_AMOUNT = re.compile(r"^\d{1,10}\.\d{2}$")
_TOKEN_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class PayflowAccount:
    partner: str
    vendor: str
    user: str
    password: str


@dataclass(frozen=True)
class SecureToken:
    token: str
    token_id: str
    fields: dict[str, str]  # the transaction the buyer's card will be used for
    created_at: float


class PayflowSimulator(Simulator):
    content_type = "text/namevalue"

    def __init__(self) -> None:
        super().__init__()
        self.accounts: set[PayflowAccount] = set()
        self.secure_tokens: dict[str, SecureToken] = {}  # by SECURETOKENID
        self._answers: dict[tuple[str, str], dict[str, str]] = {}  # by (VENDOR, request ID)

    def reset(self) -> None:
        super().reset()
        self.accounts.clear()
        self.secure_tokens.clear()
        self._answers.clear()

    def answer(self, request: Request) -> Response:
        if (request.method, request.path) != ("POST", "/"):
            return self.not_simulated(request)
        request_id = request.headers.get("X-VPS-REQUEST-ID", "")
        content_type = request.headers.get("Content-Type", "").replace(" ", "")
        # Payflow documents no RESULT for a missing request ID; a field format error is the
        # closest documented one. text/xml is XMLPay, whose parser rejects an NVP body.
        if content_type == "text/xml":
            return _reply(request_id, {"RESULT": "29", "RESPMSG": "Invalid XML document"})
        if content_type != "text/namevalue" or not _REQUEST_ID.match(request_id):
            return _reply(
                request_id,
                {
                    "RESULT": "7",
                    "RESPMSG": "Field format error: Content-Type text/namevalue and "
                    "X-VPS-REQUEST-ID (1 to 32 printable characters) are required",
                },
            )
        try:
            fields = payflow_nvp.decode(request.body.decode("utf-8"))
        except (payflow_nvp.NvpFormatError, UnicodeDecodeError):
            return _reply(
                request_id, {"RESULT": "7", "RESPMSG": "Field format error: Invalid information"}
            )
        key = (fields.get("VENDOR", ""), request_id)
        if key in self._answers:
            return _reply(request_id, {**self._answers[key], "DUPLICATE": "1"})
        answer = self._transaction(
            fields, client_timeout=request.headers.get("X-VPS-CLIENT-TIMEOUT")
        )
        if answer is None:
            return self.not_simulated(request)
        self._answers[key] = answer
        return _reply(request_id, answer)

    def _transaction(
        self, fields: dict[str, str], *, client_timeout: str | None
    ) -> dict[str, str] | None:
        if client_timeout is not None and not (
            client_timeout.isdigit() and int(client_timeout) > 0
        ):
            # The client allows no time at all for the transaction.
            return {"RESULT": "11", "RESPMSG": "Client time-out waiting for response"}
        account = PayflowAccount(
            partner=fields.get("PARTNER", ""),
            vendor=fields.get("VENDOR", ""),
            user=fields.get("USER", ""),
            password=fields.get("PWD", ""),
        )
        if account not in self.accounts:
            return {"RESULT": "1", "RESPMSG": "User authentication failed"}
        if fields.get("TRXTYPE") not in TRANSACTION_TYPES:
            return {"RESULT": "3", "RESPMSG": "Invalid transaction type"}
        if fields.get("TENDER", "C") not in TENDERS:
            return {"RESULT": "2", "RESPMSG": "Invalid tender"}
        if "AMT" in fields and not _AMOUNT.match(fields["AMT"]):
            return {"RESULT": "4", "RESPMSG": "Invalid amount"}
        if fields.get("CREATESECURETOKEN") == "Y":
            return self._create_secure_token(fields)
        return None

    def _create_secure_token(self, fields: dict[str, str]) -> dict[str, str]:
        token_id = fields.get("SECURETOKENID", "")
        if not _SECURE_TOKEN_ID.match(token_id):
            return {"RESULT": "7", "RESPMSG": "Field format error: Secure Token Id is invalid"}
        if token_id in self.secure_tokens:
            return {
                "RESULT": "7",
                "RESPMSG": "Field format error: Secure Token Id already been used",
            }
        token = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(25))
        transaction = {
            name: value
            for name, value in fields.items()
            if name not in {"PARTNER", "VENDOR", "USER", "PWD", "CREATESECURETOKEN"}
        }
        self.secure_tokens[token_id] = SecureToken(token, token_id, transaction, time.time())
        return {
            "RESULT": "0",
            "RESPMSG": "Approved",
            "SECURETOKEN": token,
            "SECURETOKENID": token_id,
        }


def _reply(request_id: str, fields: dict[str, str]) -> Response:
    return Response(
        200,
        payflow_nvp.encode(fields).encode(),
        "text/namevalue",
        {"X-VPS-REQUEST-ID": request_id, "Connection": "close"},
    )
