"""The storefront: a buyer's orders, checking one out, and the confirmation page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backoffice.models import CustomerUser
from integrations.deletion import integration_delete
from integrations.types import IntegrationType
from payments import services
from payments.checkout_services import METHOD_UNAVAILABLE
from payments.models import PaymentTransaction, State
from rules.models import PaymentRule
from tests.factories import (
    CustomerUserFactory,
    UserFactory,
    create_integration,
    create_rule_with_methods,
)
from tests.payments.support import (
    FakeCardAdapter,
    key,
    make_order,
    offered_method,
    payment_term,
    staff,
)

pytestmark = pytest.mark.django_db

NO_METHODS = "No payment methods are available, please contact us to complete the order submission."


def buyer() -> CustomerUser:
    return CustomerUserFactory()


def client_for(customer_user: CustomerUser) -> Client:
    client = Client()
    client.force_login(customer_user.user)
    return client


def checkout_url(order: Any) -> str:
    return reverse("payments:checkout", args=[order.number])


def done_url(order: Any) -> str:
    return reverse("payments:checkout_done", args=[order.number])


def page_key(response: Any) -> str:
    match = re.search(r'name="idempotency_key" value="([^"]+)"', response.content.decode())
    assert match, "the checkout form carries an idempotency key"
    return match.group(1)


def pay(client: Client, order: Any, method: Any, **data: Any) -> Any:
    page = client.get(checkout_url(order))
    return client.post(
        checkout_url(order),
        {"method": method.pk, "idempotency_key": page_key(page), **data},
    )


def with_term(customer_user: CustomerUser, label: str = "Net 30") -> CustomerUser:
    customer_user.customer.payment_term = payment_term(label)
    customer_user.customer.save()
    return customer_user


# --- Home: the buyer's orders -------------------------------------------------------------


def test_home_lists_the_customers_orders_with_status_and_a_pay_link():
    cu = buyer()
    colleague = CustomerUserFactory(customer=cu.customer)
    mine = make_order(customer_user=cu, total="1234.50")
    theirs_same_company = make_order(customer_user=colleague)
    other_company = make_order()

    response = client_for(cu).get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert mine.number in html and theirs_same_company.number in html
    assert other_company.number not in html
    assert "1,234.50 USD" in html and "Main" in html and "Pending payment" in html
    assert f'href="{checkout_url(mine)}"' in html


def test_home_offers_no_pay_link_for_an_order_already_submitted():
    cu = buyer()
    order = make_order(customer_user=cu)
    services.checkout_submit(
        order=order,
        method=offered_method(IntegrationType.MONEY_ORDER),
        customer_user=cu,
        idempotency_key=key(),
    )

    html = client_for(cu).get("/").content.decode()

    assert "Pending payment" in html
    assert f'href="{checkout_url(order)}"' not in html


def test_home_still_offers_pay_after_a_declined_payment(fake_card: type[FakeCardAdapter]):
    cu = buyer()
    order = make_order(customer_user=cu)
    fake_card.mode = "decline"
    pay(client_for(cu), order, offered_method(IntegrationType.STRIPE))

    html = client_for(cu).get("/").content.decode()

    assert "Payment declined" in html and f'href="{checkout_url(order)}"' in html


def test_home_query_count_does_not_grow_with_orders(django_assert_max_num_queries):
    cu = buyer()
    client = client_for(cu)
    make_order(customer_user=cu)
    with django_assert_max_num_queries(8) as few:
        client.get("/")
    for _ in range(5):
        make_order(customer_user=cu)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/")


# --- Permissions ----------------------------------------------------------------------------


def test_anonymous_is_sent_to_login():
    order = make_order()
    for url in (checkout_url(order), done_url(order)):
        response = Client().get(url)
        assert response.status_code == 302 and response.url.startswith("/login/")


def test_staff_are_redirected_to_the_orders_back_office_page():
    order = make_order()
    client = Client()
    client.force_login(staff("Sales"))

    for url in (checkout_url(order), done_url(order)):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url == reverse("orders:detail", args=[order.pk])
    assert client.post(checkout_url(order), {}).status_code == 302
    assert not PaymentTransaction.objects.exists()


def test_staff_get_404_for_an_unknown_order():
    client = Client()
    client.force_login(staff("Sales"))
    assert client.get("/checkout/NOPE/").status_code == 404


def test_another_customers_order_is_404_and_cannot_be_paid():
    method = offered_method(IntegrationType.MONEY_ORDER)
    order = make_order()
    intruder = client_for(buyer())

    assert intruder.get(checkout_url(order)).status_code == 404
    assert intruder.get(done_url(order)).status_code == 404
    response = intruder.post(checkout_url(order), {"method": method.pk, "idempotency_key": "x"})
    assert response.status_code == 404
    assert not PaymentTransaction.objects.exists()


def test_unknown_order_is_404():
    assert client_for(buyer()).get("/checkout/SO-NOPE/").status_code == 404


def test_a_user_who_is_neither_buyer_nor_staff_gets_404():
    order = make_order()
    client = Client()
    client.force_login(UserFactory())
    assert client.get(checkout_url(order)).status_code == 404


# --- The checkout page ----------------------------------------------------------------------


def test_checkout_shows_summary_billing_and_the_allowed_methods_in_rule_order():
    cu = buyer()
    order = make_order(customer_user=cu, total="80.00")
    money = create_integration(IntegrationType.MONEY_ORDER, name="MO", label="Mail a check")
    card = create_integration(IntegrationType.STRIPE, name="Card", label="Card now")
    hidden = create_integration(IntegrationType.PAYMENT_TERM, name="PT", label="Terms hidden")
    create_rule_with_methods("second", list(money.methods.all()), sort_order=20)
    create_rule_with_methods("first", list(card.methods.all()), sort_order=10)
    create_rule_with_methods("euros", list(hidden.methods.all()), currency="EUR")

    response = client_for(cu).get(checkout_url(order))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Widget" in html and "SKU-1" in html
    assert "Subtotal" in html and "80.00 USD" in html
    assert "1 Main St" in html and "Springfield" in html and "Bea Buyer" in html
    labels = re.findall(
        r'<input type="radio" name="method" value="\d+"[^>]*>\s*<span>([^<]+)', html
    )
    assert labels == ["Card now", "Mail a check"]
    assert "Terms hidden" not in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_checkout_without_methods_says_to_contact_us():
    cu = buyer()
    order = make_order(customer_user=cu)

    html = client_for(cu).get(checkout_url(order)).content.decode()

    assert NO_METHODS in html and 'name="method"' not in html


def test_checkout_of_an_order_already_submitted_shows_its_status_without_a_form():
    cu = with_term(buyer())
    order = make_order(customer_user=cu)
    services.checkout_submit(
        order=order,
        method=offered_method(IntegrationType.PAYMENT_TERM),
        customer_user=cu,
        idempotency_key=key(),
    )

    response = client_for(cu).get(checkout_url(order))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Invoiced" in html and "cannot be paid again" in html
    assert '<form method="post" class="checkout-form"' not in html


def test_checkout_page_query_count_is_fixed_whatever_the_transactions_and_rules(
    django_assert_max_num_queries, fake_card: type[FakeCardAdapter]
):
    cu = buyer()
    order = make_order(customer_user=cu)
    offered_method(IntegrationType.MONEY_ORDER)
    client = client_for(cu)
    with django_assert_max_num_queries(30) as one:
        assert client.get(checkout_url(order)).status_code == 200
    baseline = len(one.captured_queries)

    fake_card.mode = "decline"
    cards = [offered_method(IntegrationType.STRIPE) for _ in range(4)]
    for _ in range(4):
        offered_method(IntegrationType.MONEY_ORDER)
    for _ in range(5):  # declined attempts: the order may still be paid
        services.checkout_submit(
            order=order,
            method=cards[0],
            customer_user=cu,
            idempotency_key=key(),
        )
    assert PaymentTransaction.objects.filter(order=order).count() == 5

    with django_assert_max_num_queries(baseline):
        response = client.get(checkout_url(order))
    assert response.content.decode().count('name="method"') == 9


# --- Submitting -----------------------------------------------------------------------------


def test_money_order_submit_redirects_to_instructions():
    cu = buyer()
    order = make_order(customer_user=cu, total="45.00")
    method = offered_method(IntegrationType.MONEY_ORDER)
    client = client_for(cu)

    response = pay(client, order, method)

    assert response.status_code == 302 and response.url == done_url(order)
    html = client.get(response.url).content.decode()
    assert "Acme Inc." in html and "1 Main St<br>Springfield" in html
    assert "45.00 USD" in html and "Pending payment" in html
    row = PaymentTransaction.objects.get(order=order)
    assert row.customer_user == cu and row.method == method


def test_money_order_instructions_survive_edits_and_deletion_of_the_integration():
    cu = buyer()
    order = make_order(customer_user=cu)
    method = offered_method(IntegrationType.MONEY_ORDER)
    client = client_for(cu)
    pay(client, order, method)
    integration = method.integration
    integration.settings = {**integration.settings, "pay_to": "Someone Else"}
    integration.save()
    integration_delete(integration=integration, actor=staff("Administrators"))

    html = client.get(done_url(order)).content.decode()

    assert "Acme Inc." in html and "Someone Else" not in html


def test_payment_terms_submit_shows_the_term_and_invoiced():
    cu = with_term(buyer(), "Net 30")
    order = make_order(customer_user=cu)
    client = client_for(cu)

    response = pay(client, order, offered_method(IntegrationType.PAYMENT_TERM))

    html = client.get(response.url).content.decode()
    assert "Net 30" in html and "invoiced" in html and "Invoiced" in html


def test_charge_and_authorize_results(fake_card: type[FakeCardAdapter]):
    cu = buyer()
    client = client_for(cu)
    charged = make_order(customer_user=cu)
    authorized = make_order(customer_user=cu)

    pay(client, charged, offered_method(IntegrationType.STRIPE, payment_action="automatic"))
    pay(client, authorized, offered_method(IntegrationType.STRIPE, payment_action="manual"))

    assert "Paid in full" in client.get(done_url(charged)).content.decode()
    html = client.get(done_url(authorized)).content.decode()
    assert "authorized" in html and "Payment authorized" in html


def test_declined_payment_says_so_and_lets_the_buyer_try_another(
    fake_card: type[FakeCardAdapter],
):
    cu = buyer()
    order = make_order(customer_user=cu)
    client = client_for(cu)
    fake_card.mode = "decline"
    card = offered_method(IntegrationType.STRIPE)
    money = offered_method(IntegrationType.MONEY_ORDER)

    response = pay(client, order, card)

    html = client.get(response.url).content.decode()
    assert "declined" in html and "Card declined." in html
    assert f'href="{checkout_url(order)}"' in html
    assert pay(client, order, money).status_code == 302
    assert "Acme Inc." in client.get(done_url(order)).content.decode()


def test_double_submit_with_the_same_key_charges_once(fake_card: type[FakeCardAdapter]):
    cu = buyer()
    order = make_order(customer_user=cu)
    method = offered_method(IntegrationType.STRIPE, payment_action="automatic")
    client = client_for(cu)
    data = {"method": method.pk, "idempotency_key": page_key(client.get(checkout_url(order)))}

    first = client.post(checkout_url(order), data)
    second = client.post(checkout_url(order), data)

    assert first.status_code == second.status_code == 302
    assert first.url == second.url == done_url(order)
    assert PaymentTransaction.objects.filter(order=order).count() == 1
    assert len(fake_card.calls) == 1


def test_each_rendered_page_gets_a_new_key():
    cu = buyer()
    order = make_order(customer_user=cu)
    offered_method(IntegrationType.MONEY_ORDER)
    client = client_for(cu)
    assert page_key(client.get(checkout_url(order))) != page_key(client.get(checkout_url(order)))


def test_a_method_gone_between_page_and_submit_gets_the_issue_message():
    cu = buyer()
    order = make_order(customer_user=cu)
    method = offered_method(IntegrationType.MONEY_ORDER)
    other = offered_method(IntegrationType.MONEY_ORDER)
    client = client_for(cu)
    page = client.get(checkout_url(order))
    PaymentRule.objects.filter(methods__method=method).update(enabled=False)

    response = client.post(
        checkout_url(order), {"method": method.pk, "idempotency_key": page_key(page)}
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert METHOD_UNAVAILABLE in html
    assert f'value="{other.pk}"' in html and f'value="{method.pk}"' not in html
    assert not PaymentTransaction.objects.exists()
    assert pay(client, order, other).status_code == 302


def test_an_unknown_method_id_gets_the_issue_message():
    cu = buyer()
    order = make_order(customer_user=cu)
    offered_method(IntegrationType.MONEY_ORDER)

    response = client_for(cu).post(
        checkout_url(order), {"method": 999999, "idempotency_key": "k-1"}
    )

    assert response.status_code == 400 and METHOD_UNAVAILABLE in response.content.decode()


@pytest.mark.parametrize("method", ["", "abc", "-1"])
def test_a_missing_or_garbled_method_asks_to_select_one(method: str):
    cu = buyer()
    order = make_order(customer_user=cu)
    offered_method(IntegrationType.MONEY_ORDER)

    response = client_for(cu).post(
        checkout_url(order), {"method": method, "idempotency_key": "k-1"}
    )

    assert response.status_code == 400
    assert "Please select a payment method." in response.content.decode()
    assert not PaymentTransaction.objects.exists()


def test_payment_terms_without_a_term_is_refused_with_a_message():
    cu = buyer()
    order = make_order(customer_user=cu)

    method = offered_method(IntegrationType.PAYMENT_TERM)
    client = client_for(cu)
    assert f'value="{method.pk}"' not in client.get(checkout_url(order)).content.decode()

    response = client.post(checkout_url(order), {"method": method.pk, "idempotency_key": key()})

    assert response.status_code == 400
    assert "no payment term" in response.content.decode()
    assert not PaymentTransaction.objects.filter(state=State.SUCCEEDED).exists()


def test_paying_an_order_already_paid_with_a_fresh_key_is_refused():
    cu = buyer()
    order = make_order(customer_user=cu)
    method = offered_method(IntegrationType.MONEY_ORDER)
    client = client_for(cu)
    pay(client, order, method)

    response = client.post(checkout_url(order), {"method": method.pk, "idempotency_key": key()})

    assert response.status_code == 400
    assert "already" in response.content.decode()
    assert PaymentTransaction.objects.filter(order=order).count() == 1


def test_post_requires_csrf():
    cu = buyer()
    order = make_order(customer_user=cu)
    method = offered_method(IntegrationType.MONEY_ORDER)
    client = Client(enforce_csrf_checks=True)
    client.force_login(cu.user)

    response = client.post(checkout_url(order), {"method": method.pk, "idempotency_key": "k"})

    assert response.status_code == 403
    assert not PaymentTransaction.objects.exists()


def test_done_page_without_a_payment_goes_back_to_checkout():
    cu = buyer()
    order = make_order(customer_user=cu)
    response = client_for(cu).get(done_url(order))
    assert response.status_code == 302 and response.url == checkout_url(order)


def test_a_missing_idempotency_key_asks_to_reload():
    cu = buyer()
    order = make_order(customer_user=cu)
    method = offered_method(IntegrationType.MONEY_ORDER)

    response = client_for(cu).post(checkout_url(order), {"method": method.pk})

    assert response.status_code == 400
    assert "please reload it" in response.content.decode()
    assert not PaymentTransaction.objects.exists()
