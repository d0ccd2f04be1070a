"""Deleting an integration gives up the checkouts buyers started with it, at the provider, then
wipes its secrets: in-process right after the commit, or on a Celery worker (real Redis).

The checkouts are started through the real adapters over HTTP against the Stripe and PayPal
simulators, as tests/payments/test_reconciliation.py does; nothing is mocked.
"""

from __future__ import annotations

import queue
import socket
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.urls import reverse
from django.utils import timezone

from backoffice.models import AuditEntry
from integrations.deletion import integration_delete
from integrations.models import Integration
from integrations.types import IntegrationType
from payments.browser_checkout import checkout_complete
from payments.integration_cleanup import (
    CLEANUP_OVERDUE_AFTER,
    REMOVED,
    CleanupReport,
    integration_cleanup,
)
from payments.models import PaymentTransaction, State
from payments.reconciliation import Outcome, payments_reconcile
from payments.status import PaymentStatus
from simulators.base import Fault
from simulators.paypal import PayPalSimulator
from simulators.stripe import StripeSimulator
from tests.payments import test_background_tasks as background
from tests.payments.test_reconciliation import reconcile, started_checkout
from tests.providers.buyers import PAYPAL_EXPRESS, STRIPE

# The real broker and the worker's results, as the background-task tests use them.
broker = background.broker
finished = background.finished

pytestmark = pytest.mark.django_db


def cancels(simulator: StripeSimulator, reference: str) -> int:
    return sum(
        1
        for r in simulator.received
        if r.method == "POST" and r.path == f"/v1/payment_intents/{reference}/cancel"
    )


def cleanup_entries(integration: Integration) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(action="integration.cleaned_up", object_id=integration.pk)
    )


def delete(integration: Integration, actor: Any, capture: Any) -> None:
    """Delete `integration` and run what waits for the commit (the clean-up), as a request does."""
    with capture(execute=True) as callbacks:
        integration_delete(integration=integration, actor=actor)
    assert len(callbacks) == 1


