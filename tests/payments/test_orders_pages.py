"""Sales › Orders: the list (filters, sort, pages, queries) and the order page's payment actions."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice.models import Order, Website
from integrations.deletion import integration_delete
from integrations.types import IntegrationType
from payments import services
from payments.models import Operation, PaymentTransaction, State
from tests.factories import CustomerUserFactory, UserFactory
from tests.payments.support import key, make_order, offered_method, staff

pytestmark = pytest.mark.django_db


def submit(order, method):
    return services.checkout_submit(
        order=order, method=method, customer_user=order.customer_user, idempotency_key=key("co")
    )


def authorized(total: str = "100.00", currency: str = "USD"):
    method = offered_method(IntegrationType.STRIPE, currency=currency, payment_action="manual")
    order = make_order(total=total, currency=currency)
    return order, submit(order, method)


def money_order(total: str = "100.00"):
    method = offered_method(IntegrationType.MONEY_ORDER)
    order = make_order(total=total)
    return order, submit(order, method)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def viewer():
    """May see payment history, may not act on it."""
    group, _ = Group.objects.get_or_create(name="Viewers")
    group.permissions.set(
        Permission.objects.filter(
            codename__in=["access_backoffice", "view_payment_history"],
        )
    )
    return UserFactory(groups=["Viewers"])


def detail(order) -> str:
    return reverse("orders:detail", args=[order.pk])


def action_url(order, tx, action: str) -> str:
    return reverse("orders:payment_action", args=[order.pk, tx.pk, action])


def rows_of(response) -> list[str]:
    return re.findall(
        r'<tr data-order="\d+">\s*<td><a [^>]*>([^<]+)</a>', response.content.decode()
    )


# --- the list -----------------------------------------------------------------------------------


def test_the_list_shows_each_order_with_its_payment_facts(fake_card):
    order, auth = authorized("250.00")
    response = client_for(staff()).get(reverse("orders:list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert order.number in html
    assert order.customer.name in html
    assert "250.00 USD" in html
    assert "Payment authorized" in html
    assert auth.method_admin_label in html
    assert f"{auth.authorization_expires_at:%Y-%m-%d}" in html


def test_an_expired_authorization_reads_expired_in_the_list(fake_card):
    _order, auth = authorized()
    PaymentTransaction.objects.filter(pk=auth.pk).update(
        authorization_expires_at=timezone.now() - timedelta(days=1)
    )
    html = client_for(staff()).get(reverse("orders:list")).content.decode()
    assert "expired" in html


def test_filters_by_status_method_website_and_awaiting_capture(fake_card):
    auth_order, auth = authorized()
    mo_order, pending = money_order()
    plain = make_order()
    other_site = Website.objects.create(name="Other", code="other")
    Order.objects.filter(pk=plain.pk).update(website=other_site)
    client = client_for(staff())

    def numbers(**params):
        return set(rows_of(client.get(reverse("orders:list"), params)))

    assert numbers(status="authorized") == {auth_order.number}
    assert numbers(status="pending") == {mo_order.number, plain.number}
    assert numbers(method=auth.method_admin_label) == {auth_order.number}
    assert numbers(method=str(pending.method_id)) == {mo_order.number}
    assert numbers(website=other_site.pk) == {plain.number}
    assert numbers(awaiting_capture="on") == {auth_order.number}


def test_filters_authorizations_expiring_within_n_days(fake_card):
    soon_order, soon = authorized()
    later_order, later = authorized()
    _gone_order, gone = authorized()
    now = timezone.now()
    PaymentTransaction.objects.filter(pk=soon.pk).update(
        authorization_expires_at=now + timedelta(days=2)
    )
    PaymentTransaction.objects.filter(pk=later.pk).update(
        authorization_expires_at=now + timedelta(days=6)
    )
    PaymentTransaction.objects.filter(pk=gone.pk).update(
        authorization_expires_at=now - timedelta(days=1)
    )
    client = client_for(staff())
    assert set(rows_of(client.get(reverse("orders:list"), {"expires_within": 3}))) == {
        soon_order.number
    }
    assert set(rows_of(client.get(reverse("orders:list"), {"expires_within": 7}))) == {
        soon_order.number,
        later_order.number,
    }


@pytest.mark.parametrize(
    "query",
    [
        "status=nonsense",
        "website=abc",
        "website=999999",
        "expires_within=-1",
        "expires_within=lots",
        "expires_within=99999999999999999999",
        "sort=password",
        "page=-3",
        "page=zzz",
        "awaiting_capture=maybe",
        "method=" + "x" * 400,
    ],
)
def test_a_bad_query_string_never_fails(query):
    make_order()
    response = client_for(staff()).get(f"{reverse('orders:list')}?{query}")
    assert response.status_code == 200


def test_sorts_by_total_both_ways():
    small = make_order(total="5.00")
    big = make_order(total="500.00")
    client = client_for(staff())
    assert rows_of(client.get(reverse("orders:list"), {"sort": "total"})) == [
        small.number,
        big.number,
    ]
    assert rows_of(client.get(reverse("orders:list"), {"sort": "-total"})) == [
        big.number,
        small.number,
    ]


@pytest.mark.parametrize("column", ["number", "customer", "website", "status", "method", "expiry"])
def test_every_column_sorts(column):
    make_order()
    client = client_for(staff())
    for sort in (column, f"-{column}"):
        assert client.get(reverse("orders:list"), {"sort": sort}).status_code == 200


def test_paginates_by_25():
    for _ in range(27):
        make_order()
    client = client_for(staff())
    assert len(rows_of(client.get(reverse("orders:list")))) == 25
    second = client.get(reverse("orders:list"), {"page": 2})
    assert len(rows_of(second)) == 2
    assert "Page 2 of 2" in second.content.decode()


def _queries_for_list(client, count: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("orders:list"))
    assert response.status_code == 200
    assert len(rows_of(response)) == min(count, 25)
    return len(captured)


def test_the_list_issues_a_fixed_number_of_queries(fake_card):
    client = client_for(staff())
    for _ in range(3):
        _order, auth = authorized()
        services.payment_capture(
            transaction=auth, amount="10.00", actor=staff(), idempotency_key=key("c")
        )
    few = _queries_for_list(client, 3)
    for _ in range(37):
        authorized()
    many = _queries_for_list(client, 40)
    assert few == many


# --- permissions --------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_login():
    order = make_order()
    for url in (reverse("orders:list"), detail(order)):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("group", ["Sales", "Administrators"])
def test_sales_and_administrators_see_orders(group):
    order = make_order()
    client = client_for(staff(group))
    assert client.get(reverse("orders:list")).status_code == 200
    assert client.get(detail(order)).status_code == 200


def test_buyers_get_403_on_pages_and_actions(fake_card):
    order, auth = authorized()
    buyer = client_for(order.customer_user.user)
    assert buyer.get(reverse("orders:list")).status_code == 403
    assert buyer.get(detail(order)).status_code == 403
    response = buyer.post(
        action_url(order, auth, "capture"),
        {"amount": "10", "idempotency_key": "k1", "confirmed": "True"},
    )
    assert response.status_code == 403
    assert not PaymentTransaction.objects.filter(operation=Operation.CAPTURE).exists()


def test_the_sales_menu_links_orders_for_those_who_may_see_them():
    html = client_for(staff()).get(reverse("integrations:list")).content.decode()
    assert reverse("orders:list") in html


def test_a_viewer_sees_no_actions_and_cannot_post_them(fake_card):
    order, auth = authorized()
    client = client_for(viewer())
    html = client.get(detail(order)).content.decode()
    assert "action=capture" not in html
    response = client.post(
        action_url(order, auth, "capture"),
        {"amount": "10", "idempotency_key": "k1", "confirmed": "True"},
    )
    assert response.status_code == 403
    assert not PaymentTransaction.objects.filter(operation=Operation.CAPTURE).exists()


# --- the order page ------------------------------------------------------------------------------


def test_the_order_page_shows_the_order_and_its_history(fake_card):
    order, auth = authorized("80.00")
    html = client_for(staff()).get(detail(order)).content.decode()
    assert order.customer.name in html
    assert "1 Main St" in html
    assert "SKU-1" in html
    assert "80.00 USD" in html
    assert "Payment History" in html
    assert auth.method_admin_label in html
    assert auth.provider_reference in html
    assert "Payment authorized" in html


def test_actions_follow_state_and_permission(fake_card):
    order, auth = authorized()
    client = client_for(staff())
    html = client.get(detail(order)).content.decode()
    assert f"action=capture&amp;transaction={auth.pk}" in html
    assert f"action=cancel&amp;transaction={auth.pk}" in html
    assert "action=refund" not in html
    services.payment_capture(
        transaction=auth, amount="100.00", actor=staff(), idempotency_key=key("c")
    )
    html = client.get(detail(order)).content.decode()
    assert "action=capture" not in html
    assert "action=refund" in html


def test_an_expired_authorization_shows_expired_and_no_capture(fake_card):
    order, auth = authorized()
    expired_at = timezone.now() - timedelta(days=2)
    PaymentTransaction.objects.filter(pk=auth.pk).update(authorization_expires_at=expired_at)
    html = client_for(staff()).get(detail(order)).content.decode()
    assert f"expired on {expired_at:%Y-%m-%d}" in html
    assert "action=capture" not in html
    # Posting anyway is refused with the service's message, and nothing is written.
    response = client_for(staff()).post(
        action_url(order, auth, "capture"),
        {"amount": "10", "idempotency_key": "k-exp", "confirmed": "True"},
    )
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert not PaymentTransaction.objects.filter(operation=Operation.CAPTURE).exists()


def test_the_capture_form_is_prefilled_with_what_remains(fake_card):
    order, auth = authorized("100.00")
    services.payment_capture(transaction=auth, amount="30.00", actor=staff(), idempotency_key=key())
    html = client_for(staff()).get(detail(order), {"action": "capture", "transaction": auth.pk})
    assert 'value="70.0000"' in html.content.decode() or 'value="70.00"' in html.content.decode()


def test_capture_asks_for_confirmation_then_captures_once(fake_card):
    order, auth = authorized("100.00")
    client = client_for(staff())
    first = client.post(
        action_url(order, auth, "capture"), {"amount": "40", "idempotency_key": "k-1"}
    )
    assert first.status_code == 200
    assert "The customer will be charged <strong>40.00 USD</strong>" in first.content.decode()
    assert not PaymentTransaction.objects.filter(operation=Operation.CAPTURE).exists()
    confirm = {"amount": "40.00", "idempotency_key": "k-1", "confirmed": "True"}
    done = client.post(action_url(order, auth, "capture"), confirm, follow=True)
    assert "The payment of 40.00 USD has been captured successfully." in done.content.decode()
    again = client.post(action_url(order, auth, "capture"), confirm)  # a double submit
    assert again.status_code == 302
    captures = PaymentTransaction.objects.filter(operation=Operation.CAPTURE)
    assert [(c.amount, c.state) for c in captures] == [(Decimal("40.0000"), State.SUCCEEDED)]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-5", "greater than zero"),
        ("0", "greater than zero"),
        ("abc", "Enter an amount"),
        ("", "This field is required"),
        ("NaN", "Enter an amount"),
        ("1e400", "too large"),
        ("10.001", "at most 2 decimals"),
        ("100.01", "at most 100.00 USD"),
    ],
)
def test_bad_capture_amounts_are_refused_next_to_the_field(fake_card, amount, message):
    order, auth = authorized("100.00")
    response = client_for(staff()).post(
        action_url(order, auth, "capture"),
        {"amount": amount, "idempotency_key": "k-bad", "confirmed": "True"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'class="field-error"' in html
    assert PaymentTransaction.objects.count() == 1


def test_yen_amounts_take_no_decimals(fake_card):
    order, auth = authorized("1000", currency="JPY")
    response = client_for(staff()).post(
        action_url(order, auth, "capture"),
        {"amount": "10.5", "idempotency_key": "k-jpy", "confirmed": "True"},
    )
    assert response.status_code == 400
    assert "JPY amounts have no decimals." in response.content.decode()


def test_another_orders_transaction_is_404(fake_card):
    _order, auth = authorized()
    other = make_order()
    response = client_for(staff()).post(
        action_url(other, auth, "capture"),
        {"amount": "10", "idempotency_key": "k-x", "confirmed": "True"},
    )
    assert response.status_code == 404
    assert not PaymentTransaction.objects.filter(operation=Operation.CAPTURE).exists()


def test_an_unknown_action_or_a_get_is_refused(fake_card):
    order, auth = authorized()
    client = client_for(staff())
    assert client.post(action_url(order, auth, "explode"), {}).status_code == 404
    assert client.get(action_url(order, auth, "capture")).status_code == 405


def test_a_missing_key_is_a_form_error_not_a_500(fake_card):
    order, auth = authorized()
    response = client_for(staff()).post(
        action_url(order, auth, "capture"), {"amount": "10", "confirmed": "True"}
    )
    assert response.status_code == 400


def test_cancel_needs_a_note_and_then_cancels(fake_card):
    order, auth = authorized("60.00")
    client = client_for(staff())
    blank = client.post(action_url(order, auth, "cancel"), {"note": "   ", "idempotency_key": "k"})
    assert blank.status_code == 400
    assert "This field is required" in blank.content.decode()
    assert PaymentTransaction.objects.count() == 1
    done = client.post(
        action_url(order, auth, "cancel"),
        {"note": "Customer changed mind", "idempotency_key": "k-c"},
        follow=True,
    )
    html = done.content.decode()
    assert "The payment of 60.00 USD has been canceled successfully." in html
    assert "Customer changed mind" in html
    assert "Payment canceled" in html


def test_canceling_twice_is_a_clear_message(fake_card):
    order, auth = authorized()
    client = client_for(staff())
    client.post(action_url(order, auth, "cancel"), {"note": "n", "idempotency_key": "k-1"})
    again = client.post(action_url(order, auth, "cancel"), {"note": "n", "idempotency_key": "k-2"})
    assert again.status_code == 400
    assert "already captured in full or canceled" in again.content.decode()


def test_refund_partially_then_too_much(fake_card):
    order, auth = authorized("100.00")
    capture = services.payment_capture(
        transaction=auth, amount="100.00", actor=staff(), idempotency_key=key()
    )
    client = client_for(staff())
    form = client.get(detail(order), {"action": "refund", "transaction": capture.pk}).content
    assert b'name="note"' in form
    no_note = client.post(
        action_url(order, capture, "refund"), {"amount": "10", "idempotency_key": "r0"}
    )
    assert no_note.status_code == 400
    done = client.post(
        action_url(order, capture, "refund"),
        {"amount": "25.50", "note": "Damaged", "idempotency_key": "r1"},
        follow=True,
    )
    html = done.content.decode()
    assert "The payment of 25.50 USD has been refunded successfully." in html
    assert "Refunded partially" in html
    too_much = client.post(
        action_url(order, capture, "refund"),
        {"amount": "80", "note": "x", "idempotency_key": "r2"},
    )
    assert too_much.status_code == 400
    assert "at most 74.50 USD" in too_much.content.decode()
    assert PaymentTransaction.objects.filter(operation=Operation.REFUND).count() == 1


def test_refund_of_an_uncaptured_authorization_is_refused(fake_card):
    order, auth = authorized()
    response = client_for(staff()).post(
        action_url(order, auth, "refund"), {"amount": "1", "note": "x", "idempotency_key": "r"}
    )
    assert response.status_code == 400
    assert "cannot be refunded" in response.content.decode()


def test_mark_received_pays_a_money_order():
    order, pending = money_order("45.00")
    client = client_for(staff())
    html = client.get(detail(order)).content.decode()
    assert action_url(order, pending, "mark_received") in html
    done = client.post(
        action_url(order, pending, "mark_received"), {"idempotency_key": "m1"}, follow=True
    )
    html = done.content.decode()
    assert "The payment of 45.00 USD has been marked received successfully." in html
    assert "Paid in full" in html
    again = client.post(action_url(order, pending, "mark_received"), {"idempotency_key": "m2"})
    assert again.status_code == 400
    assert "already marked received" in again.content.decode()


def test_history_keeps_the_admin_label_after_the_integration_is_deleted():
    order, pending = money_order()
    admin = staff("Administrators")
    integration_delete(integration=pending.method.integration, actor=admin)
    html = client_for(staff()).get(detail(order)).content.decode()
    assert pending.method_admin_label in html
    assert "mark_received" not in html


def test_a_decline_is_reported_and_stays_in_the_history(fake_card):
    order, auth = authorized()
    fake_card.mode = "decline"
    done = client_for(staff()).post(
        action_url(order, auth, "capture"),
        {"amount": "10", "idempotency_key": "k-d", "confirmed": "True"},
        follow=True,
    )
    assert done.status_code == 200
    assert "The provider refused: Card declined." in done.content.decode()


def test_buyers_cannot_post_actions_on_their_own_orders():
    order, pending = money_order()
    buyer = CustomerUserFactory()
    response = client_for(buyer.user).post(
        action_url(order, pending, "mark_received"), {"idempotency_key": "m"}
    )
    assert response.status_code == 403


def test_an_amount_in_another_currency_is_refused(fake_card):
    order, auth = authorized("100.00")
    response = client_for(staff()).post(
        action_url(order, auth, "capture"),
        {"amount": "10", "currency": "EUR", "idempotency_key": "k-eur", "confirmed": "True"},
    )
    assert response.status_code == 400
    assert "This payment is in USD; an amount in EUR cannot apply." in response.content.decode()
    assert PaymentTransaction.objects.count() == 1


@pytest.mark.parametrize(
    "query",
    [
        "action=capture&transaction=abc",
        "action=capture&transaction=999999",
        "action=delete&transaction=1",
        "action=mark_received&transaction=1",
        "action=refund",
    ],
)
def test_odd_action_links_show_the_page_without_a_panel(fake_card, query):
    order, _auth = authorized()
    response = client_for(staff()).get(f"{detail(order)}?{query}")
    assert response.status_code == 200
    assert 'id="payment-action"' not in response.content.decode()


def _queries_for_detail(client, order) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(detail(order))
    assert response.status_code == 200
    return len(captured)


def test_the_order_page_issues_a_fixed_number_of_queries(fake_card):
    client = client_for(staff())
    few_order, few_auth = authorized("1000.00")
    services.payment_capture(
        transaction=few_auth, amount="1.00", actor=staff(), idempotency_key=key()
    )
    many_order, many_auth = authorized("1000.00")
    sales = staff()
    for _ in range(12):
        capture = services.payment_capture(
            transaction=many_auth, amount="5.00", actor=sales, idempotency_key=key()
        )
        services.payment_refund(
            transaction=capture, amount="1.00", note="n", actor=sales, idempotency_key=key()
        )
    assert _queries_for_detail(client, few_order) == _queries_for_detail(client, many_order)
