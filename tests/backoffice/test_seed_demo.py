from __future__ import annotations

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from backoffice.models import Customer, CustomerUser, Website
from integrations.models import Integration, PaymentMethod
from integrations.types import Environment, IntegrationType

pytestmark = pytest.mark.django_db


def _seed() -> None:
    call_command("seed_demo", stdout=io.StringIO())


def test_seed_demo_creates_the_documented_logins_and_one_integration_of_every_type():
    _seed()
    assert authenticate(username="admin", password="admin-demo").has_perm(
        "integrations.add_integration"
    )
    sales = authenticate(username="sales", password="sales-demo")
    assert sales.has_perm("integrations.view_integration")
    assert not sales.has_perm("integrations.change_integration")
    buyer = authenticate(username="buyer", password="buyer-demo")
    assert CustomerUser.objects.get(user=buyer).customer.effective_payment_term().label == "Net 30"
    assert Website.objects.count() == 2
    assert Customer.objects.count() >= 3
    integrations = Integration.objects.all()
    assert {i.type for i in integrations} == set(IntegrationType.values)
    assert all(i.is_active and i.environment != Environment.LIVE for i in integrations)
    assert Integration.objects.get(name="Demo Stripe").methods.count() == 1


def test_seed_demo_is_idempotent():
    _seed()
    counts = (Integration.objects.count(), PaymentMethod.objects.count(), Customer.objects.count())
    _seed()
    assert (
        Integration.objects.count(),
        PaymentMethod.objects.count(),
        Customer.objects.count(),
    ) == counts


def test_seed_demo_rules_give_different_checkouts_different_methods():
    from decimal import Decimal

    from backoffice.models import CustomerGroup
    from rules.evaluation import Address, Checkout, resolve_methods
    from rules.models import PaymentRule

    _seed()
    stripe_rules = PaymentRule.objects.filter(methods__method__integration__name="Demo Stripe")
    assert stripe_rules.count() >= 2
    assert any(rule.methods.count() == 1 for rule in stripe_rules)
    assert PaymentRule.objects.exclude(expression="").exists()
    assert PaymentRule.objects.filter(destinations__postal_codes__contains="*").exists()
    assert PaymentRule.objects.filter(customer_groups__isnull=False).exists()

    def labels(**kwargs):
        checkout = Checkout(currency="USD", total=Decimal("120.00"), **kwargs)
        return [m.admin_label for m in resolve_methods(checkout).methods]

    government = CustomerGroup.objects.get(name="Government")
    texas = Address(country="US", region="US-TX", postal_code="75001")
    assert labels(
        customer_group_id=government.pk, payment_term="Net 60", billing_address=texas
    ) == ["Demo Payment Terms"]
    california = Address(country="US", region="US-CA", postal_code="94107")
    assert "Demo Payflow Gateway" in labels(billing_address=california)
    assert "Demo Payflow Gateway" not in labels(billing_address=texas)


def test_seed_demo_orders_await_payment_in_two_currencies_on_both_websites():
    from backoffice.models import Order

    _seed()
    orders = Order.objects.filter(customer_user__user__username="buyer")
    assert {o.currency for o in orders} == {"USD", "EUR"}
    assert {o.website.code for o in orders} == {"us", "eu"}
    assert all(o.total == sum(line.price * line.quantity for line in o.lines.all()) for o in orders)
    assert all(o.payment_status == "pending" for o in orders)


def _point_demo_at(name: str, simulator_url: str) -> None:
    integration = Integration.objects.get(name=name)
    integration.settings["api_base_url"] = simulator_url
    integration.save(update_fields=["settings"])


def test_seed_demo_pays_orders_through_the_simulators_for_sales_to_capture(
    stripe_simulator, paypal_simulator
):
    """With the simulators running, the sales demo gets authorizations a capture can reach."""
    from decimal import Decimal

    from backoffice.demo import demo_credentials
    from payments.models import PaymentTransaction, State
    from payments.services import payment_capture
    from payments.status import PaymentStatus
    from tests.payments.support import staff

    _seed()  # without the flag: nothing is paid
    assert not PaymentTransaction.objects.exists()
    for secret_key, publishable_key in demo_credentials()["stripe"]:
        stripe_simulator.secret_keys.add(secret_key)
        stripe_simulator.publishable_keys.add(publishable_key)
    for client_id, client_secret in demo_credentials()["paypal"]:
        paypal_simulator.clients[client_id] = client_secret
    _point_demo_at("Demo Stripe", stripe_simulator.url)
    _point_demo_at("Demo PayPal Express", paypal_simulator.url)

    call_command("seed_demo", "--pay-through-simulators", stdout=io.StringIO())
    call_command("seed_demo", "--pay-through-simulators", stdout=io.StringIO())

    authorizations = PaymentTransaction.objects.filter(operation="authorize")
    assert sorted(a.order.number for a in authorizations) == ["SO-1004", "SO-1005"]
    assert all(a.state == State.SUCCEEDED and a.is_open for a in authorizations)
    assert {a.order.payment_status for a in authorizations} == {PaymentStatus.AUTHORIZED}
    paypal = authorizations.get(order__number="SO-1005")
    first = payment_capture(
        transaction=paypal, amount=Decimal("1000.00"), actor=staff(), idempotency_key="c-1"
    )
    assert first.state == State.SUCCEEDED


def test_seed_demo_without_the_simulators_says_so_and_pays_nothing(unreachable_url):
    from payments.models import PaymentTransaction

    _seed()
    _point_demo_at("Demo Stripe", unreachable_url)
    _point_demo_at("Demo PayPal Express", unreachable_url)
    out = io.StringIO()
    call_command("seed_demo", "--pay-through-simulators", stdout=out)
    assert "simulators are not running" in out.getvalue()
    assert not PaymentTransaction.objects.exists()
