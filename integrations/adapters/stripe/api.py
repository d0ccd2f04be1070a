"""Raw calls to Stripe through the `stripe` SDK: the client, error translation, webhook checks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import stripe

from integrations.adapters.base import AdapterConfig, InvalidWebhook, ProviderError

T = TypeVar("T")

STRIPE_JS_URL = "https://js.stripe.com/v3/"
WEBHOOK_TOLERANCE_SECONDS = 300
# The parts of a Stripe error worth keeping in the ledger.
ERROR_FIELDS = ("type", "code", "decline_code", "message", "param")


def client_for(config: AdapterConfig) -> stripe.StripeClient:
    base_addresses: stripe._base_address.BaseAddresses = {}
    if config.api_base_url:
        base_addresses["api"] = config.api_base_url
    return stripe.StripeClient(
        config.secrets.get("secret_key", ""),
        base_addresses=base_addresses,
        http_client=stripe.RequestsClient(timeout=config.timeout_seconds),
        # Our own operations carry idempotency keys; the SDK must not retry behind our back.
        max_network_retries=0,
    )


def script_url(config: AdapterConfig) -> str:
    """Stripe.js, or the simulator's stand-in for it when the API is a local simulator."""
    if config.api_base_url:
        return f"{config.api_base_url.rstrip('/')}/v3/"
    return STRIPE_JS_URL


def message(error: stripe.StripeError) -> str:
    return str(error.user_message or error)


def error_details(error: stripe.StripeError) -> dict[str, Any]:
    body = error.json_body if isinstance(error.json_body, dict) else {}
    details = body.get("error")
    if not isinstance(details, dict):
        details = {}
    return {name: details.get(name) for name in ERROR_FIELDS}


def call(config: AdapterConfig, operation: Callable[[stripe.StripeClient], T]) -> T:
    """Run one API call. Stripe's answers about the payment (card and invalid-request errors)
    pass through as `stripe` exceptions; anything else is a ProviderError."""
    try:
        return operation(client_for(config))
    except (stripe.AuthenticationError, stripe.PermissionError) as error:
        raise ProviderError(
            f"Stripe refused the secret key: {message(error)}", permanent=True
        ) from error
    except stripe.IdempotencyError as error:
        raise ProviderError(
            f"Stripe refused a reused idempotency key: {message(error)}", permanent=True
        ) from error
    except stripe.RateLimitError as error:
        raise ProviderError(f"Stripe is rate limiting us: {message(error)}") from error
    except stripe.APIConnectionError as error:
        raise ProviderError(f"Could not reach Stripe: {message(error)}") from error
    except stripe.APIError as error:
        raise ProviderError(f"Stripe answered with an error: {message(error)}") from error
    except UnicodeDecodeError as error:
        # The SDK's debug logging decodes every body as UTF-8 before the body is parsed, so a
        # garbled answer raises this instead of stripe.APIError.
        raise ProviderError("Stripe's answer could not be read.") from error


def verified_event(body: bytes, headers: dict[str, str], secret: str) -> dict[str, Any]:
    """The event (it has an id) whose `Stripe-Signature` matches `secret` over the raw body."""
    if not secret:
        raise InvalidWebhook("No webhook signing secret is set for this Stripe integration.")
    signature = next(
        (value for name, value in headers.items() if name.lower() == "stripe-signature"), ""
    )
    if not signature:
        raise InvalidWebhook("The Stripe-Signature header is missing.")
    try:
        payload = body.decode("utf-8")
        stripe.WebhookSignature.verify_header(payload, signature, secret, WEBHOOK_TOLERANCE_SECONDS)
        event = json.loads(payload)
    except stripe.SignatureVerificationError as error:
        raise InvalidWebhook(f"The Stripe signature does not match: {error}") from error
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidWebhook("The webhook body is not a Stripe event.") from error
    if not isinstance(event, dict) or event.get("object") != "event":
        raise InvalidWebhook("The webhook body is not a Stripe event.")
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id.strip():
        # Stripe names every event; ours are applied once per id, so one without cannot be.
        raise InvalidWebhook("The Stripe event has no id.")
    return event
