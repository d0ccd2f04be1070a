"""Test mode never takes or moves money in a production deployment, by any path.

Each test starts from a sandbox deployment that used an integration of one type (see
`sandbox_leftovers`), flips the deployment to production, and takes one path by which money
could move: the integration forms, activation, the connection check, the storefront's rules, a
stale checkout page, the payment page and the provider's return and silent post, webhooks, the
Celery tasks and management commands that settle or sweep, staff capture, cancel, refund and
"mark received", seed_demo and the rule simulator. Every path is refused with a clear message,
records nothing as paid, and sends nothing to the provider: neither to its simulator (where the
integration's endpoint override points) nor anywhere else (the `outbound` tripwire).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from integrations.adapters import ADAPTERS, adapter_for
from integrations.adapters.base import EnvironmentRefused, ResultState, WebhookEvent
from integrations.models import Integration
from integrations.services import integration_check_connection
from integrations.types import Environment
from payments import services
from payments.browser_checkout import return_token
from payments.models import (
    Operation,
    PaymentTransaction,
    Reconciliation,
    State,
)
from payments.models import (
    WebhookEvent as WebhookEventRow,
)
from payments.reconciliation import payments_reconcile
from payments.tasks import (
    reconcile_payments_task,
    sweep_authorizations_task,
    webhook_event_apply_task,
)
from payments.webhooks import event_fields
from tests.factories import UserFactory, create_integration, form_data
from tests.security.sandbox_leftovers import (
    ALL_TYPES,
    REFUSAL,
    REMOTE_TYPES,
    SIMULATOR_FIXTURES,
    Outbound,
    SandboxWorld,
    flip_to_production,
    outbound,
    sandbox_world,
)
from tests.security.support import payment_action

__all__ = ["outbound"]

pytestmark = pytest.mark.django_db

PAID = frozenset(
    {"paid_in_full", "paid_partially", "authorized", "authorized_partially", "invoiced"}
)


@pytest.fixture(params=ALL_TYPES)
def world(
    request: pytest.FixtureRequest, settings: Any, outbound: Outbound
) -> Iterator[SandboxWorld]:
    """A sandbox deployment's leftovers for one integration type, in a production deployment."""
    fixture = SIMULATOR_FIXTURES.get(request.param)
    simulator = request.getfixturevalue(fixture) if fixture else None
    built = sandbox_world(request.param, simulator)
    flip_to_production(settings)
    before = built.ledger()
    yield built
    assert built.provider_calls() == 0
    assert outbound.hosts == []
    # Nothing may have turned into money: no row succeeded that had not before.
    succeeded_before = {pk for pk, state, _ in before if state == State.SUCCEEDED}
    succeeded_now = set(
        PaymentTransaction.objects.filter(state=State.SUCCEEDED).values_list("pk", flat=True)
    )
    assert succeeded_now <= succeeded_before


def _admin() -> Client:
    client = Client()
    client.force_login(UserFactory(groups=["Administrators"]))
    return client


def _sales() -> Client:
    client = Client()
    client.force_login(UserFactory(groups=["Sales"]))
    return client


def _buyer(world: SandboxWorld) -> Client:
    client = Client()
    client.force_login(world.buyer.user)
    return client


def _text(response: Any) -> str:
    return response.content.decode()


# --- administrators: the integration itself --------------------------------------------------


def test_creating_a_test_mode_integration_active_is_refused(world: SandboxWorld):
    data = form_data(world.type, "New in production")
    response = _admin().post(f"/admin/integrations/new/?type={world.type}", data)
    created = Integration.objects.filter(name="New in production").first()
    if world.type in ADAPTERS:
        assert response.status_code == 400
        assert "production deployment" in _text(response)
        assert created is None
    else:
        # Check/Money Order and Payment Terms have no test mode: they are offline everywhere.
        assert response.status_code == 302
        assert created is not None and created.environment == Environment.OFFLINE


@pytest.mark.parametrize("type", REMOTE_TYPES)
def test_editing_keeps_a_test_mode_integration_from_being_active(
    type: str, settings, outbound, request
):
    world = sandbox_world(type, request.getfixturevalue(SIMULATOR_FIXTURES[type]))
    flip_to_production(settings)
    data = form_data(type, world.integration.name)
    response = _admin().post(f"/admin/integrations/{world.integration.pk}/edit/", data)
    assert response.status_code == 400
    assert "cannot be used in a production deployment" in _text(response) or REFUSAL in _text(
        response
    )
    world.integration.refresh_from_db()
    assert world.integration.environment == Environment.SANDBOX
    assert world.provider_calls() == 0 and outbound.hosts == []


def test_activation_is_refused(world: SandboxWorld):
    Integration.objects.filter(pk=world.integration.pk).update(is_active=False)
    url = f"/admin/integrations/{world.integration.pk}/activate/"
    response = _admin().post(url, follow=True)
    assert REFUSAL in _text(response)
    world.integration.refresh_from_db()
    assert world.integration.is_active is False


