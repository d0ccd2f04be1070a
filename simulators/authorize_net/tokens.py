"""Accept.js's side of Authorize.Net: a card turned into single-use opaque data, by `tokenize()`
for tests or `POST /v1/accept/token` for the page, and the small test page at `/v1/accept/demo`."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from datetime import date
from typing import Any

from simulators.authorize_net.accept_js import DEMO_PAGE, card_errors
from simulators.authorize_net.answers import Nonce, accept_failure
from simulators.base import Request, Response, Simulator

ACCEPT_DESCRIPTOR = "COMMON.ACCEPT.INAPP.PAYMENT"


class AcceptJsTokens(Simulator):
    """The merchants' public client keys and the opaque data issued with them."""

    merchants: dict[str, str]
    client_keys: dict[str, str]
    nonces: dict[str, Nonce]
    _state_lock: threading.RLock

    def tokenize(
        self,
        card_number: str,
        month: str,
        year: str,
        cvv: str,
        client_key: str,
        api_login_id: str,
    ) -> tuple[str, str]:
        """What Accept.js hands the page for this card: (dataDescriptor, dataValue).

        Raises ValueError with the Accept.js error codes when the card or the keys are refused.
        """
        answer = self._token(api_login_id, client_key, card_number, month, year, cvv)
        if answer["messages"]["resultCode"] != "Ok":
            codes = ", ".join(m["code"] for m in answer["messages"]["message"])
            raise ValueError(f"Accept.js refused the card: {codes}")
        opaque = answer["opaqueData"]
        return opaque["dataDescriptor"], opaque["dataValue"]

    def _token_endpoint(self, request: Request) -> Response:
        try:
            container = json.loads(request.body)["securePaymentContainerRequest"]
            auth = container["merchantAuthentication"]
            token = container["data"]["token"]
            answer = self._token(
                str(auth.get("name", "")),
                str(auth.get("clientKey", "")),
                str(token.get("cardNumber", "")),
                str(token.get("month", "")),
                str(token.get("year", "")),
                str(token.get("cardCode", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            answer = accept_failure(["E_WC_14"])
        return Response(
            200,
            json.dumps(answer).encode(),
            "application/json; charset=utf-8",
            headers={"Access-Control-Allow-Origin": "*"},
        )

    def _token(
        self, login: str, client_key: str, card_number: str, month: str, year: str, cvv: str
    ) -> dict[str, Any]:
        codes = card_errors(card_number, month, year, cvv, today=date.today())
        if not login:
            codes.append("E_WC_10")
        if not client_key:
            codes.append("E_WC_18")
        if codes:
            return accept_failure(codes)
        if login not in self.merchants or self.client_keys.get(login) != client_key:
            return accept_failure(["E_WC_21"])
        full_year = int(year) + 2000 if len(year) == 2 else int(year)
        value = base64.b64encode(secrets.token_bytes(96)).decode()
        with self._state_lock:
            self.nonces[value] = Nonce(
                login=login,
                card_number="".join(ch for ch in card_number if ch.isdigit()),
                expiration=f"{full_year:04d}-{int(month):02d}",
                created=time.monotonic(),
            )
        return {
            "opaqueData": {"dataDescriptor": ACCEPT_DESCRIPTOR, "dataValue": value},
            "messages": {
                "resultCode": "Ok",
                "message": [{"code": "I_WC_01", "text": "Successful."}],
            },
        }

    def _demo_page(self) -> Response:
        login, client_key = next(iter(self.client_keys.items()), ("", ""))
        page = DEMO_PAGE % {"login": login, "client_key": client_key, "year": date.today().year + 2}
        return Response(200, page.encode(), "text/html; charset=utf-8")
