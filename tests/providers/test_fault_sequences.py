"""Random sequences of money operations on one payment, with random faults, per provider.

A hypothesis state machine pays an order through the buyer driver (tests/providers/buyers.py) and
the real checkout services, then captures, cancels and refunds through payments.services, arming
one of the simulator's faults (simulators/base.py) before a step and retrying the step with the
same idempotency key after it. Reconciliation runs between steps and at the end, and then:

- nothing is paid twice at the provider: what it captured never exceeds what it authorized, what
  it refunded never exceeds what it captured, and it holds one payment at most;
- no success at the provider is lost: every ledger row is settled, or flagged for a person, and
  the provider's totals equal the ledger's succeeded totals (plus at most the flagged rows);
- the order's stored payment status is the one its ledger gives, and agrees with the provider.

No sleeps: a SLOW or DROP request is held by the simulator until the step's client timeout has
fired, then released; the simulator's after_request hook says when a late answer has landed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple, TypeVar

import pytest
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from backoffice.models import Order
from integrations.adapters.base import CheckoutUrls
from payments.browser_checkout import checkout_complete, checkout_step
from payments.ledger import PaymentError, order_refresh_payment_status
from payments.models import Operation, PaymentTransaction, Reconciliation, State
from payments.reconciliation import RETRY_DELAYS, payment_reconcile, rows_to_reconcile
from payments.selectors import capturable_amount, refundable_amount
from payments.services import checkout_submit, payment_cancel, payment_capture, payment_refund
from payments.status import PaymentStatus
from simulators.base import Fault
from tests.payments.support import key, make_order, offered_method
from tests.providers.buyers import AUTHORIZE_NET, PAYFLOW_CARD_BUYER, PAYPAL_EXPRESS, STRIPE, Buyer

pytestmark = pytest.mark.django_db

URLS = CheckoutUrls(
    return_url="http://shop.test/checkout/return/s3quence/",
    cancel_url="http://shop.test/checkout/cancel/s3quence/",
    notify_url="http://shop.test/checkout/notify/s3quence/",
)
ORDER_TOTAL = Decimal("100.00")
# A step without a fault waits for the provider as long as production would bother to; a step
# with a held fault (SLOW, DROP) gives up after this, while the simulator still holds it.
PATIENT_SECONDS = 5.0
FAULT_TIMEOUT_SECONDS = 0.5
HELD_SECONDS = 60.0
# The faults that let the provider act on the request (SLOW: the answer comes too late).
ACTING_FAULTS = frozenset({Fault.SLOW, Fault.RESET_MID_BODY})
# Half the steps run clean, so that sequences get past a faulted checkout to captures and refunds.
faults = st.none() | st.sampled_from(Fault)
T = TypeVar("T")


class Book(NamedTuple):
    """What a provider holds, in major units, summed over every payment it knows."""

    payments: int
    authorized: Decimal
    captured: Decimal
    refunded: Decimal

    def minus(self, other: Book) -> Book:
        return Book(
            self.payments - other.payments,
            self.authorized - other.authorized,
            self.captured - other.captured,
            self.refunded - other.refunded,
        )


def _minor(amount: int) -> Decimal:
    return Decimal(amount) / 100  # every sequence pays in USD


def _stripe_book(simulator: Any) -> Book:
    charges = list(simulator.charges.values())
    return Book(
        len(charges),
        sum((_minor(c["amount"]) for c in charges), Decimal(0)),
        sum((_minor(c["amount_captured"]) for c in charges), Decimal(0)),
        sum((_minor(c["amount_refunded"]) for c in charges), Decimal(0)),
    )


def _paypal_book(simulator: Any) -> Book:
    def total(*kinds: str) -> Decimal:
        return sum(
            (
                Decimal(r["amount"]["total"])
                for r in simulator.resources.values()
                if r["_kind"] in kinds
            ),
            Decimal(0),
        )

    payments = sum(
        1 for r in simulator.resources.values() if r["_kind"] in ("authorization", "sale")
    )
    return Book(payments, total("authorization", "sale"), total("capture", "sale"), total("refund"))


def _payflow_book(simulator: Any) -> Book:
    approved = [t for t in simulator.transactions.values() if t.approved]

    def total(*types: str) -> Decimal:
        return sum((_minor(t.amount) for t in approved if t.trxtype in types), Decimal(0))

    payments = sum(1 for t in approved if t.trxtype in ("A", "S"))
    return Book(payments, total("A", "S"), total("D", "S"), total("C"))


def _authorize_net_book(simulator: Any) -> Book:
    payments = [t for t in simulator.transactions.values() if not t.ref_trans_id]
    return Book(
        len(payments),
        sum((t.amount for t in payments), Decimal(0)),
        sum((t.settle_amount for t in payments), Decimal(0)),
        sum((t.refunded for t in payments), Decimal(0)),
    )


@dataclass(frozen=True)
class Provider:
    buyer: Buyer
    book: Callable[[Any], Book]
    # The integration setting that picks authorize or charge, and its value for each.
    action_setting: str
    action_values: dict[str, str]
    max_examples: int

    def __str__(self) -> str:
        return self.buyer.name


_CARD_ACTIONS = {"authorize": "authorize", "charge": "charge"}
PROVIDERS = (
    Provider(
        STRIPE,
        _stripe_book,
        "payment_action",
        {"authorize": "manual", "charge": "automatic"},
        max_examples=50,
    ),
    Provider(PAYPAL_EXPRESS, _paypal_book, "payment_action", _CARD_ACTIONS, max_examples=50),
    Provider(
        PAYFLOW_CARD_BUYER,
        _payflow_book,
        "credit_card_payment_action",
        _CARD_ACTIONS,
        max_examples=50,
    ),
    Provider(AUTHORIZE_NET, _authorize_net_book, "payment_action", _CARD_ACTIONS, max_examples=50),
)
# Sequences, steps and faults run, per provider (printed with -s, quoted in SECURITY.md).
RUNS: Counter[str] = Counter()


class FaultSequences(RuleBasedStateMachine):
    """One payment of ORDER_TOTAL at one provider, operated on with faults; see the module doc."""

    provider: ClassVar[Provider]
    simulator: ClassVar[Any]
    sales: ClassVar[Any]

    def __init__(self) -> None:
        super().__init__()
        self.name = str(self.provider)
        # The simulator lives for the whole test: only what this sequence adds is ours.
        self.baseline = self.provider.book(self.simulator)
        self.order: Order | None = None
        self.payment: PaymentTransaction | None = None
        RUNS[f"{self.name} sequences"] += 1

    # --- faults ------------------------------------------------------------------------------

    def _with_fault(self, fault: Fault | None, call: Callable[[], T]) -> T:
        """Run `call` with `fault` armed; return once every request it sent has been answered."""
        simulator = self.simulator
        RUNS[f"{self.name} steps"] += 1
        RUNS[f"{self.name} {fault.value if fault else 'no fault'}"] += 1
        answered = threading.Semaphore(0)
        if fault is Fault.SLOW:
            simulator.after_request = answered.release
        received = len(simulator.received)
        simulator.slow_seconds = HELD_SECONDS
        simulator.retry_after_seconds = 1
        held = fault in (Fault.SLOW, Fault.DROP)
        timeout = FAULT_TIMEOUT_SECONDS if held else PATIENT_SECONDS
        simulator.fault = fault
        try:
            with override_settings(PROVIDER_TIMEOUT_SECONDS=timeout):
                return call()
        finally:
            simulator.fault = None
            simulator.release_slow()
            if fault is Fault.SLOW:
                # Each held request now answers, and so acts, late: wait until it has.
                for _ in range(len(simulator.received) - received):
                    assert answered.acquire(timeout=HELD_SECONDS), "a late answer never came"
                del simulator.after_request

    def _refreshed(self) -> PaymentTransaction:
        assert self.payment is not None
        self.payment.refresh_from_db()
        return self.payment

    # --- the steps ---------------------------------------------------------------------------

    @initialize(action=st.sampled_from(["authorize", "charge"]), fault=faults)
    def checkout(self, action: str, fault: Fault | None) -> None:
        provider = self.provider
        method = offered_method(
            provider.buyer.integration_type,
            api_base_url=self.simulator.url,
            **{provider.action_setting: provider.action_values[action]},
        )
        order = make_order(total=str(ORDER_TOTAL))
        assert order.customer_user is not None
        row = checkout_submit(
            order=order,
            method=method,
            customer_user=order.customer_user,
            idempotency_key=key("checkout"),
            urls_for=lambda row: URLS,
        )
        step = checkout_step(row=row, urls=URLS)
        params = provider.buyer.pay(self.simulator, step, False)
        row = self._with_fault(fault, lambda: checkout_complete(row=row, params=params))
        # The browser comes back again (a reload): the row answers, nothing is asked twice.
        self.payment = checkout_complete(row=row, params=params)
        self.order = order

    def _open_authorization(self) -> bool:
        if self.payment is None:
            return False
        payment = self._refreshed()
        return (
            payment.operation == Operation.AUTHORIZE
            and payment.state == State.SUCCEEDED
            and payment.is_open
            and capturable_amount(payment) > 0
        )

    def _retried(self, fault: Fault | None, call: Callable[[str], T]) -> T | None:
        """`call(key)` with `fault` armed, then once more with the same key, as a retry."""
        idempotency_key = key("staff")
        try:
            first = self._with_fault(fault, lambda: call(idempotency_key))
        except PaymentError:
            RUNS[f"{self.name} refused"] += 1
            return None
        again = call(idempotency_key)
        assert isinstance(first, PaymentTransaction) and isinstance(again, PaymentTransaction)
        assert again.pk == first.pk, "a retry with the same key wrote a second row"
        RUNS[f"{self.name} {first.state}"] += 1
        return again

    # The rules' preconditions read no ledger (hypothesis needs them to repeat exactly when it
    # replays a sequence, and a provider's answer to a fault may differ): a step that finds
    # nothing to act on does nothing.
    @precondition(lambda self: self.payment is not None)
    @rule(whole=st.booleans(), fault=faults)
    def capture(self, whole: bool, fault: Fault | None) -> None:
        if not self._open_authorization():
            return
        payment = self._refreshed()
        remaining = capturable_amount(payment)
        amount = remaining if whole else min(remaining, Decimal("30.00"))
        self._retried(
            fault,
            lambda k: payment_capture(
                transaction=payment, amount=amount, actor=self.sales, idempotency_key=k
            ),
        )

    @precondition(lambda self: self.payment is not None)
    @rule(fault=faults)
    def cancel(self, fault: Fault | None) -> None:
        if not self._open_authorization():
            return
        payment = self._refreshed()
        self._retried(
            fault,
            lambda k: payment_cancel(
                transaction=payment, note="sequence", actor=self.sales, idempotency_key=k
            ),
        )

    def _refundable(self) -> list[PaymentTransaction]:
        if self.order is None:
            return []
        return [
            row
            for row in PaymentTransaction.objects.filter(
                order=self.order,
                operation__in=(Operation.CAPTURE, Operation.CHARGE),
                state=State.SUCCEEDED,
            ).order_by("pk")
            if refundable_amount(row) > 0
        ]

    @precondition(lambda self: self.payment is not None)
    @rule(whole=st.booleans(), fault=faults, which=st.integers(0, 3))
    def refund(self, whole: bool, fault: Fault | None, which: int) -> None:
        refundable = self._refundable()
        if not refundable:
            return
        source = refundable[which % len(refundable)]
        remaining = refundable_amount(source)
        amount = remaining if whole else min(remaining, Decimal("10.00"))
        self._retried(
            fault,
            lambda k: payment_refund(
                transaction=source,
                amount=amount,
                note="sequence",
                actor=self.sales,
                idempotency_key=k,
            ),
        )

    @precondition(lambda self: self.payment is not None)
    @rule(fault=faults)
    def reconcile(self, fault: Fault | None) -> None:
        """A reconciliation run between steps, itself possibly faulted (it only reads)."""
        self._with_fault(fault, lambda: self._reconcile(rounds=1))

    def _reconcile(self, *, rounds: int) -> None:
        """Run reconciliation `rounds` times, each late enough for every row to be due."""
        now = timezone.now()
        for _ in range(rounds):
            now += timedelta(days=2)
            due = rows_to_reconcile(now=now).filter(order=self.order)
            for pk in list(due.values_list("pk", flat=True)):
                payment_reconcile(pk=pk, now=now)

    # --- what must hold ----------------------------------------------------------------------

    def _book(self) -> Book:
        return self.provider.book(self.simulator).minus(self.baseline)

    @invariant()
    def nothing_is_paid_twice_at_the_provider(self) -> None:
        book = self._book()
        assert book.payments <= 1, book
        assert book.authorized <= ORDER_TOTAL, book
        assert book.captured <= book.authorized, book
        assert book.refunded <= book.captured, book

    def teardown(self) -> None:
        if self.order is None:
            return
        self._reconcile(rounds=len(RETRY_DELAYS) + 2)
        rows = list(PaymentTransaction.objects.filter(order=self.order))
        unsettled = [r for r in rows if r.state in (State.UNKNOWN, State.PENDING)]
        for row in unsettled:
            schedule = Reconciliation.objects.get(transaction=row)
            assert schedule.needs_person, f"{row} left unsettled and not flagged"
            RUNS[f"{self.name} flagged"] += 1

        def total(operations: tuple[str, ...], among: list[PaymentTransaction]) -> Decimal:
            return sum((r.amount for r in among if r.operation in operations), Decimal(0))

        succeeded = [r for r in rows if r.state == State.SUCCEEDED]
        book = self._book()
        for name, operations, at_provider in (
            ("authorized", (Operation.AUTHORIZE, Operation.CHARGE), book.authorized),
            ("captured", (Operation.CAPTURE, Operation.CHARGE), book.captured),
            ("refunded", (Operation.REFUND,), book.refunded),
        ):
            in_ledger = total(operations, succeeded)
            # A success at the provider is in the ledger, or on a row a person is asked about.
            assert in_ledger <= at_provider <= in_ledger + total(operations, unsettled), (
                name,
                in_ledger,
                book,
                rows,
            )

        order = Order.objects.get(pk=self.order.pk)
        stored = order.payment_status
        assert order_refresh_payment_status(order=order) == stored
        if unsettled:
            return
        canceled = any(r.operation == Operation.CANCEL for r in succeeded)
        if book.refunded and book.refunded == book.captured == ORDER_TOTAL:
            assert stored == PaymentStatus.REFUNDED
        elif book.refunded:
            assert stored == PaymentStatus.REFUNDED_PARTIALLY
        elif book.captured == ORDER_TOTAL:
            assert stored == PaymentStatus.PAID_IN_FULL
        elif book.captured:
            assert stored == PaymentStatus.PAID_PARTIALLY
        elif book.authorized and not canceled:
            assert stored == PaymentStatus.AUTHORIZED
        elif canceled:
            assert stored == PaymentStatus.CANCELED
        else:
            assert stored == PaymentStatus.DECLINED


@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_random_fault_sequences_never_lose_or_double_a_payment(
    provider: Provider, request: pytest.FixtureRequest, sales_user: Any
) -> None:
    simulator = request.getfixturevalue(provider.buyer.simulator_fixture)
    # Every call outside a faulted step (reconciliation, the buyer's return) is patient.
    request.getfixturevalue("settings").PROVIDER_TIMEOUT_SECONDS = PATIENT_SECONDS
    machine = type(
        f"FaultSequences_{provider}",
        (FaultSequences,),
        {
            "provider": provider,
            "simulator": simulator,
            "sales": sales_user,
        },
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=provider.max_examples,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            database=None,
            derandomize=True,
        ),
    )
    # The figures SECURITY.md quotes (shown with -s).
    print({name: count for name, count in sorted(RUNS.items()) if name.startswith(str(provider))})


@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_a_replayed_refund_answer_is_not_taken_for_a_second_refund(
    provider: Provider, request: pytest.FixtureRequest, sales_user: Any
) -> None:
    """Found by the sequences: a provider replaying its previous refund's answer for a new
    refund made the ledger record a refund the provider never made (20.00 refunded of 10.00)."""
    simulator = request.getfixturevalue(provider.buyer.simulator_fixture)
    request.getfixturevalue("settings").PROVIDER_TIMEOUT_SECONDS = PATIENT_SECONDS
    machine = type("OneSequence", (FaultSequences,), {"provider": provider, "simulator": simulator})
    sequence = machine()
    sequence.checkout(action="charge", fault=None)
    charge = sequence._refreshed()
    assert charge.state == State.SUCCEEDED

    def refund(idempotency_key: str) -> PaymentTransaction:
        return payment_refund(
            transaction=charge,
            amount="10.00",
            note="replayed",
            actor=sales_user,
            idempotency_key=idempotency_key,
        )

    assert refund("first").state == State.SUCCEEDED
    simulator.fault = Fault.REPLAY
    replayed = refund("second")
    simulator.fault = None
    assert replayed.state == State.UNKNOWN
    sequence._reconcile(rounds=len(RETRY_DELAYS) + 2)
    replayed.refresh_from_db()
    # Settled as never made where the provider can say so; otherwise a person is asked.
    assert replayed.state == State.FAILED or (
        replayed.state == State.UNKNOWN and replayed.reconciliation.needs_person
    )
    assert sequence._book().refunded == Decimal("10.00")
    sequence.teardown()
