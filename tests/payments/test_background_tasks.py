"""Background work on Celery: webhooks applied by a worker, reconciliation and the sweep as tasks.

The worker tests use the real Redis broker on 127.0.0.1:6379 (its db 15, one db down per xdist
process, flushed before and after) and a real worker in a thread of this process
(celery.contrib.testing), never eager mode; they are skipped when Redis does not answer. Without
CELERY_BROKER_URL (every other test) the webhook view applies events in-process, as
tests/payments/test_browser_checkout.py shows.
"""

from __future__ import annotations

import logging
import queue
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import kombu.pools
import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections
from django.test import Client
from django.urls import reverse

from backoffice.celery import app as celery_app
from payments.models import PaymentTransaction, State
from payments.models import WebhookEvent as WebhookEventRow
from payments.tasks import (
    reconcile_payments_task,
    sweep_authorizations_task,
    webhook_event_apply_task,
)
from payments.webhooks import event_fields, event_from_fields
from tests.payments import test_browser_checkout as checkout_tests
from tests.payments.test_authorization_sweep import authorization
from tests.payments.test_browser_checkout import signed, started_row, submit

# A card checkout whose provider is the fake of test_browser_checkout (its webhooks are signed
# with a key these tests know).
browser_provider = checkout_tests.browser_provider
card_checkout = checkout_tests.card_checkout

# The roles first: a transactional test's flush removes them, and a checkout's users need them.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backoffice_roles"),
]

REDIS_URL = "redis://127.0.0.1:6379/{db}"
DEFAULT_QUEUE = "celery"
# A bound on waiting for the worker, never an expectation of speed.
WORKER_WAIT_SECONDS = 120


def _redis(url: str) -> redis.Redis | None:
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError:
        return None
    return client


@contextmanager
def celery_broker(settings: Any, url: str) -> Iterator[None]:
    """Celery on with the broker at `url`, for the app and a worker alike, then as it was."""
    settings.CELERY_BROKER_URL = url
    saved = celery_app.conf.broker_url
    celery_app.conf.update(broker_url=url)
    _drop_connections()
    try:
        yield
    finally:
        _drop_connections()
        celery_app.conf.update(broker_url=saved)


def _drop_connections() -> None:
    # The app's connection and producer pools are bound to the broker they were made for: kombu
    # closes and forgets its pools, and the app drops its own as after a fork (close() would
    # also unregister the app, and shared tasks would no longer find it).
    kombu.pools.reset()
    celery_app._after_fork()


@pytest.fixture
def broker(settings: Any, worker_id: str) -> Iterator[redis.Redis]:
    """Celery on with the real Redis broker (db 15), flushed before and after.

    Under pytest-xdist each process has its own database (15, 14, …): one's flush or worker
    never touches another's tasks.
    """
    index = int(worker_id[2:]) if worker_id.startswith("gw") else 0
    url = REDIS_URL.format(db=15 - index)
    client = _redis(url)
    if client is None:
        pytest.skip("Redis does not answer on 127.0.0.1:6379 (start redis-server; .ci/run does)")
    client.flushdb()
    try:
        with celery_broker(settings, url):
            yield client
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def finished() -> Iterator[queue.Queue[tuple[str, Any]]]:
    """(task name, return value) of each task the worker finishes, as it finishes it."""
    done: queue.Queue[tuple[str, Any]] = queue.Queue()

    def on_postrun(task: Any = None, retval: Any = None, **_: Any) -> None:
        # In the worker's thread: its database connections end with the task.
        connections.close_all()
        if task is not None:
            done.put((task.name, retval))

    task_postrun.connect(on_postrun, weak=False)
    yield done
    task_postrun.disconnect(on_postrun)


def worker() -> Any:
    """A worker consuming the broker's queue in a thread, until the block ends.

    It is started once the tasks are queued, so no readiness ping is needed (nor a result
    backend): each test waits for its tasks' results from the task_postrun signal.
    """
    return start_worker(
        celery_app,
        pool="solo",
        perform_ping_check=False,
        shutdown_timeout=WORKER_WAIT_SECONDS,
    )


def next_result(done: queue.Queue[tuple[str, Any]]) -> tuple[str, Any]:
    return done.get(timeout=WORKER_WAIT_SECONDS)


def post_webhook(integration: Any, event: dict[str, Any], **extra: str) -> Any:
    body, headers = signed(event)
    url = reverse("payments:webhook", args=[integration.webhook_token])
    return Client().post(url, body, content_type="application/json", **{**headers, **extra})


