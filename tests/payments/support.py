"""Orders, payment methods and a fake card adapter for the payment service tests.

The fake adapter stands in for the card providers, whose money operations come in the next
issue: it is registered in our own ADAPTERS registry (monkeypatched per test), not mocking an SDK.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar, cast

import pytest

from backoffice.models import Address, CustomerUser, Order, OrderLine, PaymentTerm, Website
from integrations.adapters.base import (
    AdapterBase,
    CheckoutUrls,
    ConnectionCheck,
    Operation,
    PaymentRequest,
    ProviderError,
    ProviderResult,
    ResultState,
)
from integrations.models import PaymentMethod
from integrations.types import IntegrationType
from payments.models import PaymentTransaction, State
from tests.factories import (
    CustomerUserFactory,
    UserFactory,
    create_integration,
    create_rule_with_methods,
)

_numbers = itertools.count(1)
_keys = itertools.count(1)


def key(prefix: str = "k") -> str:
    return f"{prefix}-{next(_keys)}-{time.monotonic_ns()}"


def make_order(
    *,
    customer_user: CustomerUser | None = None,
    currency: str = "USD",
    total: str = "100.00",
    country: str = "US",
) -> Order:
    customer_user = customer_user or cast(CustomerUser, CustomerUserFactory())
    address = Address.objects.create(
        name="Bea Buyer",
        street="1 Main St",
        city="Springfield",
        postal_code="12345",
        country=country,
    )
    website, _ = Website.objects.get_or_create(code="main", defaults={"name": "Main"})
    order = Order.objects.create(
        number=f"SO-{next(_numbers)}-{time.monotonic_ns() % 10**9}",
        customer=customer_user.customer,
        customer_user=customer_user,
        website=website,
        currency=currency,
        subtotal=Decimal(total),
        total=Decimal(total),
        billing_address=address,
        shipping_address=address,
    )
    OrderLine.objects.create(order=order, sku="SKU-1", name="Widget", quantity=1, price=total)
    return order


def offered_method(
    type: str, *, currency: str = "USD", actor: Any = None, **settings: Any
) -> PaymentMethod:
    """The first method of a new integration of `type`, offered by a rule for `currency`."""
    integration = create_integration(type, name=f"{type} {next(_numbers)}", actor=actor, **settings)
    methods = list(integration.methods.all())
    create_rule_with_methods(f"Rule {integration.name}", methods, currency=currency)
    return methods[0]


def submit(order: Order, method: PaymentMethod, **kwargs: Any) -> Any:
    """Check `order` out with `method` as its buyer, with a fresh key unless one is given."""
    from payments import services

    return services.checkout_submit(
        order=order,
        method=method,
        customer_user=kwargs.pop("customer_user", order.customer_user),
        idempotency_key=kwargs.pop("idempotency_key", key("checkout")),
    )


def authorized(total: str = "100.00", currency: str = "USD") -> tuple[Order, Any]:
    """An order authorized through the fake card adapter (needs the fake_card fixture)."""
    method = offered_method(IntegrationType.STRIPE, currency=currency, payment_action="manual")
    order = make_order(total=total, currency=currency)
    return order, submit(order, method)


def recorded_row(
    method: PaymentMethod,
    order: Order,
    operation: str,
    *,
    reference: str,
    amount: str = "100.00",
    state: str = State.SUCCEEDED,
    is_open: bool = False,
    source: PaymentTransaction | None = None,
) -> PaymentTransaction:
    """A ledger row as an earlier provider answer left it (no provider is asked now)."""
    from payments import ledger

    row = ledger.new_row(
        order=order,
        method=method,
        operation=operation,
        amount=Decimal(amount),
        currency=order.currency,
        idempotency_key=key(f"recorded-{operation}"),
        source=source,
    )
    row.state = state
    row.is_open = is_open
    row.provider_reference = reference
    row.save()
    ledger.order_refresh_payment_status(order=order)
    return row


def return_urls_for(row: PaymentTransaction) -> CheckoutUrls:
    """Where a provider sends the buyer (and its silent post) back for `row`, on the test host."""
    from payments.browser_checkout import return_token

    token = return_token(row)
    return CheckoutUrls(
        return_url=f"http://testserver/payment/return/{token}/",
        cancel_url=f"http://testserver/payment/cancel/{token}/",
        notify_url=f"http://testserver/payment/notify/{token}/",
    )


def status_of(order: Order) -> str:
    order.refresh_from_db()
    return order.payment_status


def payment_term(label: str = "Net 30") -> PaymentTerm:
    return PaymentTerm.objects.get_or_create(label=label)[0]


def staff(*groups: str) -> Any:
    return UserFactory(groups=list(groups or ["Sales"]))


class FakeCardAdapter(AdapterBase):
    """Answers every money operation at once; `mode` decides how, per test."""

    supports: ClassVar[frozenset[Operation]] = frozenset(
        {
            Operation.CHECK_CREDENTIALS,
            Operation.AUTHORIZE,
            Operation.CHARGE,
            Operation.CAPTURE,
            Operation.CANCEL,
            Operation.REFUND,
        }
    )
    multiple_captures: ClassVar[bool] = True
    mode: ClassVar[str] = "ok"  # ok | decline | error | crash
    delay_seconds: ClassVar[float] = 0.0
    calls: ClassVar[list[tuple[str, Decimal, str]]] = []
    _lock = threading.Lock()

    def check_credentials(self) -> ConnectionCheck:
        return ConnectionCheck(ok=True, message="fake")

    def _answer(self, operation: str, amount: Decimal, key: str) -> ProviderResult:
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        with self._lock:
            self.calls.append((operation, amount, key))
        if self.mode == "error":
            raise ProviderError("connection timed out")
        if self.mode == "crash":
            raise TimeoutError("read timed out")
        if self.mode == "decline":
            return ProviderResult(ok=False, state=ResultState.FAILED, message="Card declined.")
        return ProviderResult(
            ok=True,
            state=ResultState.SUCCEEDED,
            reference=f"ref-{operation}-{key}",
            raw={"status": "ok"},
        )

    def authorize(self, request: PaymentRequest) -> ProviderResult:
        return self._answer("authorize", request.amount, request.idempotency_key)

    def charge(self, request: PaymentRequest) -> ProviderResult:
        return self._answer("charge", request.amount, request.idempotency_key)

    def capture(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        return self._answer("capture", amount, idempotency_key)

    def cancel(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        return self._answer("cancel", amount, idempotency_key)

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        return self._answer("refund", amount, idempotency_key)


class SingleCaptureAdapter(FakeCardAdapter):
    """Like Stripe or Authorize.Net: a partial capture releases the rest of the hold."""

    multiple_captures: ClassVar[bool] = False


@pytest.fixture
def fake_card(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeCardAdapter]]:
    """Stripe integrations answer through FakeCardAdapter for this test."""
    from integrations.adapters import ADAPTERS

    monkeypatch.setitem(ADAPTERS, IntegrationType.STRIPE, FakeCardAdapter)
    monkeypatch.setattr(FakeCardAdapter, "mode", "ok")
    monkeypatch.setattr(FakeCardAdapter, "delay_seconds", 0.0)
    monkeypatch.setattr(FakeCardAdapter, "calls", [])
    yield FakeCardAdapter
