"""The staff payment services: capture, cancel, refund, mark received, and the order status."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from backoffice.models import AuditEntry
from integrations.types import IntegrationType
from payments import services
from payments.models import Operation, PaymentTransaction, State
from payments.selectors import capturable_amount, refundable_amount
from payments.services import PaymentError
from payments.status import PaymentStatus
from tests.payments.support import (
    SingleCaptureAdapter,
    authorized,
    key,
    make_order,
    offered_method,
    payment_term,
    staff,
    status_of,
    submit,
)

pytestmark = pytest.mark.django_db


# --- capture ------------------------------------------------------------------------------------


def capture(tx, amount, actor=None, **kwargs):
    return services.payment_capture(
        transaction=tx,
        amount=amount,
        actor=actor or staff(),
        idempotency_key=kwargs.pop("idempotency_key", key("capture")),
        **kwargs,
    )


def test_a_full_capture_closes_the_authorization_and_pays_the_order(fake_card):
    order, auth = authorized()
    sales = staff()

    row = capture(auth, "100.00", sales)

    auth.refresh_from_db()
    assert (row.operation, row.state, row.source_id) == (
        Operation.CAPTURE,
        State.SUCCEEDED,
        auth.pk,
    )
    assert row.actor == sales and not auth.is_open
    assert status_of(order) == PaymentStatus.PAID_IN_FULL
    entry = AuditEntry.objects.get(action="payment.captured")
    assert entry.actor == sales and entry.changes["amount"] == "100.00 USD"


def test_two_partial_captures_then_a_partial_refund(fake_card):
    order, auth = authorized()

    first = capture(auth, "30.00")
    auth.refresh_from_db()
    assert auth.is_open and capturable_amount(auth) == Decimal("70.00")
    assert status_of(order) == PaymentStatus.PAID_PARTIALLY

    capture(auth, "70")
    auth.refresh_from_db()
    assert not auth.is_open and capturable_amount(auth) == Decimal(0)
    assert status_of(order) == PaymentStatus.PAID_IN_FULL

    services.payment_refund(
        transaction=first, amount="10", note="Damaged", actor=staff(), idempotency_key=key()
    )
    assert status_of(order) == PaymentStatus.REFUNDED_PARTIALLY
    assert refundable_amount(first) == Decimal("20.00")


def test_a_partial_capture_releases_the_rest_where_the_provider_allows_one_capture(
    fake_card, monkeypatch
):
    from integrations.adapters import ADAPTERS

    monkeypatch.setitem(ADAPTERS, IntegrationType.STRIPE, SingleCaptureAdapter)
    _, auth = authorized()

    capture(auth, "40")

    auth.refresh_from_db()
    assert not auth.is_open
    with pytest.raises(PaymentError, match="already captured in full or canceled"):
        capture(auth, "10")


@pytest.mark.parametrize(
    ("currency", "amount", "message"),
    [
        ("USD", "-1", "greater than zero"),
        ("USD", "0", "greater than zero"),
        ("USD", "abc", "Enter an amount"),
        ("USD", "", "Enter an amount"),
        ("USD", "NaN", "Enter an amount"),
        ("USD", "1.234", "at most 2 decimals"),
        ("JPY", "1.5", "no decimals"),
        ("BHD", "1.2345", "at most 3 decimals"),
        ("USD", "100.01", "at most 100.00 USD"),
        ("USD", "1e20", "too large"),
    ],
)
def test_bad_capture_amounts_are_refused_and_nothing_is_written(
    fake_card, currency, amount, message
):
    total = {"USD": "100.00", "JPY": "1000", "BHD": "10.000"}[currency]
    _, auth = authorized(total=total, currency=currency)

    with pytest.raises(PaymentError, match=message):
        capture(auth, amount)
    assert not PaymentTransaction.objects.filter(operation=Operation.CAPTURE).exists()


@pytest.mark.parametrize(
    ("currency", "amount"), [("JPY", "999"), ("BHD", "9.999"), ("USD", "0.01")]
)
def test_capture_amounts_within_the_currency_exponent_are_taken(fake_card, currency, amount):
    total = {"USD": "100.00", "JPY": "1000", "BHD": "10.000"}[currency]
    _, auth = authorized(total=total, currency=currency)
    assert capture(auth, amount).amount == Decimal(amount)


def test_a_capture_in_another_currency_is_refused(fake_card):
    _, auth = authorized()
    with pytest.raises(PaymentError, match="in USD"):
        capture(auth, "10", currency="EUR")


def test_an_expired_authorization_cannot_be_captured(fake_card):
    _, auth = authorized()
    PaymentTransaction.objects.filter(pk=auth.pk).update(
        authorization_expires_at=timezone.now() - timedelta(minutes=1)
    )
    auth.refresh_from_db()

    with pytest.raises(PaymentError, match=r"expired on .* can no longer be captured"):
        capture(auth, "10")
    assert fake_card.calls == [("authorize", Decimal("100.00"), auth.idempotency_key)]


def test_a_retried_capture_returns_the_first_and_asks_the_provider_once(fake_card):
    _, auth = authorized()

    first = capture(auth, "100", idempotency_key="same")
    again = capture(auth, "100", idempotency_key="same")

    assert first.pk == again.pk
    assert [call[0] for call in fake_card.calls] == ["authorize", "capture"]


def test_a_key_reused_for_another_operation_is_refused(fake_card):
    _, auth = authorized()
    row = capture(auth, "100", idempotency_key="used")
    with pytest.raises(PaymentError, match="different payment operation"):
        services.payment_refund(
            transaction=row, amount="1", note="x", actor=staff(), idempotency_key="used"
        )


def test_a_declined_capture_is_recorded_and_leaves_the_authorization_open(fake_card):
    order, auth = authorized()
    fake_card.mode = "decline"

    row = capture(auth, "100")

    auth.refresh_from_db()
    assert row.state == State.FAILED and row.message == "Card declined."
    assert auth.is_open and capturable_amount(auth) == Decimal("100.00")
    assert status_of(order) == PaymentStatus.AUTHORIZED


def test_a_provider_fault_during_capture_leaves_an_unknown_capture_holding_the_amount(fake_card):
    _, auth = authorized()
    fake_card.mode = "error"

    row = capture(auth, "60")

    auth.refresh_from_db()
    assert row.state == State.UNKNOWN and "connection timed out" in row.message
    assert auth.is_open and capturable_amount(auth) == Decimal("40.00")


def test_a_buyer_cannot_capture(fake_card):
    order, auth = authorized()
    with pytest.raises(PermissionDenied):
        capture(auth, "10", actor=order.customer_user.user)


def test_a_canceled_authorization_cannot_be_captured(fake_card):
    _, auth = authorized()
    services.payment_cancel(
        transaction=auth, note="Out of stock", actor=staff(), idempotency_key=key()
    )
    with pytest.raises(PaymentError, match="already captured in full or canceled"):
        capture(auth, "10")


def test_a_capture_cannot_itself_be_captured(fake_card):
    _, auth = authorized()
    row = capture(auth, "10")
    with pytest.raises(PaymentError, match="cannot be captured"):
        capture(row, "1")


# --- cancel -------------------------------------------------------------------------------------


def test_cancel_needs_a_note(fake_card):
    _, auth = authorized()
    with pytest.raises(PaymentError, match="Enter a note"):
        services.payment_cancel(transaction=auth, note="  ", actor=staff(), idempotency_key=key())
    assert not PaymentTransaction.objects.filter(operation=Operation.CANCEL).exists()


def test_cancel_voids_the_authorization(fake_card):
    order, auth = authorized()
    sales = staff()

    row = services.payment_cancel(
        transaction=auth, note="Customer asked", actor=sales, idempotency_key=key()
    )

    auth.refresh_from_db()
    assert (row.operation, row.state, row.amount) == (
        Operation.CANCEL,
        State.SUCCEEDED,
        Decimal("100.00"),
    )
    assert row.note == "Customer asked" and not auth.is_open
    assert status_of(order) == PaymentStatus.CANCELED
    assert AuditEntry.objects.filter(action="payment.canceled", actor=sales).exists()


def test_cancel_after_a_partial_capture_voids_only_the_rest(fake_card):
    order, auth = authorized()
    capture(auth, "25")

    row = services.payment_cancel(
        transaction=auth, note="Rest", actor=staff(), idempotency_key=key()
    )

    assert row.amount == Decimal("75.00")
    assert status_of(order) == PaymentStatus.PAID_PARTIALLY


def test_cancel_needs_the_permission(fake_card):
    _, auth = authorized()
    with pytest.raises(PermissionDenied):
        services.payment_cancel(
            transaction=auth, note="x", actor=_plain_user(), idempotency_key=key()
        )


def _plain_user():
    from tests.factories import UserFactory

    return UserFactory()


# --- refund -------------------------------------------------------------------------------------


def test_refunds_add_up_to_what_was_captured(fake_card):
    order, auth = authorized()
    captured = capture(auth, "100")

    def refund(amount: str):
        return services.payment_refund(
            transaction=captured,
            amount=amount,
            note="Returned",
            actor=staff(),
            idempotency_key=key(),
        )

    refund("40")
    assert status_of(order) == PaymentStatus.REFUNDED_PARTIALLY
    with pytest.raises(PaymentError, match=r"at most 60\.00 USD"):
        refund("60.01")
    refund("60")
    assert status_of(order) == PaymentStatus.REFUNDED
    with pytest.raises(PaymentError, match="Nothing is left to refund"):
        refund("0.01")
    assert AuditEntry.objects.filter(action="payment.refunded").count() == 2


def test_refund_needs_a_note(fake_card):
    _, auth = authorized()
    captured = capture(auth, "100")
    with pytest.raises(PaymentError, match="Enter a note"):
        services.payment_refund(
            transaction=captured, amount="1", note="", actor=staff(), idempotency_key=key()
        )


def test_an_authorization_cannot_be_refunded(fake_card):
    _, auth = authorized()
    with pytest.raises(PaymentError, match="cannot be refunded"):
        services.payment_refund(
            transaction=auth, amount="1", note="x", actor=staff(), idempotency_key=key()
        )


# --- offline: mark received ---------------------------------------------------------------------


def test_marking_a_money_order_received_pays_the_order():
    method = offered_method(IntegrationType.MONEY_ORDER)
    order = make_order()
    pending = submit(order, method)
    sales = staff()

    row = services.payment_mark_received(transaction=pending, actor=sales, idempotency_key="recv")

    pending.refresh_from_db()
    assert (row.operation, row.state, row.amount) == (
        Operation.CAPTURE,
        State.SUCCEEDED,
        Decimal("100.00"),
    )
    assert not pending.is_open
    assert status_of(order) == PaymentStatus.PAID_IN_FULL
    assert (
        services.payment_mark_received(transaction=pending, actor=sales, idempotency_key="recv").pk
        == row.pk
    )
    with pytest.raises(PaymentError, match="already marked received"):
        services.payment_mark_received(transaction=pending, actor=sales, idempotency_key=key())
    assert AuditEntry.objects.filter(action="payment.marked_received").count() == 1


def test_marking_an_invoice_paid():
    method = offered_method(IntegrationType.PAYMENT_TERM)
    order = make_order()
    order.customer.payment_term = payment_term()
    order.customer.save()
    invoice = submit(order, method)

    services.payment_mark_received(transaction=invoice, actor=staff(), idempotency_key=key())

    assert status_of(order) == PaymentStatus.PAID_IN_FULL


def test_offline_payments_cannot_be_captured_partially_or_refunded():
    method = offered_method(IntegrationType.MONEY_ORDER)
    pending = submit(make_order(), method)
    with pytest.raises(PaymentError, match="cannot be captured"):
        capture(pending, "10")
    received = services.payment_mark_received(
        transaction=pending, actor=staff(), idempotency_key=key()
    )
    with pytest.raises(PaymentError, match="cannot be refunded here"):
        services.payment_refund(
            transaction=received, amount="1", note="x", actor=staff(), idempotency_key=key()
        )


def test_mark_received_needs_the_capture_permission():
    method = offered_method(IntegrationType.MONEY_ORDER)
    pending = submit(make_order(), method)
    with pytest.raises(PermissionDenied):
        services.payment_mark_received(
            transaction=pending, actor=_plain_user(), idempotency_key=key()
        )