def test_a_started_stripe_checkout_is_cancelled_at_the_provider_then_the_secrets_are_wiped(
    stripe_simulator: StripeSimulator, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    row, step = started_checkout(stripe_simulator, minutes_ago=0)
    integration = row.method.integration
    # An open authorization through the same integration: money in flight, left alone.
    held, held_step = started_checkout(stripe_simulator, minutes_ago=0, method=row.method)
    held = checkout_complete(row=held, params=STRIPE.pay(stripe_simulator, held_step, False))
    assert held.state == State.SUCCEEDED and held.is_open

    delete(integration, admin_user, django_capture_on_commit_callbacks)

    row.refresh_from_db()
    assert (row.state, row.message) == (State.FAILED, REMOVED)
    assert row.order.payment_status == PaymentStatus.DECLINED
    assert stripe_simulator.payment_intents[step.reference]["status"] == "canceled"
    # The buyer's page can no longer pay it.
    with pytest.raises(AssertionError, match="canceled"):
        STRIPE.pay(stripe_simulator, step, False)
    held.refresh_from_db()
    assert held.state == State.SUCCEEDED and held.is_open
    assert cancels(stripe_simulator, held.provider_reference) == 0
    assert stripe_simulator.payment_intents[held.provider_reference]["status"] == (
        "requires_capture"
    )
    integration.refresh_from_db()
    assert integration.encrypted_secrets == ""
    [entry] = cleanup_entries(integration)
    assert entry.actor == admin_user
    assert entry.changes == {
        "started checkouts given up": 1,
        "paid at the provider after all": 0,
        "left for reconciliation": 0,
        "secrets": "wiped",
    }


def test_a_started_paypal_checkout_fails_and_is_never_executed(
    paypal_simulator: PayPalSimulator, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    row, step = started_checkout(paypal_simulator, type=IntegrationType.PAYPAL_EXPRESS)
    PAYPAL_EXPRESS.pay(paypal_simulator, step, False)  # approved on PayPal, never came back

    delete(row.method.integration, admin_user, django_capture_on_commit_callbacks)

    row.refresh_from_db()
    assert (row.state, row.message) == (State.FAILED, REMOVED)
    assert PAYPAL_EXPRESS.payments(paypal_simulator) == 0
    assert Integration.objects.get(pk=row.method.integration_id).encrypted_secrets == ""


def test_the_dialog_and_the_result_say_started_checkouts_are_cancelled(
    stripe_simulator: StripeSimulator, admin_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    row, step = started_checkout(stripe_simulator, minutes_ago=0)
    url = reverse("integrations:delete", args=[row.method.integration_id])

    dialog = admin_client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post(url, follow=True).content.decode()

    assert "1 checkout a buyer started with this integration and has not finished will be " in (
        dialog
    )
    assert "1 started checkout is being cancelled at the provider; nothing is taken." in done
    assert stripe_simulator.payment_intents[step.reference]["status"] == "canceled"


def test_a_provider_fault_leaves_the_row_for_reconciliation_and_still_wipes_the_secrets(
    stripe_simulator: StripeSimulator, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    row, _ = started_checkout(stripe_simulator, minutes_ago=0)
    stripe_simulator.fault = Fault.HTTP_500

    delete(row.method.integration, admin_user, django_capture_on_commit_callbacks)

    row.refresh_from_db()
    assert row.state == State.UNKNOWN
    assert "did not give a clear answer" in row.message
    integration = Integration.objects.get(pk=row.method.integration_id)
    assert integration.encrypted_secrets == ""
    [entry] = cleanup_entries(integration)
    assert entry.changes["left for reconciliation"] == 1
    # Its credentials are gone: reconciliation hands it to a person without asking anyone.
    stripe_simulator.fault = None
    asked = len(stripe_simulator.received)
    summary = payments_reconcile(now=timezone.now() + timedelta(minutes=3))
    assert summary.counts[Outcome.FLAGGED] == 1
    assert len(stripe_simulator.received) == asked


def test_the_clean_up_run_twice_cancels_once_and_wipes_once(
    stripe_simulator: StripeSimulator, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    row, step = started_checkout(stripe_simulator, minutes_ago=0)
    integration = row.method.integration
    with django_capture_on_commit_callbacks(execute=False):
        integration_delete(integration=integration, actor=admin_user)

    first = integration_cleanup(integration_id=integration.pk, actor_id=admin_user.pk)
    again = integration_cleanup(integration_id=integration.pk, actor_id=admin_user.pk)

    assert first == CleanupReport(abandoned=1, wiped=True)
    assert again == CleanupReport()
    assert cancels(stripe_simulator, step.reference) == 1
    assert len(cleanup_entries(integration)) == 1


def test_a_live_integration_is_never_cleaned_up(
    stripe_simulator: StripeSimulator, admin_user: Any
) -> None:
    row, _ = started_checkout(stripe_simulator, minutes_ago=0)
    stored = row.method.integration.encrypted_secrets

    assert integration_cleanup(integration_id=row.method.integration_id, actor_id=None) == (
        CleanupReport()
    )

    row.refresh_from_db()
    assert row.state == State.PENDING
    assert Integration.objects.get(pk=row.method.integration_id).encrypted_secrets == stored


def test_a_buyer_who_paid_just_before_the_clean_up_is_recorded_as_paid(
    stripe_simulator: StripeSimulator, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    row, step = started_checkout(stripe_simulator, minutes_ago=0)
    params = STRIPE.pay(stripe_simulator, step, False)  # paid; the return is still on its way

    delete(row.method.integration, admin_user, django_capture_on_commit_callbacks)
    # The return arrives after the clean-up: the row is settled already and stays so.
    late = checkout_complete(row=row, params=params)

    assert late.state == State.SUCCEEDED and late.is_open
    assert late.order.payment_status == PaymentStatus.AUTHORIZED
    assert PaymentTransaction.objects.filter(order=row.order).count() == 1
    assert stripe_simulator.payment_intents[step.reference]["status"] == "requires_capture"
    [entry] = cleanup_entries(row.method.integration)
    assert entry.changes["paid at the provider after all"] == 1


def test_a_buyer_returning_between_the_deletion_and_the_clean_up_is_recorded(
    stripe_simulator: StripeSimulator, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    row, step = started_checkout(stripe_simulator, minutes_ago=0)
    params = STRIPE.pay(stripe_simulator, step, False)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        integration_delete(integration=row.method.integration, actor=admin_user)

    # The deletion has committed; its clean-up has not run yet, so the secrets still answer.
    returned = checkout_complete(row=row, params=params)
    for callback in callbacks:
        callback()

    assert returned.state == State.SUCCEEDED
    row.refresh_from_db()
    assert row.state == State.SUCCEEDED and row.is_open
    assert cancels(stripe_simulator, step.reference) == 0
    assert Integration.objects.get(pk=row.method.integration_id).encrypted_secrets == ""


def test_reconciliation_finishes_a_clean_up_that_never_ran(
    stripe_simulator: StripeSimulator, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    lost, lost_step = started_checkout(stripe_simulator, minutes_ago=0)
    recent, _ = started_checkout(stripe_simulator, minutes_ago=0)
    for row in (lost, recent):  # the clean-up tasks are lost (a broker restarted, say)
        with django_capture_on_commit_callbacks(execute=False):
            integration_delete(integration=row.method.integration, actor=admin_user)
    Integration.objects.filter(pk=lost.method.integration_id).update(
        deleted_at=timezone.now() - CLEANUP_OVERDUE_AFTER - timedelta(minutes=1)
    )

    out = reconcile()

    assert "Finished the clean-up of 1 deleted integration." in out
    lost.refresh_from_db()
    assert (lost.state, lost.message) == (State.FAILED, REMOVED)
    assert stripe_simulator.payment_intents[lost_step.reference]["status"] == "canceled"
    tombstone = Integration.objects.get(pk=lost.method.integration_id)
    assert tombstone.encrypted_secrets == ""
    [entry] = cleanup_entries(tombstone)
    assert entry.actor is None
    # Deleted a moment ago: its own clean-up is presumably still running.
    assert Integration.objects.get(pk=recent.method.integration_id).encrypted_secrets != ""


# --- On Celery: the worker path against the real Redis ------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("backoffice_roles")
def test_with_a_broker_the_clean_up_runs_on_the_worker(
    stripe_simulator: StripeSimulator,
    broker: redis.Redis,
    finished: queue.Queue[tuple[str, Any]],
    admin_user: Any,
) -> None:
    row, step = started_checkout(stripe_simulator, minutes_ago=0)
    integration = row.method.integration

    integration_delete(integration=integration, actor=admin_user)  # commits: the task is queued

    assert broker.llen(background.DEFAULT_QUEUE) == 1
    # Until the worker has run, the secrets are kept: the cancellation needs them.
    assert Integration.objects.get(pk=integration.pk).encrypted_secrets != ""
    assert PaymentTransaction.objects.get(pk=row.pk).state == State.PENDING

    with background.worker():
        result = background.next_result(finished)

    assert result == (
        "payments.tasks.integration_cleanup_task",
        {"abandoned": 1, "paid": 0, "left": 0, "wiped": 1},
    )
    row.refresh_from_db()
    assert (row.state, row.message) == (State.FAILED, REMOVED)
    assert stripe_simulator.payment_intents[step.reference]["status"] == "canceled"
    assert Integration.objects.get(pk=integration.pk).encrypted_secrets == ""
    assert len(cleanup_entries(integration)) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("backoffice_roles")
def test_a_broker_that_cannot_take_the_task_leaves_the_clean_up_to_the_request(
    stripe_simulator: StripeSimulator, settings: Any, admin_user: Any
) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        unreachable = f"redis://127.0.0.1:{probe.getsockname()[1]}/15"
    row, step = started_checkout(stripe_simulator, minutes_ago=0)

    with background.celery_broker(settings, unreachable):
        integration_delete(integration=row.method.integration, actor=admin_user)

    row.refresh_from_db()
    assert (row.state, row.message) == (State.FAILED, REMOVED)
    assert stripe_simulator.payment_intents[step.reference]["status"] == "canceled"
    assert Integration.objects.get(pk=row.method.integration_id).encrypted_secrets == ""
