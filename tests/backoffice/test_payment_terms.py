from __future__ import annotations

import pytest

from backoffice.models import AuditEntry, Customer, PaymentTerm
from tests.factories import CustomerFactory, CustomerGroupFactory, PaymentTermFactory

pytestmark = pytest.mark.django_db


def test_administrator_creates_a_term_and_assigns_it_to_a_customer_and_a_group(admin_client):
    customer = CustomerFactory(name="Northwind")
    other = CustomerFactory(name="Globex")
    group = CustomerGroupFactory(name="Wholesale")
    response = admin_client.post(
        "/admin/payment-terms/new/",
        {"label": "Net 45", "customers": [customer.pk], "groups": [group.pk]},
    )
    assert response.status_code == 302
    term = PaymentTerm.objects.get(label="Net 45")
    customer.refresh_from_db()
    other.refresh_from_db()
    assert customer.effective_payment_term() == term
    assert other.effective_payment_term() is None
    assert AuditEntry.objects.filter(action="payment_term.created", object_id=term.pk).exists()
    page = admin_client.get("/admin/payment-terms/").content.decode()
    assert "Net 45" in page and "Northwind" in page and "Wholesale" in page


def test_a_customer_falls_back_to_its_groups_term_and_its_own_term_wins():
    net30, net60 = PaymentTermFactory(label="Net 30"), PaymentTermFactory(label="Net 60")
    customer = CustomerFactory(group=CustomerGroupFactory(payment_term=net60))
    assert customer.effective_payment_term() == net60
    customer.payment_term = net30
    assert customer.effective_payment_term() == net30


def test_unticking_a_customer_takes_the_term_away(admin_client):
    term = PaymentTermFactory(label="Net 30")
    customer = CustomerFactory(payment_term=term)
    admin_client.post(f"/admin/payment-terms/{term.pk}/edit/", {"label": "Net 30"})
    assert Customer.objects.get(pk=customer.pk).payment_term is None


def test_duplicate_label_is_refused_next_to_the_field(admin_client):
    PaymentTermFactory(label="Net 30")
    response = admin_client.post("/admin/payment-terms/new/", {"label": "net 30"})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert PaymentTerm.objects.count() == 1


def test_sales_may_view_terms_but_not_change_them(sales_client):
    term = PaymentTermFactory()
    assert sales_client.get("/admin/payment-terms/").status_code == 200
    assert sales_client.get("/admin/payment-terms/new/").status_code == 403
    assert (
        sales_client.post(f"/admin/payment-terms/{term.pk}/edit/", {"label": "x"}).status_code
        == 403
    )
    assert "Create Payment Term" not in sales_client.get("/admin/payment-terms/").content.decode()


def test_buyers_never_reach_payment_terms(buyer_client):
    assert buyer_client.get("/admin/payment-terms/").status_code == 403
