"""Concurrent requests on one payment act once (DESIGN §6), on PostgreSQL with real threads.

Each thread gets its own database connection, so the row locks and the unique idempotency key
are exercised as two web workers would. SQLite serialises writers, so it cannot show a race:
these tests run only on PostgreSQL (DATABASE_URL=postgres://…).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from integrations.types import IntegrationType
from payments import services
from payments.models import Operation, PaymentTransaction, State
from payments.services import PaymentError
from tests.factories import UserFactory
from tests.payments.support import key, make_order, offered_method

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (set DATABASE_URL): SQLite serialises writers, so no race shows",
    ),
]


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Start `calls` in threads at the same instant; each result or raised exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as error:
            results[index] = error
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def superuser() -> Any:
    # Groups from the roles migration are flushed by transactional tests; a superuser holds
    # every permission regardless.
    return UserFactory(is_superuser=True)


@pytest.fixture
def authorization(fake_card):
    fake_card.delay_seconds = 0.2  # both requests are inside the service at once
    method = offered_method(IntegrationType.STRIPE, payment_action="manual", actor=superuser())
    order = make_order(total="100.00")
    return services.checkout_submit(
        order=order, method=method, customer_user=order.customer_user, idempotency_key=key()
    )


def test_capture_twice_concurrently_captures_once(fake_card, authorization):
    alice, bob = superuser(), superuser()

    def capture(actor: Any) -> Callable[[], Any]:
        return lambda: services.payment_capture(
            transaction=authorization, amount="100", actor=actor, idempotency_key=key()
        )

    results = run_together(capture(alice), capture(bob))

    captures = PaymentTransaction.objects.filter(operation=Operation.CAPTURE)
    assert captures.count() == 1 and captures.get().state == State.SUCCEEDED
    refused = [r for r in results if isinstance(r, PaymentError)]
    assert len(refused) == 1, results
    assert [call[0] for call in fake_card.calls].count("capture") == 1


def test_partial_captures_at_once_never_exceed_the_authorization(fake_card, authorization):
    actor = superuser()
    results = run_together(
        *(
            lambda: services.payment_capture(
                transaction=authorization, amount="40", actor=actor, idempotency_key=key()
            )
            for _ in range(3)
        )
    )

    captured = PaymentTransaction.objects.filter(
        operation=Operation.CAPTURE, state=State.SUCCEEDED
    ).values_list("amount", flat=True)
    assert sum(captured, Decimal(0)) == Decimal("80.00")
    assert sum(isinstance(r, PaymentError) for r in results) == 1


def test_a_resubmitted_capture_racing_itself_acts_once(fake_card, authorization):
    actor = superuser()

    def capture() -> Any:
        return services.payment_capture(
            transaction=authorization, amount="100", actor=actor, idempotency_key="resubmitted"
        )

    first, second = run_together(capture, capture)

    assert isinstance(first, PaymentTransaction) and isinstance(second, PaymentTransaction)
    assert first.pk == second.pk
    assert [call[0] for call in fake_card.calls].count("capture") == 1


@pytest.mark.parametrize("same_key", [True, False], ids=["same key", "fresh keys"])
def test_a_double_clicked_checkout_records_one_payment(same_key):
    method = offered_method(IntegrationType.MONEY_ORDER, actor=superuser())
    order = make_order()

    def submit() -> Any:
        return services.checkout_submit(
            order=order,
            method=method,
            customer_user=order.customer_user,
            idempotency_key="click" if same_key else key(),
        )

    results = run_together(submit, submit)

    assert PaymentTransaction.objects.filter(order=order).count() == 1
    rows = [r for r in results if isinstance(r, PaymentTransaction)]
    if same_key:
        assert len(rows) == 2 and rows[0].pk == rows[1].pk
    else:
        assert len(rows) == 1, results  # the other: "already submitted for payment"


def test_mark_received_twice_concurrently_records_one_capture():
    method = offered_method(IntegrationType.MONEY_ORDER, actor=superuser())
    order = make_order()
    pending = services.checkout_submit(
        order=order, method=method, customer_user=order.customer_user, idempotency_key=key()
    )
    actor = superuser()

    results = run_together(
        *(
            lambda: services.payment_mark_received(
                transaction=pending, actor=actor, idempotency_key=key()
            )
            for _ in range(2)
        )
    )

    assert PaymentTransaction.objects.filter(operation=Operation.CAPTURE).count() == 1
    assert sum(isinstance(r, PaymentError) for r in results) == 1
