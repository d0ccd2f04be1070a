"""The order payment status, table-driven over the calculators' priority."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments.status import LedgerRow, PaymentStatus, payment_status

TOTAL = Decimal("100.00")


def row(operation: str, amount: str, *, ok: bool = True, open: bool = False) -> LedgerRow:
    return LedgerRow(operation, Decimal(amount), successful=ok, is_open=open)


CASES = [
    ("no transactions", [], PaymentStatus.PENDING),
    ("money order awaiting payment", [row("pending", "100", open=True)], PaymentStatus.PENDING),
    ("payment terms invoice", [row("invoice", "100", open=True)], PaymentStatus.INVOICED),
    ("charged in full", [row("charge", "100")], PaymentStatus.PAID_IN_FULL),
    ("authorized in full", [row("authorize", "100", open=True)], PaymentStatus.AUTHORIZED),
    ("authorized in part", [row("authorize", "60", open=True)], PaymentStatus.AUTHORIZED_PARTIALLY),
    (
        "one partial capture, authorization still open",
        [row("authorize", "100", open=True), row("capture", "40")],
        PaymentStatus.PAID_PARTIALLY,
    ),
    (
        "two partial captures making the total",
        [row("authorize", "100"), row("capture", "40"), row("capture", "60")],
        PaymentStatus.PAID_IN_FULL,
    ),
    (
        "captured then partially refunded",
        [row("authorize", "100"), row("capture", "100"), row("refund", "30")],
        PaymentStatus.REFUNDED_PARTIALLY,
    ),
    (
        "refunded in full",
        [row("charge", "100"), row("refund", "60"), row("refund", "40")],
        PaymentStatus.REFUNDED,
    ),
    (
        "authorization canceled",
        [row("authorize", "100"), row("cancel", "100")],
        PaymentStatus.CANCELED,
    ),
    (
        "part captured, rest canceled",
        [row("authorize", "100", open=True), row("cancel", "40")],
        PaymentStatus.CANCELED_PARTIALLY,
    ),
    ("declined", [row("charge", "100", ok=False)], PaymentStatus.DECLINED),
    (
        "declined, then a pending retry",
        [row("charge", "100", ok=False), row("charge", "100", ok=False, open=True)],
        PaymentStatus.PENDING,
    ),
    (
        "an unknown outcome is not money received",
        [row("capture", "100", ok=False, open=True)],
        PaymentStatus.PENDING,
    ),
    (
        "a failed capture leaves the authorization",
        [row("authorize", "100", open=True), row("capture", "100", ok=False)],
        PaymentStatus.AUTHORIZED,
    ),
    (
        "money order received",
        [row("pending", "100"), row("capture", "100")],
        PaymentStatus.PAID_IN_FULL,
    ),
]


@pytest.mark.parametrize(
    ("rows", "expected"), [(r, e) for _, r, e in CASES], ids=[c[0] for c in CASES]
)
def test_status_follows_the_ledger(rows, expected):
    assert payment_status(rows, TOTAL) == expected


def test_every_status_has_a_label():
    assert all(status.label for status in PaymentStatus)