def test_no_adapter_is_built_for_it(world: SandboxWorld):
    with pytest.raises(EnvironmentRefused, match="Nothing was sent to the provider"):
        adapter_for(world.integration)


def test_check_connection_sends_nothing(world: SandboxWorld):
    url = f"/admin/integrations/{world.integration.pk}/check-connection/"
    response = _admin().post(url, follow=True)
    if world.type in ADAPTERS:
        assert f"Not checked. {REFUSAL}" in _text(response)
    else:
        assert response.status_code == 404  # offline: nothing to check


# --- the buyer: checkout, payment page, provider returns --------------------------------------


def test_the_storefront_does_not_offer_the_method(world: SandboxWorld):
    order = world.fresh_order()
    page = _text(_buyer(world).get(f"/checkout/{order.number}/"))
    assert f'name="method" value="{world.method.pk}"' not in page


def test_a_stale_checkout_page_posting_the_method_is_refused(world: SandboxWorld):
    order = world.fresh_order()
    client = _buyer(world)
    response = client.post(
        f"/checkout/{order.number}/", {"method": world.method.pk, "idempotency_key": "stale-1"}
    )
    assert response.status_code == 400
    assert "no longer available" in _text(response)
    assert not order.transactions.exists()


def test_the_payment_page_of_a_checkout_started_before_refuses(world: SandboxWorld):
    row = world.checkout
    response = _buyer(world).get(f"/checkout/{row.order.number}/pay/{row.pk}/")
    if row.state == State.PENDING:
        assert response.status_code == 503
        assert "no longer available" in _text(response)
    else:  # offline: there is no payment page
        assert response.status_code == 302


@pytest.mark.parametrize("way", ["return", "notify"])
def test_the_provider_return_settles_nothing_as_paid(world: SandboxWorld, way: str):
    row = world.checkout
    was = row.state
    client = Client()
    url = f"/payment/{way}/{return_token(row)}/"
    response = client.post(url, {"token": "from-the-provider", "PayerID": "BUYER"})
    assert response.status_code in (200, 302, 400)
    row.refresh_from_db()
    if was == State.PENDING:
        assert row.state == State.FAILED
        assert "no real money was taken" in row.message
        row.order.refresh_from_db()
        assert row.order.payment_status not in PAID
    else:
        assert row.state == was


def test_giving_up_a_checkout_asks_nothing(world: SandboxWorld):
    row = world.checkout
    was = row.state
    response = _buyer(world).post(f"/checkout/{row.order.number}/pay/{row.pk}/abandon/")
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.state == (State.FAILED if was == State.PENDING else was)


# --- webhooks ---------------------------------------------------------------------------------


def test_webhooks_for_the_integration_are_refused_and_not_recorded(world: SandboxWorld):
    body = b'{"id": "evt_1", "type": "payment_intent.succeeded"}'
    response = Client().post(
        f"/webhooks/{world.integration.webhook_token}/", body, content_type="application/json"
    )
    assert response.status_code == 403
    assert REFUSAL in _text(response)
    assert not WebhookEventRow.objects.exists()


def test_a_webhook_recorded_before_the_flip_is_not_applied_by_the_worker(world: SandboxWorld):
    row = world.checkout
    event = WebhookEvent(
        id="evt-before-the-flip",
        type="payment.succeeded",
        reference=row.provider_reference or "none",
        state=ResultState.SUCCEEDED,
        order_number=row.order.number,
    )
    recorded = WebhookEventRow.objects.create(
        integration=world.integration,
        event_id=event.id,
        event_type=event.type,
        reference=event.reference,
        payload={},
    )
    detail = webhook_event_apply_task(recorded.pk, event_fields(event))
    assert detail == f"Not applied. {REFUSAL}"
    row.refresh_from_db()
    assert row.state == world.checkout.state


# --- sales staff: money already held ----------------------------------------------------------


def test_staff_see_no_action_on_its_payments(world: SandboxWorld):
    client = _sales()
    for row in (world.authorization, world.charge, world.checkout):
        for action in ("capture", "cancel", "refund", "mark_received"):
            assert not payment_action(client, row.order, action), (row.operation, action)


@pytest.mark.parametrize(
    ("operation", "source", "what"),
    [
        ("capture", "authorization", "captured"),
        ("cancel", "authorization", "canceled"),
        ("refund", "charge", "refunded"),
        ("mark_received", "checkout", "marked received"),
    ],
)
def test_staff_operations_are_refused_before_anything_is_written(
    world: SandboxWorld, operation: str, source: str, what: str
):
    row: PaymentTransaction = getattr(world, source)
    if operation == "mark_received" and row.operation not in (Operation.PENDING, Operation.INVOICE):
        row = world.authorization  # a card checkout is not "received"; the refusal is the same
        what = "marked received"
    rows_before = PaymentTransaction.objects.count()
    actor = UserFactory(groups=["Sales"])
    kwargs: dict[str, Any] = {
        "transaction": row,
        "actor": actor,
        "idempotency_key": f"staff-{operation}",
    }
    if operation in ("capture", "refund"):
        kwargs["amount"] = "10.00"
    if operation in ("cancel", "refund"):
        kwargs["note"] = "customer asked"
    call = getattr(services, f"payment_{operation}")
    with pytest.raises(services.PaymentError) as refusal:
        call(**kwargs)
    if operation == "mark_received" and row is world.authorization:
        assert "cannot be marked received" in str(refusal.value)
    else:
        assert str(refusal.value) == f"{REFUSAL} This payment cannot be {what} here."
    assert PaymentTransaction.objects.count() == rows_before


