"""An order's payment status, derived from its ledger (never typed in).

The calculators and their priority follow OroCommerce's (reference §4.4): the first that
answers wins. Amounts are summed per operation over successful transactions only.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal


class PaymentStatus(enum.StrEnum):
    PAID_IN_FULL = "paid_in_full"
    PAID_PARTIALLY = "paid_partially"
    INVOICED = "invoiced"
    AUTHORIZED = "authorized"
    AUTHORIZED_PARTIALLY = "authorized_partially"
    DECLINED = "declined"
    PENDING = "pending"
    CANCELED = "canceled"
    CANCELED_PARTIALLY = "canceled_partially"
    REFUNDED = "refunded"
    REFUNDED_PARTIALLY = "refunded_partially"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    PaymentStatus.PAID_IN_FULL: "Paid in full",
    PaymentStatus.PAID_PARTIALLY: "Paid partially",
    PaymentStatus.INVOICED: "Invoiced",
    PaymentStatus.AUTHORIZED: "Payment authorized",
    PaymentStatus.AUTHORIZED_PARTIALLY: "Payment authorized partially",
    PaymentStatus.DECLINED: "Payment declined",
    PaymentStatus.PENDING: "Pending payment",
    PaymentStatus.CANCELED: "Payment canceled",
    PaymentStatus.CANCELED_PARTIALLY: "Canceled partially",
    PaymentStatus.REFUNDED: "Refunded",
    PaymentStatus.REFUNDED_PARTIALLY: "Refunded partially",
}

PAID_OPERATIONS = frozenset({"capture", "charge"})


@dataclass(frozen=True)
class LedgerRow:
    """What the status reads of one transaction."""

    operation: str
    amount: Decimal
    successful: bool
    is_open: bool


def payment_status(rows: Iterable[LedgerRow], total: Decimal) -> PaymentStatus:
    rows = list(rows)
    succeeded = [row for row in rows if row.successful]

    def total_of(operations: frozenset[str] | set[str], *, open_only: bool = False) -> Decimal:
        return sum(
            (
                r.amount
                for r in succeeded
                if r.operation in operations and (r.is_open or not open_only)
            ),
            Decimal(0),
        )

    def exists(operation: str, *, open_only: bool = False) -> bool:
        return any(r.operation == operation and (r.is_open or not open_only) for r in succeeded)

    refunded = total_of({"refund"})
    paid = total_of(PAID_OPERATIONS)
    authorized = total_of({"authorize"}, open_only=True)
    canceled = total_of({"cancel"})

    if exists("refund"):
        return PaymentStatus.REFUNDED_PARTIALLY if refunded < total else PaymentStatus.REFUNDED
    if paid and paid >= total:
        return PaymentStatus.PAID_IN_FULL
    if exists("invoice", open_only=True):
        return PaymentStatus.INVOICED
    if exists("authorize", open_only=True) and authorized < total:
        return PaymentStatus.AUTHORIZED_PARTIALLY
    if exists("cancel") and authorized > canceled:
        return PaymentStatus.CANCELED_PARTIALLY
    if paid:
        return PaymentStatus.PAID_PARTIALLY
    if exists("authorize", open_only=True) and authorized >= total:
        return PaymentStatus.AUTHORIZED
    if exists("cancel"):
        return PaymentStatus.CANCELED
    if rows and all(not r.successful and not r.is_open for r in rows):
        return PaymentStatus.DECLINED
    return PaymentStatus.PENDING
