"""`reconcile_payments`: unknown and stale pending rows settled from what Stripe's simulator says.

The payments are made through the real adapter over HTTP; the buyer's browser is played with the
contract suite's Stripe buyer. Reconciliation itself only reads (and cancels a PaymentIntent that
was never paid).
"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from backoffice.models import Order
from integrations.adapters import adapter_for
from integrations.adapters.base import CheckoutUrls, PaymentStep
from integrations.deletion import integration_delete
from integrations.models import PaymentMethod
from integrations.types import IntegrationType
from payments import ledger
from payments.browser_checkout import checkout_complete
from payments.checkout_services import payment_request
from payments.models import Operation, PaymentTransaction, Reconciliation, State
from payments.reconciliation import RETRY_DELAYS, Outcome, payments_reconcile
from payments.services import payment_capture, payment_refund
from payments.status import PaymentStatus
from simulators.base import Fault
from simulators.paypal import PayPalSimulator
from simulators.stripe import StripeSimulator
from tests.factories import create_integration
from tests.payments.support import key, make_order
from tests.providers.buyers import PAYPAL_EXPRESS, STRIPE

pytestmark = pytest.mark.django_db

URLS = CheckoutUrls("http://shop.test/r/", "http://shop.test/c/", "http://shop.test/n/")


def provider_method(simulator: Any, type: str = IntegrationType.STRIPE) -> PaymentMethod:
    integration = create_integration(type, name=key(type), api_base_url=simulator.url)
    return integration.methods.get()


def started_checkout(
    simulator: Any,
    *,
    minutes_ago: int = 31,
    type: str = IntegrationType.STRIPE,
    method: PaymentMethod | None = None,
) -> tuple[PaymentTransaction, PaymentStep]:
    """A checkout row started `minutes_ago`, as checkout_submit leaves it for the buyer (with
    `method`, else one of a new integration of `type`)."""
    method = method or provider_method(simulator, type)
    order = make_order()
    request = payment_request(
        order=order, method=method, amount=order.total, idempotency_key=key("checkout"), email=""
    )
    row = ledger.new_row(
        order=order,
        method=method,
        operation=Operation.AUTHORIZE,
        amount=order.total,
        currency=order.currency,
        idempotency_key=request.idempotency_key,
        request=ledger.request_data(request),
    )
    step = adapter_for(method.integration).begin(request, URLS)
    row.provider_reference = step.reference
    row.save()
    ledger.order_refresh_payment_status(order=order)
    PaymentTransaction.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    row.refresh_from_db()
    return row, step


def authorized(simulator: StripeSimulator) -> PaymentTransaction:
    """An open authorization of 100.00 USD, paid in the browser and completed."""
    row, step = started_checkout(simulator, minutes_ago=0)
    params = STRIPE.pay(simulator, step, False)
    return checkout_complete(row=row, params=params)


def gave_up(row: PaymentTransaction, *, minutes_ago: int = 3) -> None:
    """`row`'s call gave up `minutes_ago` (reconciliation waits UNKNOWN_SETTLE_AFTER first)."""
    PaymentTransaction.objects.filter(pk=row.pk).update(
        state=State.UNKNOWN, updated_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


def reconcile() -> str:
    out = StringIO()
    call_command("reconcile_payments", stdout=out)
    return out.getvalue()


def capture_requests(simulator: StripeSimulator) -> int:
    return sum(1 for r in simulator.received if r.path.endswith("/capture"))


class LateAnswer:
    """The next call times out on our side while the simulator still acts on it."""

    def __init__(self, simulator: Any, settings: Any, monkeypatch: Any) -> None:
        settings.PROVIDER_TIMEOUT_SECONDS = 0.1
        simulator.slow_seconds = 0.5
        simulator.fault = Fault.SLOW
        self.simulator, self.settings = simulator, settings
        # Released by the simulator's after_request hook once it has answered (and so acted).
        self._answered = threading.Semaphore(0)
        monkeypatch.setattr(simulator, "after_request", self._answered.release)

    def landed(self) -> None:
        """Wait until the provider has acted on the call we gave up on; answer normally again."""
        self.simulator.fault = None
        self.settings.PROVIDER_TIMEOUT_SECONDS = 5.0
        assert self._answered.acquire(timeout=30), "the simulator never answered"


def test_a_capture_whose_answer_was_lost_ends_succeeded_with_one_capture(
    stripe_simulator: StripeSimulator, sales_user: Any, settings: Any, monkeypatch: Any
) -> None:
    authorization = authorized(stripe_simulator)
    assert authorization.state == State.SUCCEEDED and authorization.is_open
    late = LateAnswer(stripe_simulator, settings, monkeypatch)
    capture = payment_capture(
        transaction=authorization, amount="100.00", actor=sales_user, idempotency_key="cap-1"
    )
    assert capture.state == State.UNKNOWN
    late.landed()  # Stripe captured after we stopped waiting
    gave_up(capture)

    output = reconcile()

    capture.refresh_from_db()
    authorization.refresh_from_db()
    assert capture.state == State.SUCCEEDED
    assert capture.message.startswith("Settled by reconciliation: ")
    assert not authorization.is_open
    assert Order.objects.get(pk=capture.order_id).payment_status == PaymentStatus.PAID_IN_FULL
    assert STRIPE.captured(stripe_simulator) == Decimal("100.00")
    assert capture_requests(stripe_simulator) == 1
    assert "1 succeeded, 0 failed" in output


def test_a_refund_whose_answer_was_lost_ends_succeeded_with_one_refund(
    stripe_simulator: StripeSimulator, sales_user: Any, settings: Any, monkeypatch: Any
) -> None:
    authorization = authorized(stripe_simulator)
    capture = payment_capture(
        transaction=authorization, amount="100.00", actor=sales_user, idempotency_key="cap-1"
    )
    late = LateAnswer(stripe_simulator, settings, monkeypatch)
    refund = payment_refund(
        transaction=capture, amount="40.00", note="damaged", actor=sales_user, idempotency_key="r1"
    )
    assert refund.state == State.UNKNOWN
    late.landed()
    gave_up(refund)

    reconcile()

    refund.refresh_from_db()
    assert refund.state == State.SUCCEEDED
    assert refund.provider_reference.startswith("re_")
    assert len(stripe_simulator.refunds) == 1


def test_a_capture_stripe_never_received_ends_failed_and_stays_capturable(
    stripe_simulator: StripeSimulator, sales_user: Any
) -> None:
    authorization = authorized(stripe_simulator)
    stripe_simulator.fault = Fault.HTTP_500
    capture = payment_capture(
        transaction=authorization, amount="30.00", actor=sales_user, idempotency_key="cap-1"
    )
    assert capture.state == State.UNKNOWN
    stripe_simulator.fault = None
    gave_up(capture)

    reconcile()

    capture.refresh_from_db()
    authorization.refresh_from_db()
    assert capture.state == State.FAILED
    assert authorization.is_open
    assert STRIPE.captured(stripe_simulator) == 0


def test_a_stale_checkout_the_buyer_paid_but_never_returned_from_ends_succeeded(
    stripe_simulator: StripeSimulator,
) -> None:
    row, step = started_checkout(stripe_simulator)
    STRIPE.pay(stripe_simulator, step, False)  # the browser never comes back to us

    reconcile()

    row.refresh_from_db()
    assert row.state == State.SUCCEEDED and row.is_open
    assert row.authorization_expires_at is not None
    assert row.message.startswith("Settled by reconciliation: ")
    assert Order.objects.get(pk=row.order_id).payment_status == PaymentStatus.AUTHORIZED
    assert stripe_simulator.payment_intents[step.reference]["status"] == "requires_capture"


def test_a_stale_checkout_the_buyer_never_paid_ends_failed_and_canceled_at_stripe(
    stripe_simulator: StripeSimulator,
) -> None:
    row, step = started_checkout(stripe_simulator)

    reconcile()

    row.refresh_from_db()
    assert row.state == State.FAILED
    assert stripe_simulator.payment_intents[step.reference]["status"] == "canceled"
    assert Order.objects.get(pk=row.order_id).payment_status == PaymentStatus.DECLINED


def test_a_stale_paypal_checkout_approved_but_never_completed_ends_failed_with_nothing_paid(
    paypal_simulator: PayPalSimulator,
) -> None:
    row, step = started_checkout(paypal_simulator, type=IntegrationType.PAYPAL_EXPRESS)
    PAYPAL_EXPRESS.pay(paypal_simulator, step, False)  # approved, never came back to us

    reconcile()

    row.refresh_from_db()
    assert row.state == State.FAILED
    assert "nothing was charged" in row.message
    assert PAYPAL_EXPRESS.payments(paypal_simulator) == 0
    assert not any(r.path.endswith("/execute") for r in paypal_simulator.received)


def test_a_checkout_pending_for_less_than_the_threshold_is_left_alone(
    stripe_simulator: StripeSimulator,
) -> None:
    row, _ = started_checkout(stripe_simulator, minutes_ago=5)
    received = len(stripe_simulator.received)

    assert "0 succeeded, 0 failed, 0 still unknown" in reconcile()

    row.refresh_from_db()
    assert row.state == State.PENDING
    assert len(stripe_simulator.received) == received
    assert not Reconciliation.objects.exists()


def test_an_unknown_row_is_first_asked_about_once_the_provider_had_time_to_finish(
    stripe_simulator: StripeSimulator, sales_user: Any
) -> None:
    authorization = authorized(stripe_simulator)
    stripe_simulator.fault = Fault.HTTP_500
    capture = payment_capture(
        transaction=authorization, amount="30.00", actor=sales_user, idempotency_key="cap-1"
    )
    stripe_simulator.fault = None
    received = len(stripe_simulator.received)

    assert "0 succeeded, 0 failed, 0 still unknown" in reconcile()
    assert len(stripe_simulator.received) == received
    gave_up(capture, minutes_ago=3)
    assert "0 succeeded, 1 failed" in reconcile()


def test_running_twice_changes_nothing_the_second_time(
    stripe_simulator: StripeSimulator, sales_user: Any
) -> None:
    _, step = started_checkout(stripe_simulator)
    STRIPE.pay(stripe_simulator, step, False)
    started_checkout(stripe_simulator)  # never paid
    reconcile()
    before = list(PaymentTransaction.objects.values().order_by("id"))
    received = len(stripe_simulator.received)

    output = reconcile()

    assert list(PaymentTransaction.objects.values().order_by("id")) == before
    assert len(stripe_simulator.received) == received
    assert "0 succeeded, 0 failed, 0 still unknown" in output


def test_an_answer_stripe_cannot_give_is_asked_again_on_schedule_then_flagged(
    stripe_simulator: StripeSimulator,
) -> None:
    # The buyer's return timed out (unknown) and Stripe says the payment is not finished: that
    # is no answer, and an unknown row is never given up at the provider.
    row, _ = started_checkout(stripe_simulator)
    gave_up(row)
    start = timezone.now()

    times = [start]
    for delay in RETRY_DELAYS:
        times.append(times[-1] + delay)
    outcomes = []
    for index, now in enumerate(times):
        # Just before it is due, nothing is asked.
        if index:
            early = payments_reconcile(now=now - timedelta(seconds=1))
            assert sum(early.counts.values()) == 0
        summary = payments_reconcile(now=now)
        outcomes.append(next(o for o, n in summary.counts.items() if n))
    assert outcomes == [Outcome.UNSETTLED] * 3 + [Outcome.FLAGGED]

    schedule = Reconciliation.objects.get(transaction=row)
    assert schedule.attempts == 4 and schedule.needs_person
    later = payments_reconcile(now=times[-1] + timedelta(days=30))
    assert sum(later.counts.values()) == 0
    row.refresh_from_db()
    assert row.state == State.UNKNOWN
    output = reconcile()
    assert "Needs a person (1):" in output and row.order.number in output


def test_the_retry_schedule_is_kept_on_the_row(stripe_simulator: StripeSimulator) -> None:
    row, _ = started_checkout(stripe_simulator)
    gave_up(row)
    now = timezone.now()
    payments_reconcile(now=now)
    schedule = Reconciliation.objects.get(transaction=row)
    assert (schedule.attempts, schedule.next_attempt_at) == (1, now + timedelta(minutes=5))
    assert "Cannot tell yet" in schedule.last_answer


def test_a_row_of_a_deleted_integration_is_flagged_at_once(
    stripe_simulator: StripeSimulator, admin_user: Any
) -> None:
    row, _ = started_checkout(stripe_simulator)
    integration_delete(integration=row.method.integration, actor=admin_user)
    received = len(stripe_simulator.received)

    output = reconcile()

    assert "1 newly flagged" in output and "its integration was deleted" in output
    assert len(stripe_simulator.received) == received
    row.refresh_from_db()
    assert row.state == State.PENDING


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_a_progress_bar(stripe_simulator: StripeSimulator) -> None:
    started_checkout(stripe_simulator)
    started_checkout(stripe_simulator)
    out = Terminal()
    call_command("reconcile_payments", stdout=out)
    assert "\r[" in out.getvalue() and "] 2/2" in out.getvalue()
    assert "\r[" not in reconcile()  # not a terminal: the summary only


def test_a_negative_threshold_is_refused() -> None:
    with pytest.raises(CommandError, match="cannot be negative"):
        call_command("reconcile_payments", "--stale-minutes", "-1")