# --- background work: reconciliation, the expiry sweep -----------------------------------------


def test_reconciliation_flags_its_rows_for_a_person_without_asking(world: SandboxWorld):
    summary = payments_reconcile(now=timezone.now())
    if world.type not in ADAPTERS:
        assert sum(summary.counts.values()) == 0  # offline rows are never reconciled
        return
    expected = {world.lost_capture.pk}
    if world.checkout.state == State.PENDING:
        expected.add(world.checkout.pk)
    flagged = Reconciliation.objects.filter(needs_person=True)
    assert set(flagged.values_list("transaction_id", flat=True)) == expected
    assert all(REFUSAL in schedule.last_answer for schedule in flagged)
    assert PaymentTransaction.objects.get(pk=world.lost_capture.pk).state == State.UNKNOWN


def test_the_reconcile_task_and_command_ask_nothing(world: SandboxWorld):
    reconcile_payments_task()
    call_command("reconcile_payments", stdout=io.StringIO())
    assert PaymentTransaction.objects.get(pk=world.lost_capture.pk).state == State.UNKNOWN


def test_the_expiry_sweep_closes_an_expired_authorization_without_asking(world: SandboxWorld):
    PaymentTransaction.objects.filter(pk=world.authorization.pk).update(
        authorization_expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert sweep_authorizations_task() == 1
    call_command("sweep_authorizations", stdout=io.StringIO())
    world.authorization.refresh_from_db()
    assert world.authorization.is_open is False
    assert world.authorization.state == State.SUCCEEDED


# --- the rule simulator, seed_demo ------------------------------------------------------------


def test_the_rule_simulator_shows_why_the_method_is_left_out(world: SandboxWorld):
    order = world.fresh_order()
    client = _admin()
    redirect = client.get(f"/admin/payment-rules/simulate/?order={order.number}")
    page = _text(client.get(redirect["Location"]))
    assert "test-mode integration in a production deployment" in page


def test_seed_demo_is_refused(world: SandboxWorld):
    integrations = Integration.objects.count()
    with pytest.raises(CommandError, match="refused in a production deployment"):
        call_command("seed_demo")
    assert Integration.objects.count() == integrations


# --- the endpoint override, and the reverse: a live integration in a sandbox deployment -------


@pytest.mark.parametrize("type", REMOTE_TYPES)
def test_production_ignores_the_endpoint_override_even_of_a_live_integration(
    type: str, settings: Any, outbound: Outbound, request: pytest.FixtureRequest
):
    simulator = request.getfixturevalue(SIMULATOR_FIXTURES[type])
    integration = create_integration(type, name="Live one", api_base_url=simulator.url)
    Integration.objects.filter(pk=integration.pk).update(environment=Environment.LIVE)
    integration.refresh_from_db()
    flip_to_production(settings)
    assert not integration_check_connection(integration=integration).ok
    assert simulator.received == []
    # It went for the provider's own host (which the tripwire stopped): the tripwire sees leaks.
    assert outbound.hosts


@pytest.mark.parametrize("type", REMOTE_TYPES)
def test_a_live_integration_in_a_sandbox_deployment_moves_nothing(
    type: str, outbound: Outbound, request: pytest.FixtureRequest
):
    """A production database copied into a sandbox deployment: its live credentials stay unused."""
    world = sandbox_world(type, request.getfixturevalue(SIMULATOR_FIXTURES[type]))
    Integration.objects.filter(pk=world.integration.pk).update(environment=Environment.LIVE)
    world.integration.refresh_from_db()
    refusal = "a live integration cannot be active here"
    with pytest.raises(EnvironmentRefused, match=refusal):
        adapter_for(world.integration)
    with pytest.raises(services.PaymentError, match=refusal):
        services.payment_capture(
            transaction=world.authorization,
            amount="10.00",
            actor=UserFactory(groups=["Sales"]),
            idempotency_key="live-capture",
        )
    webhook = Client().post(
        f"/webhooks/{world.integration.webhook_token}/", b"{}", content_type="application/json"
    )
    assert webhook.status_code == 403
    # Live credentials may have taken real money: the row is left for a person, not failed.
    Client().post(f"/payment/return/{return_token(world.checkout)}/")
    world.checkout.refresh_from_db()
    assert world.checkout.state == State.PENDING
    assert world.provider_calls() == 0 and outbound.hosts == []
