"""After the load run: does the ledger balance, and does it agree with the provider?

Read from the database and from the Stripe simulator's own state (it ran in this process), for
every order of the run:

- no transaction is left pending or unknown (every buyer came back, every provider answered);
- the order's stored payment status is the one its ledger gives (`order_refresh_payment_status`);
- per authorization, captured <= authorized, and per capture, refunded <= captured;
- every card authorization handed to the sales staff was captured exactly once (two clerks on
  the same order must not capture twice, nor leave it uncaptured);
- per PaymentIntent, the simulator holds what the ledger says: the amount authorized, the amount
  received (= captured), what is still capturable, and the sum of its refunds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulators.stripe import StripeSimulator


@dataclass
class LedgerCheck:
    orders: int = 0
    authorizations: int = 0
    captures: int = 0
    refunds: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def balances(self) -> bool:
        return self.orders > 0 and not self.problems


def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def check_ledger(
    *, order_numbers: list[str], captured_by_staff: set[int], simulator: StripeSimulator
) -> LedgerCheck:
    """Check every order in `order_numbers`; `captured_by_staff`: the authorizations handed on."""
    from backoffice.models import Order
    from payments.ledger import order_refresh_payment_status
    from payments.models import Operation, PaymentTransaction, State

    check = LedgerCheck()
    orders = list(Order.objects.filter(number__in=order_numbers).order_by("pk"))
    rows_of: dict[int, list[PaymentTransaction]] = defaultdict(list)
    for row in PaymentTransaction.objects.filter(order__in=orders).order_by("pk"):
        rows_of[row.order_id].append(row)
    refunds_of_intent: dict[str, int] = defaultdict(int)
    for refund in simulator.refunds.values():
        if refund["status"] == "succeeded":
            refunds_of_intent[refund["payment_intent"]] += refund["amount"]

    for order in orders:
        check.orders += 1
        rows = rows_of[order.pk]
        problems = check.problems
        for row in rows:
            if row.state in (State.PENDING, State.UNKNOWN):
                problems.append(f"{order.number}: {row.operation} #{row.pk} left {row.state}")
        stored = order.payment_status
        if order_refresh_payment_status(order=order) != stored:
            problems.append(f"{order.number}: stored status {stored}, ledger gives another")
        succeeded = [r for r in rows if r.state == State.SUCCEEDED]
        children: dict[int, list[Any]] = defaultdict(list)
        for row in succeeded:
            if row.source_id is not None:
                children[row.source_id].append(row)
        for auth in (r for r in succeeded if r.operation == Operation.AUTHORIZE):
            check.authorizations += 1
            captures = [c for c in children[auth.pk] if c.operation == Operation.CAPTURE]
            captured = sum((c.amount for c in captures), Decimal(0))
            refunded = Decimal(0)
            check.captures += len(captures)
            if captured > auth.amount:
                problems.append(f"{order.number}: captured {captured} > authorized {auth.amount}")
            for capture in captures:
                refunds = [r for r in children[capture.pk] if r.operation == Operation.REFUND]
                check.refunds += len(refunds)
                refunded_here = sum((r.amount for r in refunds), Decimal(0))
                refunded += refunded_here
                if refunded_here > capture.amount:
                    problems.append(f"{order.number}: refunded {refunded_here} > {capture.amount}")
            if auth.pk in captured_by_staff and len(captures) != 1:
                problems.append(f"{order.number}: {len(captures)} captures of #{auth.pk}")
            intent = simulator.payment_intents.get(auth.provider_reference)
            if intent is None:
                problems.append(f"{order.number}: the simulator has no {auth.provider_reference}")
                continue
            expected = {
                "amount": _cents(auth.amount),
                "amount_received": _cents(captured),
                "amount_capturable": 0 if captures else _cents(auth.amount),
                "refunded": _cents(refunded),
            }
            held = {
                "amount": intent["amount"],
                "amount_received": intent["amount_received"],
                "amount_capturable": intent["amount_capturable"],
                "refunded": refunds_of_intent[intent["id"]],
            }
            if held != expected:
                problems.append(f"{order.number}: ledger {expected}, simulator {held}")
    return check
