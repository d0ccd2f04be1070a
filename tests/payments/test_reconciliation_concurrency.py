"""Concurrent reconciliation on PostgreSQL: a row another transaction holds is skipped, not
waited for, and settled by whoever holds it; the next run finds nothing left to do."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from payments.models import PaymentTransaction, Reconciliation, State
from payments.reconciliation import Outcome, payments_reconcile
from simulators.stripe import StripeSimulator
from tests.payments.test_reconciliation import started_checkout
from tests.providers.buyers import STRIPE

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (set DATABASE_URL): SQLite has no row locks to skip",
    ),
]


def test_a_row_locked_elsewhere_is_skipped_without_asking_the_provider(
    stripe_simulator: StripeSimulator, backoffice_roles: Any
) -> None:
    row, step = started_checkout(stripe_simulator)
    STRIPE.pay(stripe_simulator, step, False)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        # As a buyer's return or a webhook holds it while it settles the row.
        try:
            with transaction.atomic():
                PaymentTransaction.objects.select_for_update().get(pk=row.pk)
                locked.set()
                assert release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        received = len(stripe_simulator.received)
        summary = payments_reconcile()
        assert summary.counts[Outcome.SKIPPED] == 1
        assert len(stripe_simulator.received) == received
        assert not Reconciliation.objects.exists()
    finally:
        release.set()
        holder.join(timeout=30)

    settled = payments_reconcile()
    assert settled.counts[Outcome.SUCCEEDED] == 1
    row.refresh_from_db()
    assert row.state == State.SUCCEEDED
