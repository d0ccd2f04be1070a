"""Raw calls to Authorize.Net's XML API through the official `authorizenet` package.

The SDK keeps its endpoint in a process-wide class attribute that every controller constructor
resets to the sandbox, posts without a timeout, and swallows HTTP errors (the response is then
None). So: the endpoint is set right before each call under a lock, every post gets our timeout,
and a missing or unreadable response raises ProviderError.
"""

from __future__ import annotations

import hashlib
import re
import threading
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pyxb.binding.content
import requests
from authorizenet import apicontractsv1, apicontrollers, apicontrollersbase, constants

from integrations.adapters.base import BillingData, ProviderError
from payments.money import from_minor_units, to_minor_units

# The path of the XML API on every Authorize.Net host; an endpoint override gives only the base URL.
API_PATH = urlsplit(constants.constants.SANDBOX).path
ACCEPT_JS_SANDBOX = "https://jstest.authorize.net/v1/Accept.js"
ACCEPT_JS_LIVE = "https://js.authorize.net/v1/Accept.js"
ACCEPT_DESCRIPTOR = "COMMON.ACCEPT.INAPP.PAYMENT"
# The longest duplicate window the gateway accepts. Our requests carry the idempotency key in
# poNumber, which is part of the gateway's duplicate check, so only a replay of the same key is
# refused as a duplicate; setting the window also makes the gateway return the original transId.
DUPLICATE_WINDOW_SECONDS = 28800

_ENDPOINT_LOCK = threading.Lock()
_call_timeout = threading.local()


class _RequestsWithTimeout:
    """Stands in for the `requests` module inside the SDK so that its posts are bounded."""

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        timeout = kwargs.pop("timeout", getattr(_call_timeout, "seconds", 15.0))
        return requests.post(url, timeout=timeout, **kwargs)


apicontrollersbase.requests = _RequestsWithTimeout()
# PyXB gives up on valid documents whose many optional elements make its content automaton
# ambiguous ("Nondeterminism exceeded"): a billing address with all fields needs ~200 paths, so
# the default of 20 made the SDK drop a getTransactionDetails answer to its raw fallback.
pyxb.binding.content.AutomatonConfiguration.PermittedNondeterminism = 1000


def execute(controller: Any, *, endpoint: str, timeout_seconds: float) -> Any:
    """Run one SDK controller against `endpoint`; returns the response tree or None."""
    with _ENDPOINT_LOCK:
        _call_timeout.seconds = timeout_seconds
        controller.setenvironment(endpoint)
        controller.execute()
    return controller.getresponse()


def call(controller: Any, *, endpoint: str, timeout_seconds: float) -> Any:
    """Like `execute`, but an unreachable gateway or an unreadable answer raises ProviderError."""
    try:
        response = execute(controller, endpoint=endpoint, timeout_seconds=timeout_seconds)
    except Exception as error:  # the SDK raises lxml/PyXB errors for a garbled body
        raise ProviderError(
            f"Authorize.Net's answer could not be read ({type(error).__name__})."
        ) from error
    if response is None:
        raise ProviderError(
            "No answer from Authorize.Net (timeout, connection failure or HTTP error)."
        )
    if getattr(response, "messages", None) is None:
        raise ProviderError("Authorize.Net's answer could not be read (no messages).")
    return response


def ref_id(idempotency_key: str) -> str:
    """Our idempotency key as a refId/poNumber (at most 20 characters, the refId's limit)."""
    if re.fullmatch(r"[A-Za-z0-9_.:-]{1,20}", idempotency_key):
        return idempotency_key
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]


def amount_for(amount: Decimal, currency: str) -> Decimal:
    """The amount in the currency's exponent (JPY 1500, USD 10.50); more decimals raise."""
    return from_minor_units(to_minor_units(amount, currency), currency)


def merchant(login: str, transaction_key: str) -> Any:
    authentication = apicontractsv1.merchantAuthenticationType()
    authentication.name = login
    authentication.transactionKey = transaction_key
    return authentication


def duplicate_window() -> Any:
    setting = apicontractsv1.settingType()
    setting.settingName = "duplicateWindow"
    setting.settingValue = str(DUPLICATE_WINDOW_SECONDS)
    settings = apicontractsv1.ArrayOfSetting()
    settings.setting.append(setting)
    return settings


def bill_to(billing: BillingData) -> Any | None:
    first, _, last = billing.name.strip().partition(" ")
    fields = {
        "firstName": first[:50],
        "lastName": last.strip()[:50],
        "address": billing.street[:60],
        "city": billing.city[:40],
        "state": billing.region[:40],
        "zip": billing.postal_code[:20],
        "country": billing.country[:60],
    }
    present = {name: value for name, value in fields.items() if value}
    if not present:
        return None
    address = apicontractsv1.customerAddressType()
    for name, value in present.items():
        setattr(address, name, value)
    return address


def transaction_request(
    authentication: Any, transaction: Any, reference_id: str
) -> apicontrollers.createTransactionController:
    request = apicontractsv1.createTransactionRequest()
    request.merchantAuthentication = authentication
    request.refId = reference_id
    request.transactionRequest = transaction
    return apicontrollers.createTransactionController(request)


def details_request(authentication: Any, trans_id: str) -> Any:
    request = apicontractsv1.getTransactionDetailsRequest()
    request.merchantAuthentication = authentication
    request.transId = trans_id
    return apicontrollers.getTransactionDetailsController(request)


def unsettled_request(authentication: Any) -> Any:
    request = apicontractsv1.getUnsettledTransactionListRequest()
    request.merchantAuthentication = authentication
    sorting = apicontractsv1.TransactionListSorting()
    sorting.orderBy = "submitTimeUTC"
    sorting.orderDescending = True
    request.sorting = sorting
    paging = apicontractsv1.Paging()
    paging.limit = 100
    paging.offset = 1
    request.paging = paging
    return apicontrollers.getUnsettledTransactionListController(request)


def text(node: Any, name: str) -> str:
    """The text of child `name` of an lxml.objectify node ("" when absent)."""
    if node is None or not hasattr(node, name):
        return ""
    return str(getattr(node, name)).strip()


def first_message(response: Any) -> tuple[str, str]:
    """(code, text) of the first API-level message."""
    message = response.messages.message[0]
    # message["text"], not message.text: on an lxml.objectify element `.text` is the element's
    # own text (None here), which hides the <text> child.
    return str(message.code), str(message["text"])
