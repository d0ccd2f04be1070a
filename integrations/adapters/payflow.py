"""PayPal Payflow Gateway and PayPal Payments Pro (same NVP protocol, different partner).

Cards never touch our server: `begin` creates a secure token, the buyer's browser posts the card
form straight to Payflow Link (transparent redirect), which posts the result back to the return
URL and, server to server, to the notify URL; `complete` reads the outcome from an inquiry.
PayPal (Express Checkout over Payflow, TENDER=P): ACTION=S, the buyer approves on PayPal, then
ACTION=G and ACTION=D.

References: a card transaction is its PNREF; a PayPal one is `P:<PNREF>`, because capture, void
and credit must name the original tender and receive nothing but the reference.
"""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal
from typing import ClassVar
from urllib.parse import quote

import requests

from integrations.adapters import payflow_nvp
from integrations.adapters.base import (
    BrowserPaymentAdapter,
    CheckoutUrls,
    ConnectionCheck,
    Inquiry,
    Operation,
    PaymentRequest,
    PaymentStep,
    ProviderError,
    ProviderResult,
    ResultState,
    StepKind,
    UnsupportedOperation,
    unreachable,
)
from payments.money import THREE_DECIMAL, from_minor_units, to_minor_units

EXPRESS_CHECKOUT_KIND = "express_checkout"
_PAYPAL_PREFIX = "P:"
# RESULT values that say the call itself did not go through: nothing is known about the money.
_COMMUNICATION_ERRORS = frozenset({11})


def secure_token_id(idempotency_key: str) -> str:
    """The 36-character SECURETOKENID of one checkout payment: the same for every retry."""
    return str(uuid.UUID(bytes=hashlib.sha256(f"payflow:{idempotency_key}".encode()).digest()[:16]))


