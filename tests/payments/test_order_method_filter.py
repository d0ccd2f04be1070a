"""The orders list's method filter finds the same orders by either plan (few or many payments)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from integrations.types import IntegrationType
from payments import order_selectors, services
from tests.payments.support import key, make_order, offered_method

pytestmark = pytest.mark.django_db


def _numbers(method: str) -> list[str]:
    orders = order_selectors.order_list(now=timezone.now(), method=method)
    return [order.number for order in orders]


@pytest.mark.parametrize("few_matches", [0, 1, 2_000])
def test_method_filter_finds_the_same_orders_whatever_their_number(monkeypatch, few_matches):
    method = offered_method(IntegrationType.MONEY_ORDER)
    paid = []
    for n in range(3):
        order = make_order()
        services.checkout_submit(
            order=order,
            method=method,
            customer_user=order.customer_user,
            idempotency_key=key(f"filter-{n}"),
        )
        paid.append(order.number)
    make_order()  # not paid with it
    monkeypatch.setattr(order_selectors, "FEW_MATCHES", few_matches)

    assert _numbers(str(method.pk)) == list(reversed(paid))  # newest first
    assert _numbers(method.admin_label.upper()) == list(reversed(paid))
    assert _numbers("no such method") == []
