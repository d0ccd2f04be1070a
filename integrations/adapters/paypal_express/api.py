"""Raw calls to PayPal's REST API v1 through `paypalrestsdk`: bounded, keyed, errors sorted.

The SDK returns False (with `.error`) for HTTP 400 and raises for anything else; `call` turns
what is not an answer from PayPal into ProviderError.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import paypalrestsdk
import requests
from paypalrestsdk import exceptions as paypal_errors
from paypalrestsdk.resource import Resource

from integrations.adapters.base import ProviderError
from payments.money import from_minor_units, to_minor_units

T = TypeVar("T")

# ISO 4217 gives these two decimals, but PayPal takes whole amounts only (JPY has none anyway).
WHOLE_AMOUNT_CURRENCIES = frozenset({"HUF", "TWD"})


class BoundedApi(paypalrestsdk.Api):
    """The SDK's Api with a timeout on every HTTP call (the SDK sets none)."""

    def __init__(self, timeout_seconds: float, **options: Any) -> None:
        super().__init__(**options)
        self.timeout_seconds = timeout_seconds

    def http_call(self, url: str, method: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout_seconds)
        return super().http_call(url, method, **kwargs)


def amount_of(amount: Decimal, currency: str) -> dict[str, str]:
    """PayPal's amount object: the total as text in the currency's exponent (JPY "1000")."""
    exact = from_minor_units(to_minor_units(amount, currency), currency)
    if currency.upper() in WHOLE_AMOUNT_CURRENCIES and exact == exact.to_integral_value():
        exact = exact.quantize(Decimal(1))
    return {"total": f"{exact:f}", "currency": currency.upper()}


def request_body(request_id: str, attributes: dict[str, Any], api: BoundedApi) -> Resource:
    """A sub-action body carrying our own PayPal-Request-Id (the SDK would pick a random one)."""
    body = Resource(attributes, api=api)
    body.request_id = request_id[:108]
    return body


def call(action: Callable[[], T]) -> T:
    """Run one SDK call; what is not an answer (timeout, 5xx, 429, garbage) is ProviderError."""
    try:
        return action()
    except paypal_errors.UnauthorizedAccess as error:
        raise ProviderError("PayPal refused the client ID or secret (401).", permanent=True) from (
            error
        )
    except paypal_errors.ResourceNotFound as error:
        raise ProviderError("PayPal does not know that id (404).", permanent=True) from error
    except paypal_errors.ConnectionError as error:
        raise ProviderError(f"PayPal answered with an error: {error.response.status_code}") from (
            error
        )
    except requests.RequestException as error:
        raise ProviderError(f"Could not reach PayPal: {type(error).__name__}") from error
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise ProviderError("PayPal's answer could not be read.") from error