class PayflowAdapter(BrowserPaymentAdapter):
    # Every delayed capture says CAPTURECOMPLETE=N, so the rest stays authorized until captured
    # or voided.
    multiple_captures: ClassVar[bool] = True
    # AMT is written with two decimals (#####.##): a three-decimal currency cannot be expressed,
    # so rules do not offer Payflow for one.
    refused_currencies: ClassVar[frozenset[str]] = THREE_DECIMAL

    # --- transport ------------------------------------------------------------------------------

    def _host(self) -> str:
        if self.config.api_base_url:
            return self.config.api_base_url
        return payflow_nvp.PILOT_HOST if self.config.sandbox else payflow_nvp.LIVE_HOST

    def _credentials(self) -> dict[str, str]:
        settings = self.config.settings
        return {
            "PARTNER": str(settings.get("partner", "")),
            "VENDOR": str(settings.get("vendor", "")),
            "USER": str(settings.get("user", "")),
            "PWD": self.config.secrets.get("password", ""),
        }

    def _proxies(self) -> dict[str, str] | None:
        settings = self.config.settings
        if not settings.get("use_proxy"):
            return None
        proxy = f"http://{settings.get('proxy_host')}:{settings.get('proxy_port')}"
        return {"https": proxy, "http": proxy}

    def _call(self, fields: dict[str, str], request_id: str) -> dict[str, str]:
        verbosity = {"VERBOSITY": "HIGH"} if self.config.settings.get("debug_mode") else {}
        return payflow_nvp.call(
            host=self._host(),
            fields={**self._credentials(), **fields, **verbosity},
            request_id=request_id,
            timeout_seconds=self.config.timeout_seconds,
            verify_ssl=bool(self.config.settings.get("enable_ssl_verification", True)),
            proxies=self._proxies(),
        )

    def _transact(self, fields: dict[str, str], request_id: str) -> dict[str, str]:
        """One NVP call; anything but a readable Payflow answer is a ProviderError."""
        try:
            response = self._call(fields, request_id)
        except requests.Timeout as error:
            raise ProviderError(f"Payflow did not answer in time: {error}") from error
        except requests.HTTPError as error:
            status = error.response.status_code if error.response is not None else "?"
            raise ProviderError(f"Payflow answered HTTP {status}.") from error
        except requests.RequestException as error:
            raise ProviderError(f"Payflow could not be reached: {error}") from error
        except payflow_nvp.NvpFormatError as error:
            raise ProviderError(f"Payflow's answer could not be read: {error}") from error
        try:
            result = int(response["RESULT"])
        except ValueError:
            raise ProviderError(f"Payflow answered RESULT {response['RESULT']!r}.") from None
        if result < 0 or result in _COMMUNICATION_ERRORS:
            raise ProviderError(
                f"Payflow could not complete the call: {response.get('RESPMSG', '')} "
                f"(RESULT {result})."
            )
        return response

    # --- check connection -----------------------------------------------------------------------

    def check_credentials(self) -> ConnectionCheck:
        # A secure-token request for a $0 authorization moves no money; the token expires unused.
        fields = {
            "TRXTYPE": "A",
            "TENDER": "C",
            "AMT": "0.00",
            "CREATESECURETOKEN": "Y",
            "SECURETOKENID": uuid.uuid4().hex[:32] + "chk0",
        }
        try:
            response = self._call(fields, request_id=uuid.uuid4().hex)
        except requests.HTTPError as error:
            return ConnectionCheck(ok=False, message=f"Payflow answered with an error: {error}")
        except requests.RequestException as error:
            return unreachable(error)
        except payflow_nvp.NvpFormatError as error:
            return ConnectionCheck(ok=False, message=f"Payflow's answer could not be read: {error}")
        if response.get("RESULT") == "0":
            return ConnectionCheck(ok=True, message="Connected to Payflow; the credentials work.")
        return ConnectionCheck(
            ok=False,
            message=f"Payflow refused the request: {payflow_nvp.result_message(response)} "
            f"(RESULT {response.get('RESULT')}).",
        )

    # --- the buyer's browser step ---------------------------------------------------------------

    def begin(self, request: PaymentRequest, urls: CheckoutUrls) -> PaymentStep:
        if request.method_kind == EXPRESS_CHECKOUT_KIND:
            return self._begin_express(request, urls)
        return self._begin_card(request, urls)

    def complete(
        self, request: PaymentRequest, *, reference: str, params: dict[str, str]
    ) -> ProviderResult:
        if request.method_kind == EXPRESS_CHECKOUT_KIND:
            return self._complete_express(request, reference, params)
        if params.get("SECURETOKENID", reference) != reference:
            return _pending("The answer brought back belongs to another payment; it was ignored.")
        if not (params.get("PNREF") or params.get("RESULT")):
            return _pending("The buyer has not submitted the card form yet.")
        # Whatever the fields say (a decline, a used or expired token), Payflow is asked.
        return self._card_outcome(request, reference)

    def abandon(self, request: PaymentRequest, *, reference: str) -> ProviderResult:
        if request.method_kind == EXPRESS_CHECKOUT_KIND:
            # Nothing is paid before our ACTION=D, which only `complete` sends.
            return super().abandon(request, reference=reference)
        # A secure token cannot be revoked (it expires after 30 minutes): report a payment the
        # buyer made after all, else nothing was charged.
        outcome = self._card_outcome(request, reference)
        if outcome.state == ResultState.PENDING:
            return super().abandon(request, reference=reference)
        return outcome

    def may_complete_after_abandon(self, request: PaymentRequest) -> bool:
        # The card form posts straight to PayPal with a secure token we cannot revoke.
        return request.method_kind != EXPRESS_CHECKOUT_KIND

    def inquire(self, inquiry: Inquiry) -> ProviderResult:
        from integrations.adapters import payflow_inquiry  # it imports this module

        return payflow_inquiry.inquire(self, inquiry)

    def _begin_card(self, request: PaymentRequest, urls: CheckoutUrls) -> PaymentStep:
        fields = {
            **self._secure_token_fields(request),
            "SILENTTRAN": "TRUE",
            "RETURNURL": urls.return_url,
            "ERRORURL": urls.return_url,
            "CANCELURL": urls.cancel_url,
            "SILENTPOSTURL": urls.notify_url,
            **_billing_fields(request),
        }
        response = self._secure_token(fields, request)
        if self.config.api_base_url:
            url = f"{self.config.api_base_url}/payflowlink"
        else:
            url = payflow_nvp.PILOT_LINK_URL if self.config.sandbox else payflow_nvp.LIVE_LINK_URL
        return PaymentStep(
            kind=StepKind.HOSTED_FORM,
            reference=response["SECURETOKENID"],
            url=url,
            data={
                "SECURETOKEN": response["SECURETOKEN"],
                "SECURETOKENID": response["SECURETOKENID"],
            },
            raw=safe_fields(response),
        )

    def _secure_token_fields(self, request: PaymentRequest) -> dict[str, str]:
        return {
            "TRXTYPE": _transaction_type(request),
            "TENDER": "C",
            "AMT": _amount(request.amount, request.currency),
            "CURRENCY": request.currency.upper(),
            "INVNUM": request.order_number,
            "CREATESECURETOKEN": "Y",
            "SECURETOKENID": secure_token_id(request.idempotency_key),
        }

    def _secure_token(self, fields: dict[str, str], request: PaymentRequest) -> dict[str, str]:
        """Create the payment's secure token, or (the same request ID) get it again."""
        request_id = payflow_nvp.request_id(request.idempotency_key, "secure-token")
        response = self._transact(fields, request_id)
        if response["RESULT"] != "0" or not response.get("SECURETOKEN"):
            raise ProviderError(
                f"Payflow refused the secure token: {payflow_nvp.result_message(response)} "
                f"(RESULT {response['RESULT']}).",
                permanent=True,
            )
        if response.get("SECURETOKENID") != fields["SECURETOKENID"]:
            raise ProviderError("Payflow answered the secure token of another payment.")
        return response

    def _card_outcome(self, request: PaymentRequest, reference: str) -> ProviderResult:
        """What Payflow says happened with the payment's secure token (an inquiry)."""
        if reference != secure_token_id(request.idempotency_key):
            raise ProviderError("The reference is not this payment's secure token.", permanent=True)
        # Payflow ignores the data of a request whose ID it has seen and answers the first
        # response again: the token `begin` created, without storing it anywhere.
        token = self._secure_token(self._secure_token_fields(request), request)["SECURETOKEN"]
        inquiry = self._transact(
            {"TRXTYPE": "I", "TENDER": "C", "SECURETOKEN": token}, uuid.uuid4().hex
        )
        if inquiry["RESULT"] == "19":
            return _pending("The buyer has not submitted the card form yet.", safe_fields(inquiry))
        if inquiry["RESULT"] == "162":
            # Expired unused: nobody can pay with it any more.
            return _result(inquiry, tender="C", raw=safe_fields(inquiry))
        if inquiry["RESULT"] != "0" or "ORIGRESULT" not in inquiry:
            raise ProviderError(
                f"Payflow's inquiry failed: {payflow_nvp.result_message(inquiry)} "
                f"(RESULT {inquiry['RESULT']})."
            )
        outcome = {**inquiry, "RESULT": inquiry["ORIGRESULT"], "PNREF": inquiry["ORIGPNREF"]}
        return _result(outcome, tender="C", raw=safe_fields(inquiry))

    def _begin_express(self, request: PaymentRequest, urls: CheckoutUrls) -> PaymentStep:
        fields = {
            "TRXTYPE": _transaction_type(request),
            "TENDER": "P",
            "ACTION": "S",
            "AMT": _amount(request.amount, request.currency),
            "CURRENCY": request.currency.upper(),
            "INVNUM": request.order_number,
            "RETURNURL": urls.return_url,
            "CANCELURL": urls.cancel_url,
        }
        if request.billing.email:
            fields["EMAIL"] = request.billing.email
        request_id = payflow_nvp.request_id(request.idempotency_key, "express-set")
        response = self._transact(fields, request_id)
        token = response.get("TOKEN", "")
        if response["RESULT"] != "0" or not token:
            raise ProviderError(
                f"PayPal refused to start Express Checkout: "
                f"{payflow_nvp.result_message(response)} (RESULT {response['RESULT']}).",
                permanent=True,
            )
        if self.config.api_base_url:
            page = f"{self.config.api_base_url}/cgi-bin/webscr"
        else:
            page = (
                payflow_nvp.SANDBOX_PAYPAL_URL
                if self.config.sandbox
                else payflow_nvp.LIVE_PAYPAL_URL
            )
        return PaymentStep(
            kind=StepKind.REDIRECT,
            reference=token,
            url=f"{page}?cmd=_express-checkout&token={quote(token)}",
            raw=safe_fields(response),
        )

    def _complete_express(
        self, request: PaymentRequest, reference: str, params: dict[str, str]
    ) -> ProviderResult:
        if params.get("token", reference) != reference:
            return _pending("The answer brought back belongs to another payment; it was ignored.")
        if not params.get("PayerID"):
            return _pending("The buyer has not approved the payment on PayPal yet.")
        trxtype = _transaction_type(request)
        base = {"TRXTYPE": trxtype, "TENDER": "P", "TOKEN": reference}
        details = self._transact({**base, "ACTION": "G"}, uuid.uuid4().hex)
        if details["RESULT"] != "0":
            return ProviderResult(
                ok=False,
                state=ResultState.FAILED,
                message="The PayPal session expired or is no longer valid. "
                "Please start the payment again.",
                raw=safe_fields(details),
            )
        payer_id = details.get("PAYERID", "")
        if not payer_id:
            return _pending("The buyer has not approved the payment on PayPal yet.")
        fields = {
            **base,
            "ACTION": "D",
            "PAYERID": payer_id,  # PayPal's word for who approved, not the browser's
            "AMT": _amount(request.amount, request.currency),
            "CURRENCY": request.currency.upper(),
            "INVNUM": request.order_number,
        }
        request_id = payflow_nvp.request_id(request.idempotency_key, "express-do")
        response = self._transact(fields, request_id)
        return _result(response, tender="P", raw=safe_fields(response))

    # --- staff operations -----------------------------------------------------------------------

    def capture(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        tender, pnref = _split(reference)
        fields = {
            "TRXTYPE": "D",
            "TENDER": tender,
            "ORIGID": pnref,
            "AMT": _amount(amount, currency),
            "CURRENCY": currency.upper(),
            "CAPTURECOMPLETE": "N",
        }
        response = self._transact(fields, payflow_nvp.request_id(idempotency_key))
        return _result(response, tender=tender, raw=safe_fields(response))

    def cancel(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        tender, pnref = _split(reference)
        fields = {"TRXTYPE": "V", "TENDER": tender, "ORIGID": pnref}
        response = self._transact(fields, payflow_nvp.request_id(idempotency_key))
        return _result(response, tender=tender, raw=safe_fields(response))

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        tender, pnref = _split(reference)
        fields = {
            "TRXTYPE": "C",
            "TENDER": tender,
            "ORIGID": pnref,
            "AMT": _amount(amount, currency),
            "CURRENCY": currency.upper(),
        }
        response = self._transact(fields, payflow_nvp.request_id(idempotency_key))
        return _result(response, tender=tender, raw=safe_fields(response))


def _transaction_type(request: PaymentRequest) -> str:
    if request.payment_action == Operation.AUTHORIZE:
        return "A"
    if request.payment_action == Operation.CHARGE:
        return "S"
    raise UnsupportedOperation(request.payment_action)


def _amount(amount: Decimal, currency: str) -> str:
    """AMT in the currency's own decimals: 10.50 USD, 1500 JPY (never more decimals)."""
    return format(from_minor_units(to_minor_units(amount, currency), currency), "f")


def _split(reference: str) -> tuple[str, str]:
    """(TENDER, PNREF) of one of our references."""
    if reference.startswith(_PAYPAL_PREFIX):
        return "P", reference.removeprefix(_PAYPAL_PREFIX)
    return "C", reference


def _result(response: dict[str, str], *, tender: str, raw: dict[str, str]) -> ProviderResult:
    prefix = _PAYPAL_PREFIX if tender == "P" else ""
    if response["RESULT"] == "0":
        return ProviderResult(
            ok=True,
            state=ResultState.SUCCEEDED,
            reference=prefix + response["PNREF"],
            message="Approved",
            raw=raw,
        )
    pnref = response.get("PNREF", "")
    return ProviderResult(
        ok=False,
        state=ResultState.FAILED,
        reference=prefix + pnref if pnref else "",
        message=f"{payflow_nvp.result_message(response)}.",
        raw=raw,
    )


def _pending(message: str, raw: dict[str, str] | None = None) -> ProviderResult:
    # ok=True: nothing failed (the ledger reads ok=False as a failure); the buyer may go on.
    return ProviderResult(ok=True, state=ResultState.PENDING, message=message, raw=raw or {})


def safe_fields(response: dict[str, str]) -> dict[str, str]:
    """The answer for the ledger: no secure token (it pays for a while), card digits cut to 4."""
    safe = {name: value for name, value in response.items() if name != "SECURETOKEN"}
    if "ACCT" in safe:
        safe["ACCT"] = safe["ACCT"][-4:]
    return safe


def _billing_fields(request: PaymentRequest) -> dict[str, str]:
    billing = request.billing
    first, _, last = (billing.name or request.customer_name).partition(" ")
    fields = {
        "BILLTOFIRSTNAME": first,
        "BILLTOLASTNAME": last,
        "BILLTOSTREET": billing.street,
        "BILLTOCITY": billing.city,
        "BILLTOSTATE": billing.region,
        "BILLTOZIP": billing.postal_code,
        "BILLTOCOUNTRY": billing.country,
        "BILLTOEMAIL": billing.email,
    }
    return {name: value for name, value in fields.items() if value}
