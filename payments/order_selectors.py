"""Reads for the Sales › Orders list: one query for the page however many transactions exist."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Lower

from backoffice.models import Order
from payments.models import Operation, PaymentTransaction, State

SORTS: dict[str, F | Lower] = {
    "number": F("number"),
    "customer": Lower("customer__name"),
    "website": Lower("website__name"),
    "total": F("total"),
    "status": F("payment_status"),
    "method": Lower("latest_method_label"),
    "expiry": F("authorization_expires_at"),
    "created": F("created_at"),
}
DEFAULT_SORT = "-created"
NULLABLE_SORTS = {"method", "expiry"}
FEW_MATCHES = 2_000


def open_authorizations() -> QuerySet[PaymentTransaction]:
    """Succeeded authorizations still awaiting capture."""
    return PaymentTransaction.objects.filter(
        operation=Operation.AUTHORIZE, state=State.SUCCEEDED, is_open=True
    )


def orders_for_list() -> QuerySet[Order]:
    """Orders with their latest transaction's method label and first open-authorization expiry."""
    latest = PaymentTransaction.objects.filter(order=OuterRef("pk")).order_by("-id")
    expiry = (
        open_authorizations()
        .filter(order=OuterRef("pk"), authorization_expires_at__isnull=False)
        .order_by("authorization_expires_at")
    )
    return Order.objects.select_related("customer", "website").annotate(
        latest_method_label=Subquery(latest.values("method_admin_label")[:1]),
        authorization_expires_at=Subquery(expiry.values("authorization_expires_at")[:1]),
    )


def _paid_with(transactions: QuerySet[PaymentTransaction]) -> Q | Exists:
    """Orders with one of `transactions`, in the form PostgreSQL reads fastest for their number.

    Given an Exists, PostgreSQL walks the orders newest first and probes each one: quick when
    the method is common, but for a rarely used one (say an old integration's, whose payments
    are all in old orders) it probes nearly every order (250 ms at 100,000, see bench.list_pages).
    Up to FEW_MATCHES transactions are fetched first instead: their LIMIT keeps the planner from
    turning the subquery back into that walk, and sorting a few thousand orders is quick.
    """
    if not transactions[FEW_MATCHES : FEW_MATCHES + 1].exists():
        return Q(pk__in=transactions.values("order_id")[:FEW_MATCHES])
    return Exists(transactions.filter(order=OuterRef("pk")))


def order_list(
    *,
    now: datetime,
    status: str = "",
    method: str = "",
    website: int | None = None,
    awaiting_capture: bool = False,
    expires_within_days: int | None = None,
    sort: str = DEFAULT_SORT,
) -> QuerySet[Order]:
    orders = orders_for_list()
    if status:
        orders = orders.filter(payment_status=status)
    if method:
        by_method = Q(method_admin_label__iexact=method)
        if method.isdigit():
            by_method |= Q(method_id=int(method))
        orders = orders.filter(_paid_with(PaymentTransaction.objects.filter(by_method)))
    if website is not None:
        orders = orders.filter(website_id=website)
    if awaiting_capture:
        orders = orders.filter(Exists(open_authorizations().filter(order=OuterRef("pk"))))
    if expires_within_days is not None:
        soon = open_authorizations().filter(
            order=OuterRef("pk"),
            authorization_expires_at__gt=now,
            authorization_expires_at__lte=now + timedelta(days=expires_within_days),
        )
        orders = orders.filter(Exists(soon))
    descending = sort.startswith("-")
    name = sort.lstrip("-") if sort.lstrip("-") in SORTS else "created"
    key = SORTS[name]
    # NULLS LAST only where a NULL can be: on a NOT NULL column it would keep PostgreSQL from
    # reading the page from an index (order_newest_first) for nothing.
    nulls_last = True if name in NULLABLE_SORTS else None
    ordered = key.desc(nulls_last=nulls_last) if descending else key.asc(nulls_last=nulls_last)
    return orders.order_by(ordered, "-id" if descending else "id")
