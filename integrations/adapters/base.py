"""What every provider adapter shares: plain data in, plain data out, no ORM."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Protocol


class Operation(enum.StrEnum):
    CHECK_CREDENTIALS = "check_credentials"
    AUTHORIZE = "authorize"
    CHARGE = "charge"
    CAPTURE = "capture"
    CANCEL = "cancel"
    REFUND = "refund"
    # An offline order placement (money order, payment terms): nothing leaves our server.
    PURCHASE = "purchase"


@dataclass(frozen=True)
class AdapterConfig:
    """Everything an adapter needs, copied out of the integration row for one call."""

    settings: dict[str, object]
    secrets: dict[str, str] = field(repr=False)
    sandbox: bool
    timeout_seconds: float
    # A local simulator's base URL; always None in a production deployment.
    api_base_url: str | None = None


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str


@dataclass(frozen=True)
class BillingData:
    name: str = ""
    email: str = ""
    street: str = ""
    city: str = ""
    postal_code: str = ""
    region: str = ""
    country: str = ""


@dataclass(frozen=True)
class PaymentRequest:
    """One checkout payment, as plain data. The amount is a Decimal in `currency`'s exponent."""

    order_number: str
    amount: Decimal
    currency: str
    idempotency_key: str
    method_identifier: str
    payment_action: str
    customer_name: str = ""
    billing: BillingData = field(default_factory=BillingData)
    payment_term: str = ""  # the customer's term label, for invoices


class ResultState(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # Accepted but not settled: an offline payment awaiting the money, an async provider answer.
    PENDING = "pending"


@dataclass(frozen=True)
class ProviderResult:
    """The provider's answer. A decline is ok=False with state FAILED, never an exception."""

    ok: bool
    state: ResultState
    reference: str = ""
    message: str = ""
    # The provider's answer with secrets and card data removed: it goes into the ledger.
    raw: dict[str, Any] = field(default_factory=dict)


class ProviderError(Exception):
    """The provider could not be reached or answered nonsense (not a decline)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class UnsupportedOperation(Exception):
    """An operation the adapter does not declare: a programming error, services check first."""


class PaymentAdapter(Protocol):
    supports: ClassVar[frozenset[Operation]]
    # Whether several partial captures may follow one authorization (else the first releases
    # the rest of the hold, as Stripe and Authorize.Net do).
    multiple_captures: ClassVar[bool]

    def __init__(self, config: AdapterConfig) -> None: ...

    def check_credentials(self) -> ConnectionCheck:
        """Make one harmless call with the stored credentials and report the provider's answer."""
        ...

    def purchase(self, request: PaymentRequest) -> ProviderResult: ...

    def authorize(self, request: PaymentRequest) -> ProviderResult: ...

    def charge(self, request: PaymentRequest) -> ProviderResult: ...

    def capture(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult: ...

    def cancel(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult: ...

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult: ...


class AdapterBase:
    """Refuses every money operation; an adapter overrides those it lists in `supports`."""

    supports: ClassVar[frozenset[Operation]] = frozenset()
    multiple_captures: ClassVar[bool] = False

    def __init__(self, config: AdapterConfig) -> None:
        self.config = config

    def check_credentials(self) -> ConnectionCheck:
        raise UnsupportedOperation(Operation.CHECK_CREDENTIALS)

    def purchase(self, request: PaymentRequest) -> ProviderResult:
        raise UnsupportedOperation(Operation.PURCHASE)

    def authorize(self, request: PaymentRequest) -> ProviderResult:
        raise UnsupportedOperation(Operation.AUTHORIZE)

    def charge(self, request: PaymentRequest) -> ProviderResult:
        raise UnsupportedOperation(Operation.CHARGE)

    def capture(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        raise UnsupportedOperation(Operation.CAPTURE)

    def cancel(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        raise UnsupportedOperation(Operation.CANCEL)

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        raise UnsupportedOperation(Operation.REFUND)


def unreachable(error: BaseException | str) -> ConnectionCheck:
    return ConnectionCheck(ok=False, message=f"Could not reach the provider: {error}")
