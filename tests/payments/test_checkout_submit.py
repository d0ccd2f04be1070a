"""checkout_submit: the buyer pays an order with the method the rules offer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

import pytest
from django.utils import timezone

from integrations.adapters.base import AdapterBase
from integrations.adapters.base import Operation as AdapterOperation
from integrations.types import IntegrationType
from payments import services
from payments.checkout_services import METHOD_UNAVAILABLE
from payments.models import Operation, PaymentTransaction, State
from payments.services import PaymentError
from payments.status import PaymentStatus
from tests.payments.support import (
    authorized,
    key,
    make_order,
    offered_method,
    payment_term,
    status_of,
    submit,
)

pytestmark = pytest.mark.django_db


def test_money_order_checkout_records_an_open_pending_payment():
    method = offered_method(IntegrationType.MONEY_ORDER)
    order = make_order(total="100.00")

    row = submit(order, method)

    assert (row.operation, row.state, row.is_open) == (Operation.PENDING, State.SUCCEEDED, True)
    assert row.amount == Decimal("100.00") and row.currency == "USD"
    assert row.method_label == method.label and row.method_admin_label == method.admin_label
    assert row.provider_type == IntegrationType.MONEY_ORDER
    assert row.customer_user == order.customer_user
    assert row.response == {"pay_to": "Acme Inc.", "send_to": "1 Main St\nSpringfield"}
    assert status_of(order) == PaymentStatus.PENDING


def test_payment_terms_checkout_invoices_under_the_customers_term():
    method = offered_method(IntegrationType.PAYMENT_TERM)
    order = make_order()
    order.customer.payment_term = payment_term("Net 30")
    order.customer.save()

    row = submit(order, method)

    assert (row.operation, row.state, row.is_open) == (Operation.INVOICE, State.SUCCEEDED, True)
    assert row.note == "Payment term: Net 30"
    assert status_of(order) == PaymentStatus.INVOICED


def test_payment_terms_refused_without_a_term():
    method = offered_method(IntegrationType.PAYMENT_TERM)
    order = make_order()

    with pytest.raises(PaymentError, match="no payment term"):
        submit(order, method)
    assert not PaymentTransaction.objects.exists()


def test_a_resubmitted_checkout_returns_the_first_transaction():
    method = offered_method(IntegrationType.MONEY_ORDER)
    order = make_order()

    first = submit(order, method, idempotency_key="double-click")
    second = submit(order, method, idempotency_key="double-click")

    assert first.pk == second.pk
    assert PaymentTransaction.objects.count() == 1


def test_an_order_awaiting_payment_cannot_be_submitted_again():
    method = offered_method(IntegrationType.MONEY_ORDER)
    order = make_order()
    submit(order, method)

    with pytest.raises(PaymentError, match="already been paid or submitted"):
        submit(order, method)
    assert PaymentTransaction.objects.count() == 1


def test_a_method_no_longer_offered_is_refused_at_submit():
    method = offered_method(IntegrationType.MONEY_ORDER)
    order = make_order()
    method.integration.is_active = False
    method.integration.save()

    with pytest.raises(PaymentError) as error:
        submit(order, method)
    assert str(error.value) == METHOD_UNAVAILABLE
    assert not PaymentTransaction.objects.exists()


def test_a_method_of_another_currency_is_refused_at_submit():
    method = offered_method(IntegrationType.MONEY_ORDER, currency="EUR")
    with pytest.raises(PaymentError, match="no longer available"):
        submit(make_order(currency="USD"), method)


def test_a_buyer_cannot_pay_another_customers_order():
    method = offered_method(IntegrationType.MONEY_ORDER)
    order = make_order()
    stranger = make_order().customer_user

    with pytest.raises(PaymentError, match="another customer"):
        submit(order, method, customer_user=stranger)
    assert not PaymentTransaction.objects.exists()


class CredentialsOnlyAdapter(AdapterBase):
    supports: ClassVar[frozenset[AdapterOperation]] = frozenset(
        {AdapterOperation.CHECK_CREDENTIALS}
    )


def test_a_method_whose_adapter_cannot_take_payments_is_refused_before_the_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from integrations.adapters import ADAPTERS

    monkeypatch.setitem(ADAPTERS, IntegrationType.STRIPE, CredentialsOnlyAdapter)
    method = offered_method(IntegrationType.STRIPE, payment_action="manual")

    with pytest.raises(PaymentError, match="cannot take payments yet"):
        submit(make_order(), method)
    assert not PaymentTransaction.objects.exists()


def test_authorize_checkout_opens_an_authorization_that_expires_per_provider(fake_card):
    before = timezone.now()
    order, row = authorized()

    assert (row.operation, row.state, row.is_open) == (Operation.AUTHORIZE, State.SUCCEEDED, True)
    assert row.provider_reference.startswith("ref-authorize-")
    assert before + timedelta(days=7) <= row.authorization_expires_at
    assert row.authorization_expires_at <= timezone.now() + timedelta(days=7)
    assert status_of(order) == PaymentStatus.AUTHORIZED
    assert fake_card.calls == [("authorize", Decimal("100.00"), row.idempotency_key)]


def test_charge_checkout_pays_in_full(fake_card):
    method = offered_method(IntegrationType.STRIPE, payment_action="automatic")
    order = make_order()

    row = submit(order, method)

    assert (row.operation, row.state, row.is_open) == (Operation.CHARGE, State.SUCCEEDED, False)
    assert status_of(order) == PaymentStatus.PAID_IN_FULL


def test_a_declined_checkout_is_recorded_and_another_method_may_follow(fake_card):
    card = offered_method(IntegrationType.STRIPE, payment_action="automatic")
    money_order = offered_method(IntegrationType.MONEY_ORDER)
    order = make_order()
    fake_card.mode = "decline"

    declined = submit(order, card)

    assert (declined.state, declined.message) == (State.FAILED, "Card declined.")
    assert status_of(order) == PaymentStatus.DECLINED
    assert submit(order, money_order).state == State.SUCCEEDED


@pytest.mark.parametrize("mode", ["error", "crash"])
def test_a_provider_fault_at_checkout_leaves_an_unknown_row(fake_card, mode):
    method = offered_method(IntegrationType.STRIPE, payment_action="automatic")
    order = make_order()
    fake_card.mode = mode

    row = submit(order, method)

    assert row.state == State.UNKNOWN
    assert "may or may not have gone through" in row.message
    assert status_of(order) == PaymentStatus.PENDING
    with pytest.raises(PaymentError, match="still being confirmed"):
        submit(order, method)


@pytest.mark.parametrize(
    ("currency", "total", "stored"),
    [
        ("JPY", "1500", Decimal("1500")),
        ("BHD", "12.345", Decimal("12.345")),
        ("USD", "9.5", Decimal("9.50")),
    ],
)
def test_checkout_amounts_keep_the_currency_exponent(currency, total, stored):
    method = offered_method(IntegrationType.MONEY_ORDER, currency=currency)
    row = submit(make_order(currency=currency, total=total), method)
    assert row.amount == stored and row.currency == currency


def test_an_order_total_with_more_decimals_than_its_currency_is_refused():
    method = offered_method(IntegrationType.MONEY_ORDER, currency="JPY")
    with pytest.raises(PaymentError, match="JPY amounts have no decimals"):
        submit(make_order(currency="JPY", total="1500.5"), method)


def test_checkout_for_order_describes_the_order_to_the_rules():
    order = make_order(total="42.00", country="DE")
    order.customer.payment_term = payment_term("Net 60")
    checkout = services.checkout_for_order(order)
    assert checkout.currency == "USD" and checkout.total == Decimal("42.00")
    assert checkout.billing_address.country == "DE"
    assert checkout.payment_term == "Net 60"
    assert checkout.customer_group_id == order.customer.group_id
    assert [item.sku for item in checkout.line_items] == ["SKU-1"]


def test_a_key_reused_with_another_method_is_refused_not_answered_with_the_first_row():
    from tests.payments.support import make_order, offered_method

    checks = offered_method("money_order")
    other = offered_method("money_order")
    order = make_order()
    first_key = key()
    services.checkout_submit(
        order=order, method=checks, customer_user=order.customer_user, idempotency_key=first_key
    )
    with pytest.raises(PaymentError, match="already used for a different payment operation"):
        services.checkout_submit(
            order=order, method=other, customer_user=order.customer_user, idempotency_key=first_key
        )
