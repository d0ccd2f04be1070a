"""The contract every adapter passes for the operations it declares (DESIGN §3).

The declaration and refusal tests run over every registered adapter, the offline adapter and the
test suite's fake card adapter. The checkout, follow-up and currency scenarios call
authorize()/charge() directly, so they cover only server-side adapters (offline and the fake).
Browser-step adapters (card and PayPal providers: `browser_step = True`) take AUTHORIZE/CHARGE
through begin → the buyer → complete; they are held to tests/providers/test_contract.py, which
plays the buyer against each provider's simulator over real HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import pytest

from integrations.adapters import ADAPTERS, OFFLINE_ADAPTERS
from integrations.adapters.base import (
    AdapterConfig,
    BillingData,
    ConnectionCheck,
    Operation,
    PaymentAdapter,
    PaymentRequest,
    ProviderResult,
    ResultState,
    UnsupportedOperation,
)
from integrations.types import IntegrationType, PaymentAction
from tests.payments.support import FakeCardAdapter

SECRET = "NeverShow0Secret"  # 16 characters: Authorize.Net's transaction key length
# Nothing listens here: an adapter that tried to reach its provider would fail, not refuse.
NOWHERE = "http://127.0.0.1:9"

REGISTERED = {**ADAPTERS, **OFFLINE_ADAPTERS, "fake card (tests)": FakeCardAdapter}
SERVER_SIDE = {name: cls for name, cls in REGISTERED.items() if not cls.browser_step}
CHECKOUT_OPERATIONS = (Operation.PURCHASE, Operation.AUTHORIZE, Operation.CHARGE)
FOLLOW_UPS = (Operation.CAPTURE, Operation.CANCEL, Operation.REFUND)

adapters = pytest.mark.parametrize(
    "adapter_class", list(REGISTERED.values()), ids=[str(name) for name in REGISTERED]
)


def declared(
    operations: tuple[Operation, ...],
    among: dict[str, type[PaymentAdapter]] = SERVER_SIDE,
) -> pytest.MarkDecorator:
    """Parametrize over (adapter, operation) for the operations each adapter declares."""
    cases = [
        pytest.param(adapter_class, operation, id=f"{name}-{operation}")
        for name, adapter_class in among.items()
        for operation in operations
        if operation in adapter_class.supports
    ]
    return pytest.mark.parametrize(("adapter_class", "operation"), cases)


def adapter(adapter_class: type[PaymentAdapter]) -> PaymentAdapter:
    config = AdapterConfig(
        settings={"pay_to": "Acme Inc.", "send_to": "1 Main St", "partner": "PayPal"},
        secrets={
            name: SECRET for name in ("secret_key", "password", "client_secret", "transaction_key")
        },
        sandbox=True,
        timeout_seconds=0.5,
        api_base_url=NOWHERE,
    )
    return adapter_class(config)


def payment_request(operation: Operation, **overrides: object) -> PaymentRequest:
    action = {
        Operation.PURCHASE: PaymentAction.PENDING,
        Operation.AUTHORIZE: PaymentAction.AUTHORIZE,
        Operation.CHARGE: PaymentAction.CHARGE,
    }[operation]
    fields: dict[str, object] = {
        "order_number": "SO-1",
        "amount": Decimal("12.34"),
        "currency": "USD",
        "idempotency_key": f"contract-{operation}",
        "method_identifier": "method-1",
        "payment_action": action,
        "customer_name": "Acme Buyer",
        "billing": BillingData(name="Bea", country="US", postal_code="12345"),
        **overrides,
    }
    return PaymentRequest(**fields)


def assert_well_formed(result: ProviderResult) -> None:
    assert isinstance(result, ProviderResult)
    assert isinstance(result.state, ResultState)
    assert result.ok == (result.state != ResultState.FAILED)
    assert isinstance(result.reference, str) and isinstance(result.message, str)
    shown = json.dumps(result.raw) + result.message + result.reference  # raw must be JSON
    assert SECRET not in shown


@adapters
def test_declares_its_operations(adapter_class):
    assert isinstance(adapter_class.supports, frozenset)
    assert all(isinstance(op, Operation) for op in adapter_class.supports)
    assert isinstance(adapter_class.multiple_captures, bool)
    if adapter_class in ADAPTERS.values():
        assert Operation.CHECK_CREDENTIALS in adapter_class.supports


@adapters
def test_refuses_undeclared_operations_without_calling_the_provider(adapter_class):
    instance = adapter(adapter_class)

    def follow_up(operation: Operation) -> Callable[[], object]:
        return lambda: getattr(instance, operation.value)(
            reference="r", amount=Decimal(1), currency="USD", idempotency_key="k"
        )

    calls: dict[Operation, Callable[[], object]] = {
        Operation.CHECK_CREDENTIALS: instance.check_credentials,
        Operation.PURCHASE: lambda: instance.purchase(payment_request(Operation.PURCHASE)),
        Operation.AUTHORIZE: lambda: instance.authorize(payment_request(Operation.AUTHORIZE)),
        Operation.CHARGE: lambda: instance.charge(payment_request(Operation.CHARGE)),
        **{operation: follow_up(operation) for operation in FOLLOW_UPS},
    }
    # A browser-step adapter declares AUTHORIZE/CHARGE but takes them through begin/complete
    # (tests/providers/test_contract.py): its authorize()/charge() are not the way in and refuse
    # at once, as an undeclared operation does.
    browser_only = (Operation.AUTHORIZE, Operation.CHARGE) if adapter_class.browser_step else ()
    for operation, call in calls.items():
        if operation in adapter_class.supports and operation not in browser_only:
            continue
        with pytest.raises(UnsupportedOperation):
            call()


@declared((Operation.CHECK_CREDENTIALS,), among=REGISTERED)
def test_an_unreachable_provider_fails_the_credentials_check_without_raising(
    adapter_class, operation
):
    check = adapter(adapter_class).check_credentials()
    assert isinstance(check, ConnectionCheck)
    if adapter_class is not FakeCardAdapter:
        assert not check.ok and check.message
    assert SECRET not in check.message


@declared(CHECKOUT_OPERATIONS)
def test_checkout_operations_answer_with_a_well_formed_result(adapter_class, operation):
    result = getattr(adapter(adapter_class), operation.value)(payment_request(operation))
    assert_well_formed(result)
    assert result.ok


@declared(FOLLOW_UPS)
def test_follow_up_operations_answer_for_a_successful_payment(adapter_class, operation):
    instance = adapter(adapter_class)
    first = next(op for op in CHECKOUT_OPERATIONS if op in adapter_class.supports)
    payment = getattr(instance, first.value)(payment_request(first))
    result = getattr(instance, operation.value)(
        reference=payment.reference,
        amount=Decimal("12.34"),
        currency="USD",
        idempotency_key=f"contract-{operation}",
    )
    assert_well_formed(result)
    assert result.ok and result.state == ResultState.SUCCEEDED


@pytest.mark.parametrize("currency", ["JPY", "BHD", "USD"])
@declared(CHECKOUT_OPERATIONS)
def test_amounts_in_any_currency_exponent_are_accepted(adapter_class, operation, currency):
    amount = {"JPY": Decimal(1500), "BHD": Decimal("1.234"), "USD": Decimal("1.23")}[currency]
    result = getattr(adapter(adapter_class), operation.value)(
        payment_request(operation, amount=amount, currency=currency)
    )
    assert_well_formed(result)


def test_offline_money_order_purchase_is_pending_with_the_instructions():
    result = adapter(OFFLINE_ADAPTERS[IntegrationType.MONEY_ORDER]).purchase(
        payment_request(Operation.PURCHASE)
    )
    assert result.state == ResultState.PENDING
    assert result.raw == {"pay_to": "Acme Inc.", "send_to": "1 Main St"}


def test_offline_invoice_purchase_needs_a_payment_term():
    offline = adapter(OFFLINE_ADAPTERS[IntegrationType.PAYMENT_TERM])
    invoiced = offline.purchase(
        payment_request(
            Operation.PURCHASE, payment_action=PaymentAction.INVOICE, payment_term="Net 30"
        )
    )
    refused = offline.purchase(
        payment_request(Operation.PURCHASE, payment_action=PaymentAction.INVOICE)
    )
    assert invoiced.state == ResultState.PENDING and "Net 30" in invoiced.message
    assert refused.state == ResultState.FAILED and not refused.ok


def test_offline_types_have_no_remote_api():
    # "Check connection" answers 404 for them (tests/integrations rely on it).
    assert not set(OFFLINE_ADAPTERS) & set(ADAPTERS)
