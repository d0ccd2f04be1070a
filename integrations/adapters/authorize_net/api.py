"""Authorize.Net, through the official `authorizenet` package.

The SDK keeps its endpoint in a process-wide class attribute that every controller constructor
resets to the sandbox, posts without a timeout, and swallows HTTP errors (the response is then
None). So: the endpoint is set right before each call under a lock, every post gets our timeout,
and a missing response is reported as an unreachable provider.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from authorizenet import apicontractsv1, apicontrollers, apicontrollersbase, constants

from integrations.adapters.base import (
    AdapterBase,
    ConnectionCheck,
    Operation,
    unreachable,
)

# The path of the XML API on every Authorize.Net host; an endpoint override gives only the base URL.
API_PATH = urlsplit(constants.constants.SANDBOX).path
_ENDPOINT_LOCK = threading.Lock()
_call_timeout = threading.local()


class _RequestsWithTimeout:
    """Stands in for the `requests` module inside the SDK so that its posts are bounded."""

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        timeout = kwargs.pop("timeout", getattr(_call_timeout, "seconds", 15.0))
        return requests.post(url, timeout=timeout, **kwargs)


apicontrollersbase.requests = _RequestsWithTimeout()


def execute(controller: Any, *, endpoint: str, timeout_seconds: float) -> Any:
    """Run one SDK controller against `endpoint`; returns the response tree or None."""
    with _ENDPOINT_LOCK:
        _call_timeout.seconds = timeout_seconds
        controller.setenvironment(endpoint)
        controller.execute()
    return controller.getresponse()


class AuthorizeNetAdapter(AdapterBase):
    supports: ClassVar[frozenset[Operation]] = frozenset({Operation.CHECK_CREDENTIALS})

    def _endpoint(self) -> str:
        if self.config.api_base_url:
            return self.config.api_base_url + API_PATH
        return (
            constants.constants.SANDBOX if self.config.sandbox else constants.constants.PRODUCTION
        )

    def _merchant(self) -> Any:
        merchant = apicontractsv1.merchantAuthenticationType()
        merchant.name = str(self.config.settings.get("api_login_id", ""))
        merchant.transactionKey = self.config.secrets.get("transaction_key", "")
        return merchant

    def check_credentials(self) -> ConnectionCheck:
        try:
            request = apicontractsv1.authenticateTestRequest()
            # PyXB checks facets on assignment: a malformed stored key raises here.
            request.merchantAuthentication = self._merchant()
        except Exception as error:
            return ConnectionCheck(
                ok=False,
                message="The stored API login ID or transaction key has the wrong format "
                f"({type(error).__name__}); edit the integration.",
            )
        controller = apicontrollers.authenticateTestController(request)
        try:
            response = execute(
                controller, endpoint=self._endpoint(), timeout_seconds=self.config.timeout_seconds
            )
        except Exception as error:  # the SDK raises lxml/PyXB errors for a garbled body
            return ConnectionCheck(
                ok=False,
                message=f"Authorize.Net's answer could not be read: {type(error).__name__}",
            )
        if response is None:
            return unreachable("no answer from Authorize.Net (connection failed or HTTP error)")
        messages = getattr(response, "messages", None)
        if messages is None:
            return ConnectionCheck(ok=False, message="Authorize.Net's answer could not be read.")
        message = messages.message[0]
        if str(messages.resultCode) == "Ok":
            return ConnectionCheck(
                ok=True, message="Connected to Authorize.Net; the credentials work."
            )
        return ConnectionCheck(
            ok=False,
            # message["text"], not message.text: on an lxml.objectify element `.text` is the
            # element's own text (None here), which hides the <text> child.
            message=f"Authorize.Net refused the credentials: {message['text']} ({message.code}).",
        )
