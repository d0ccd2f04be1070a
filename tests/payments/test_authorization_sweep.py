"""`sweep_authorizations`: expired holds closed, those about to expire listed for sales staff."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from backoffice.models import Order
from integrations.types import IntegrationType
from payments import ledger
from payments.models import Operation, PaymentTransaction, State
from payments.status import PaymentStatus
from tests.payments.support import key, make_order, offered_method

pytestmark = pytest.mark.django_db


def authorization(expires_in: timedelta, **fields: Any) -> PaymentTransaction:
    order = make_order()
    method = offered_method(IntegrationType.STRIPE)
    row = ledger.new_row(
        order=order,
        method=method,
        operation=Operation.AUTHORIZE,
        amount=order.total,
        currency=order.currency,
        idempotency_key=key("auth"),
    )
    row.state = State.SUCCEEDED
    row.is_open = True
    row.provider_reference = "pi_123"
    row.authorization_expires_at = timezone.now() + expires_in
    for name, value in fields.items():
        setattr(row, name, value)
    row.save()
    ledger.order_refresh_payment_status(order=order)
    return row


def sweep(*args: str) -> str:
    out = StringIO()
    call_command("sweep_authorizations", *args, stdout=out)
    return out.getvalue()


def test_an_expired_authorization_is_closed_and_its_order_no_longer_authorized() -> None:
    expired = authorization(-timedelta(hours=1))
    assert expired.order.payment_status == PaymentStatus.AUTHORIZED

    output = sweep()

    expired.refresh_from_db()
    assert not expired.is_open
    assert Order.objects.get(pk=expired.order_id).payment_status != PaymentStatus.AUTHORIZED
    assert "Closed 1 expired authorizations." in output
    assert expired.order.number in output


def test_authorizations_expiring_soon_are_listed_and_stay_open() -> None:
    soon = authorization(timedelta(days=2))
    later = authorization(timedelta(days=5))

    output = sweep()

    assert "Closed 0 expired authorizations." in output
    assert "Expiring within 3 days: 1." in output
    assert soon.order.number in output and later.order.number not in output
    assert "Expiring within 7 days: 2." in sweep("--days", "7")
    soon.refresh_from_db()
    later.refresh_from_db()
    assert soon.is_open and later.is_open


def test_captured_failed_and_unlimited_authorizations_are_left_alone() -> None:
    captured = authorization(-timedelta(days=1), is_open=False)
    failed = authorization(-timedelta(days=1), state=State.FAILED, is_open=False)
    no_limit = authorization(timedelta(days=1), authorization_expires_at=None)

    output = sweep()

    assert "Closed 0 expired authorizations." in output
    assert "Expiring within 3 days: 0." in output
    for row in (captured, failed, no_limit):
        before = row.updated_at
        row.refresh_from_db()
        assert row.updated_at == before


def test_sweeping_twice_closes_nothing_the_second_time() -> None:
    authorization(-timedelta(minutes=1))
    assert "Closed 1 " in sweep()
    assert "Closed 0 " in sweep()
