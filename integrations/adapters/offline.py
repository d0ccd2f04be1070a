"""Check/Money Order and Payment Terms: no remote API, so every answer is our own.

A purchase records that the buyer promised to pay (pending for a money order, invoiced under the
customer's term for payment terms); capture is staff marking the money received.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from integrations.adapters.base import (
    AdapterBase,
    Operation,
    PaymentRequest,
    ProviderResult,
    ResultState,
)
from integrations.types import PaymentAction


class OfflineAdapter(AdapterBase):
    supports: ClassVar[frozenset[Operation]] = frozenset({Operation.PURCHASE, Operation.CAPTURE})

    def purchase(self, request: PaymentRequest) -> ProviderResult:
        if request.payment_action == PaymentAction.INVOICE:
            if not request.payment_term:
                return ProviderResult(
                    ok=False,
                    state=ResultState.FAILED,
                    message="The customer has no payment term.",
                )
            return ProviderResult(
                ok=True,
                state=ResultState.PENDING,
                message=f"Invoiced under payment term {request.payment_term}.",
                raw={"payment_term": request.payment_term},
            )
        settings = self.config.settings
        return ProviderResult(
            ok=True,
            state=ResultState.PENDING,
            message="Awaiting the check or money order.",
            raw={
                "pay_to": str(settings.get("pay_to", "")),
                "send_to": str(settings.get("send_to", "")),
            },
        )

    def capture(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        return ProviderResult(
            ok=True, state=ResultState.SUCCEEDED, message="Payment received.", reference=reference
        )
