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
