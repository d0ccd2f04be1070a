"""Reads of the payment ledger for pages and for the services' own checks."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from backoffice.models import Order
from integrations.adapters import adapter_class_for
from integrations.adapters.base import Operation as AdapterOperation
from payments.expiry import is_expired
from payments.models import Operation, PaymentTransaction, State

# Children that hold part of their source's amount. Pending and unknown ones count too: the
# provider may have acted, so their amount is not free to capture or refund again.
HOLDING_STATES = (State.SUCCEEDED, State.PENDING, State.UNKNOWN)

# Names of the actions available_actions() answers; views map them to buttons.
CAPTURE = "capture"
CANCEL = "cancel"
REFUND = "refund"
MARK_RECEIVED = "mark_received"

_TOTALS = {
    "captured_total": Operation.CAPTURE,
    "canceled_total": Operation.CANCEL,
    "refunded_total": Operation.REFUND,
}


def _child_sum(operation: str) -> Coalesce:
    return Coalesce(
        Sum(
            "children__amount",
            filter=Q(children__operation=operation, children__state__in=HOLDING_STATES),
        ),
        Value(Decimal(0)),
        output_field=DecimalField(max_digits=19, decimal_places=4),
    )


def with_child_totals(queryset: QuerySet[PaymentTransaction]) -> QuerySet[PaymentTransaction]:
    """Annotate what each row's captures, cancels and refunds hold, in the same query."""
    return queryset.annotate(**{name: _child_sum(op) for name, op in _TOTALS.items()})


def order_payment_history(*, order: Order) -> QuerySet[PaymentTransaction]:
    """The order's ledger, newest first, in one query however many rows it has."""
    return with_child_totals(
        PaymentTransaction.objects.filter(order=order).select_related(
            "method__integration", "actor", "customer_user__user", "source"
        )
    ).order_by("-id")


def _child_totals(transaction: PaymentTransaction, *names: str) -> list[Decimal]:
    """The totals `names` of `transaction`'s children: annotated, or else read in one query."""
    held: dict[str, Decimal] = {}
    if any(getattr(transaction, name, None) is None for name in names):
        # A handful of rows summed here: cheaper to build than a filtered aggregate, and the
        # services ask this inside their lock (bench.capture_overhead).
        children = transaction.children.filter(state__in=HOLDING_STATES)
        for operation, amount in children.values_list("operation", "amount"):
            held[operation] = held.get(operation, Decimal(0)) + amount
    totals = []
    for name in names:
        annotated = getattr(transaction, name, None)
        totals.append(
            Decimal(annotated) if annotated is not None else held.get(_TOTALS[name], Decimal(0))
        )
    return totals


def capturable_amount(transaction: PaymentTransaction) -> Decimal:
    """What an open authorization can still capture: authorized − captured − canceled."""
    if not (
        transaction.operation == Operation.AUTHORIZE
        and transaction.state == State.SUCCEEDED
        and transaction.is_open
    ):
        return Decimal(0)
    captured, canceled = _child_totals(transaction, "captured_total", "canceled_total")
    return max(transaction.amount - captured - canceled, Decimal(0))


def refundable_amount(transaction: PaymentTransaction) -> Decimal:
    """What a captured or charged payment can still refund: its amount − refunds."""
    if not (
        transaction.operation in (Operation.CAPTURE, Operation.CHARGE)
        and transaction.state == State.SUCCEEDED
    ):
        return Decimal(0)
    (refunded,) = _child_totals(transaction, "refunded_total")
    return max(transaction.amount - refunded, Decimal(0))


def authorization_is_expired(transaction: PaymentTransaction) -> bool:
    return is_expired(transaction.authorization_expires_at, timezone.now())


def available_actions(*, transaction: PaymentTransaction, user: User | AnonymousUser) -> set[str]:
    """The row actions to show: the adapter supports them, the user may, the state allows, and
    the deployment allows the integration's environment (no test mode in production)."""
    integration = transaction.method.integration
    adapter_class = adapter_class_for(integration.type)
    if adapter_class is None or integration.is_deleted or not integration.allowed_in_deployment():
        return set()
    supports = adapter_class.supports
    actions: set[str] = set()
    if transaction.operation == Operation.AUTHORIZE and capturable_amount(transaction) > 0:
        if (
            AdapterOperation.CAPTURE in supports
            and user.has_perm("payments.capture_payment")
            and not authorization_is_expired(transaction)
        ):
            actions.add(CAPTURE)
        if AdapterOperation.CANCEL in supports and user.has_perm("payments.cancel_payment"):
            actions.add(CANCEL)
    if (
        transaction.operation in (Operation.PENDING, Operation.INVOICE)
        and transaction.state == State.SUCCEEDED
        and transaction.is_open
        and AdapterOperation.CAPTURE in supports
        and user.has_perm("payments.capture_payment")
    ):
        actions.add(MARK_RECEIVED)
    if (
        refundable_amount(transaction) > 0
        and AdapterOperation.REFUND in supports
        and user.has_perm("payments.refund_payment")
    ):
        actions.add(REFUND)
    return actions
