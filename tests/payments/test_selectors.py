"""Reads of the ledger: the payment history in fixed queries, and which row actions to show."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

import pytest
from django.utils import timezone

from integrations.adapters import ADAPTERS
from integrations.adapters.base import Operation
from integrations.types import IntegrationType
from payments import services
from payments.models import PaymentTransaction
from payments.selectors import (
    CANCEL,
    CAPTURE,
    MARK_RECEIVED,
    REFUND,
    available_actions,
    capturable_amount,
    order_payment_history,
    refundable_amount,
)
from tests.factories import UserFactory
from tests.payments.support import FakeCardAdapter, key, make_order, offered_method, staff

pytestmark = pytest.mark.django_db


def authorize(total: str = "100.00"):
    method = offered_method(IntegrationType.STRIPE, payment_action="manual")
    order = make_order(total=total)
    return order, services.checkout_submit(
        order=order, method=method, customer_user=order.customer_user, idempotency_key=key()
    )


@pytest.mark.parametrize("captures", [1, 8])
def test_payment_history_reads_in_one_query_however_many_rows(
    fake_card, django_assert_num_queries, captures
):
    order, auth = authorize(total="1000.00")
    sales = staff()
    for _ in range(captures):
        services.payment_capture(transaction=auth, amount="10", actor=sales, idempotency_key=key())

    with django_assert_num_queries(1):
        rows = list(order_payment_history(order=order))
        shown = [
            (
                row.method.integration.name,
                row.actor and row.actor.username,
                row.customer_user and row.customer_user.user.username,
                row.source and row.source.pk,
                capturable_amount(row),
                refundable_amount(row),
            )
            for row in rows
        ]

    assert len(shown) == captures + 1
    assert shown[-1][4] == Decimal("1000.00") - 10 * captures
    assert rows[0].pk > rows[-1].pk  # newest first


def test_sales_may_capture_and_cancel_an_open_authorization(fake_card):
    _, auth = authorize()
    assert available_actions(transaction=auth, user=staff()) == {CAPTURE, CANCEL}


def test_a_captured_payment_offers_refund_until_refunded_in_full(fake_card):
    _, auth = authorize()
    sales = staff()
    captured = services.payment_capture(
        transaction=auth, amount="100", actor=sales, idempotency_key=key()
    )
    auth.refresh_from_db()
    assert available_actions(transaction=auth, user=sales) == set()
    assert available_actions(transaction=captured, user=sales) == {REFUND}
    services.payment_refund(
        transaction=captured, amount="100", note="x", actor=sales, idempotency_key=key()
    )
    assert available_actions(transaction=captured, user=sales) == set()


def test_an_expired_authorization_offers_cancel_only(fake_card):
    _, auth = authorize()
    auth.authorization_expires_at = timezone.now() - timedelta(seconds=1)
    assert available_actions(transaction=auth, user=staff()) == {CANCEL}


def test_users_without_the_permissions_see_no_actions(fake_card):
    order, auth = authorize()
    assert available_actions(transaction=auth, user=UserFactory()) == set()
    assert available_actions(transaction=auth, user=order.customer_user.user) == set()


class CaptureOnlyAdapter(FakeCardAdapter):
    supports: ClassVar[frozenset[Operation]] = frozenset({Operation.CAPTURE})


def test_only_what_the_adapter_supports_is_offered(fake_card, monkeypatch):
    _, auth = authorize()
    monkeypatch.setitem(ADAPTERS, IntegrationType.STRIPE, CaptureOnlyAdapter)
    assert available_actions(transaction=auth, user=staff()) == {CAPTURE}


def test_a_deleted_integration_offers_no_actions(fake_card):
    _, auth = authorize()
    integration = auth.method.integration
    integration.deleted_at = timezone.now()
    integration.save()
    auth = PaymentTransaction.objects.get(pk=auth.pk)
    assert available_actions(transaction=auth, user=staff()) == set()


def test_an_offline_payment_offers_mark_received_until_received():
    method = offered_method(IntegrationType.MONEY_ORDER)
    order = make_order()
    pending = services.checkout_submit(
        order=order, method=method, customer_user=order.customer_user, idempotency_key=key()
    )
    sales = staff()
    assert available_actions(transaction=pending, user=sales) == {MARK_RECEIVED}
    received = services.payment_mark_received(
        transaction=pending, actor=sales, idempotency_key=key()
    )
    pending.refresh_from_db()
    assert available_actions(transaction=pending, user=sales) == set()
    assert available_actions(transaction=received, user=sales) == set()
