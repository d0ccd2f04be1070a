"""PayPal Express over PayPal's REST API, through `paypalrestsdk`."""

from __future__ import annotations

from typing import Any, ClassVar

import paypalrestsdk
import requests
from paypalrestsdk import exceptions as paypal_errors

from integrations.adapters.base import (
    AdapterBase,
    ConnectionCheck,
    Operation,
    unreachable,
)


class _BoundedApi(paypalrestsdk.Api):
    """The SDK's Api with a timeout on every HTTP call (the SDK sets none)."""

    def __init__(self, timeout_seconds: float, **options: Any) -> None:
        super().__init__(**options)
        self.timeout_seconds = timeout_seconds

    def http_call(self, url: str, method: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout_seconds)
        return super().http_call(url, method, **kwargs)


class PayPalExpressAdapter(AdapterBase):
    supports: ClassVar[frozenset[Operation]] = frozenset({Operation.CHECK_CREDENTIALS})

    def _api(self) -> _BoundedApi:
        options: dict[str, Any] = {
            "mode": "sandbox" if self.config.sandbox else "live",
            "client_id": str(self.config.settings.get("client_id", "")),
            "client_secret": self.config.secrets.get("client_secret", ""),
        }
        if self.config.api_base_url:
            options["endpoint"] = self.config.api_base_url
        return _BoundedApi(self.config.timeout_seconds, **options)

    def check_credentials(self) -> ConnectionCheck:
        try:
            self._api().get_access_token()
        except paypal_errors.UnauthorizedAccess:
            return ConnectionCheck(
                ok=False, message="PayPal refused the client ID or secret (401)."
            )
        except paypal_errors.ConnectionError as error:
            return ConnectionCheck(ok=False, message=f"PayPal answered with an error: {error}")
        except requests.RequestException as error:
            return unreachable(error)
        except (KeyError, ValueError) as error:
            return ConnectionCheck(ok=False, message=f"PayPal's answer could not be read: {error}")
        mode = "sandbox" if self.config.sandbox else "live"
        return ConnectionCheck(
            ok=True, message=f"Connected to PayPal ({mode}); the credentials work."
        )
