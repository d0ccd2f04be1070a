"""Stripe, through the official `stripe` package (StripeClient, PaymentIntents)."""

from __future__ import annotations

from typing import ClassVar

import stripe

from integrations.adapters.base import (
    AdapterBase,
    ConnectionCheck,
    Operation,
    unreachable,
)


class StripeAdapter(AdapterBase):
    supports: ClassVar[frozenset[Operation]] = frozenset({Operation.CHECK_CREDENTIALS})

    def _client(self) -> stripe.StripeClient:
        base_addresses: stripe._base_address.BaseAddresses = {}
        if self.config.api_base_url:
            base_addresses["api"] = self.config.api_base_url
        return stripe.StripeClient(
            self.config.secrets.get("secret_key", ""),
            base_addresses=base_addresses,
            http_client=stripe.RequestsClient(timeout=self.config.timeout_seconds),
            # Our own operations carry idempotency keys; the SDK must not retry behind our back.
            max_network_retries=0,
        )

    def check_credentials(self) -> ConnectionCheck:
        try:
            balance = self._client().v1.balance.retrieve()
        except stripe.AuthenticationError as error:
            return ConnectionCheck(
                ok=False, message=f"Stripe refused the secret key: {error.user_message or error}"
            )
        except stripe.PermissionError as error:
            return ConnectionCheck(
                ok=False, message=f"The key may not read the balance: {error.user_message or error}"
            )
        except stripe.APIConnectionError as error:
            return unreachable(error.user_message or error)
        except stripe.StripeError as error:
            return ConnectionCheck(
                ok=False, message=f"Stripe answered with an error: {error.user_message or error}"
            )
        except UnicodeDecodeError:
            # The SDK's debug logging decodes every body as UTF-8 before the body is parsed, so a
            # garbled answer raises this instead of stripe.APIError.
            return ConnectionCheck(ok=False, message="Stripe's answer could not be read.")
        mode = "live" if balance.livemode else "test"
        return ConnectionCheck(
            ok=True, message=f"Connected to Stripe ({mode} mode); the secret key works."
        )