def test_a_webhook_is_answered_at_once_and_applied_by_the_worker_once(
    card_checkout: dict[str, Any],
    broker: redis.Redis,
    finished: queue.Queue[tuple[str, Any]],
) -> None:
    order, integration = card_checkout["order"], card_checkout["method"].integration
    submit(card_checkout["client"], order, card_checkout["method"])
    row = started_row(order)
    event = {
        "id": "evt_w1",
        "type": "ok",
        "reference": row.provider_reference,
        "state": "succeeded",
    }

    first = post_webhook(integration, event)
    # Delivered again before any worker ran: recorded once, queued again (applying is idempotent).
    second = post_webhook(integration, event)

    assert first.status_code == second.status_code == 200
    assert b"background" in first.content
    assert broker.llen(DEFAULT_QUEUE) == 2
    assert WebhookEventRow.objects.get().outcome == ""
    assert started_row(order).state == State.PENDING

    with worker():
        results = [next_result(finished), next_result(finished)]

    assert results == [
        ("payments.tasks.webhook_event_apply_task", f"Settled transaction {row.pk} as succeeded."),
        ("payments.tasks.webhook_event_apply_task", "Already received."),
    ]
    row.refresh_from_db()
    assert row.state == State.SUCCEEDED
    assert WebhookEventRow.objects.get().transaction_id == row.pk
    assert PaymentTransaction.objects.filter(order=order).count() == 1
    # Applied: a third delivery is acknowledged without queueing anything.
    assert post_webhook(integration, event).content == b"Already received."
    assert broker.llen(DEFAULT_QUEUE) == 0


def test_a_webhook_with_a_wrong_signature_is_refused_and_nothing_is_queued(
    card_checkout: dict[str, Any], broker: redis.Redis
) -> None:
    integration = card_checkout["method"].integration
    url = reverse("payments:webhook", args=[integration.webhook_token])
    body = b'{"id": "evt_w2", "type": "ok", "reference": "r", "state": "succeeded"}'
    response = Client().post(
        url, body, content_type="application/json", HTTP_X_FAKE_SIGNATURE="0" * 64
    )
    assert response.status_code == 400
    assert broker.llen(DEFAULT_QUEUE) == 0
    assert not WebhookEventRow.objects.exists()


def test_the_sweep_and_reconciliation_run_on_the_worker(
    broker: redis.Redis, finished: queue.Queue[tuple[str, Any]]
) -> None:
    expired = authorization(-timedelta(hours=1))
    sweep_authorizations_task.delay()
    reconcile_payments_task.delay()
    root_level = logging.getLogger().level

    with worker():
        results = dict([next_result(finished), next_result(finished)])

    # The worker keeps the level Django's LOGGING set (celery would lower it to its own).
    assert logging.getLogger().level == root_level

    assert results["payments.tasks.sweep_authorizations_task"] == 1
    assert results["payments.tasks.reconcile_payments_task"] == {
        "succeeded": 0,
        "failed": 0,
        "unsettled": 0,
        "flagged": 0,
        "skipped": 0,
    }
    expired.refresh_from_db()
    assert not expired.is_open


def test_applying_an_event_again_changes_nothing(card_checkout: dict[str, Any]) -> None:
    """A task retried or delivered twice: the second run finds the event applied."""
    order, integration = card_checkout["order"], card_checkout["method"].integration
    submit(card_checkout["client"], order, card_checkout["method"])
    row = started_row(order)
    post_webhook(integration, {"id": "evt_w3", "type": "ok", "reference": row.provider_reference})
    event_row = WebhookEventRow.objects.get()
    fields = event_fields(
        event_from_fields(
            {"id": "evt_w3", "type": "ok", "reference": row.provider_reference, "state": "failed"}
        )
    )
    before = PaymentTransaction.objects.values().get(pk=row.pk)

    # Run in this process, as a worker would run it: the event was applied when it arrived.
    assert webhook_event_apply_task(event_row.pk, fields) == "Already received."
    assert webhook_event_apply_task(event_row.pk, fields) == "Already received."

    assert PaymentTransaction.objects.values().get(pk=row.pk) == before
    assert WebhookEventRow.objects.get().outcome == event_row.outcome


def test_event_fields_round_trip_through_json() -> None:
    import json

    from integrations.adapters.base import ResultState, WebhookEvent

    event = WebhookEvent(
        id="e",
        type="t",
        reference="r",
        state=ResultState.FAILED,
        message="m",
        raw={"x": 1},
        settled_reference="s",
        order_number="SO-1",
    )
    restored = event_from_fields(json.loads(json.dumps(event_fields(event))))
    assert restored == WebhookEvent(**{**event.__dict__, "raw": {}})


def test_a_webhook_the_broker_cannot_take_asks_the_provider_to_retry(
    card_checkout: dict[str, Any], settings: Any
) -> None:
    """Recorded but not applied: the provider's retry queues it (Celery's own retries included)."""
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        unreachable = f"redis://127.0.0.1:{probe.getsockname()[1]}/15"
    order, integration = card_checkout["order"], card_checkout["method"].integration
    submit(card_checkout["client"], order, card_checkout["method"])
    row = started_row(order)
    with celery_broker(settings, unreachable):
        response = post_webhook(
            integration,
            {"id": "evt_w4", "type": "ok", "reference": row.provider_reference, "state": "failed"},
        )

    assert response.status_code == 503
    assert WebhookEventRow.objects.get().outcome == ""
    assert started_row(order).state == State.PENDING
