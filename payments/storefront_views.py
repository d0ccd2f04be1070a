"""The storefront: a buyer's orders, the checkout of one, and the result of paying for it.

Buyers are users with a CustomerUser; they see and pay every order of their customer account
(a B2B buyer buys for the company). Back-office users are sent to the order's back-office page.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from backoffice.models import CustomerUser, Order, OrderLine
from backoffice.roles import is_backoffice_user
from integrations.models import PaymentMethod
from integrations.types import IntegrationType
from payments.browser_checkout import awaits_buyer, checkout_urls
from payments.checkout_services import CHECKOUT_OPERATIONS, METHOD_UNAVAILABLE
from payments.ledger import PaymentError
from payments.models import Operation, PaymentTransaction, State
from payments.money import format_amount
from payments.services import checkout_for_order, checkout_submit
from payments.status import PaymentStatus
from payments.storefront_forms import CheckoutForm
from rules.evaluation import resolve_methods

# A transaction in one of these states means the order was paid or submitted for payment.
LIVE_STATES = (State.SUCCEEDED, State.PENDING, State.UNKNOWN)


def buyer_of(request: HttpRequest) -> CustomerUser | None:
    return (
        CustomerUser.objects.select_related(
            "customer__group__payment_term", "customer__payment_term"
        )
        .filter(user_id=_user_id(request))
        .first()
    )


def _has_live_payment() -> Exists:
    return Exists(PaymentTransaction.objects.filter(order=OuterRef("pk"), state__in=LIVE_STATES))


def buyer_orders(*, customer_user: CustomerUser) -> QuerySet[Order]:
    """The customer's orders, newest first, each annotated with whether it may be paid now."""
    return (
        Order.objects.filter(customer_id=customer_user.customer_id)
        .select_related("website")
        .annotate(has_live_payment=_has_live_payment())
    )


def _checkout_order(*, user_id: int, number: str) -> Order:
    """Order `number` of the signed-in buyer's customer, with all a checkout reads, or 404.

    Scoped by the buyer's user id in the same query: another customer's order, or a user who
    is no buyer, gets the same 404.
    """
    order = (
        Order.objects.filter(number=number, customer__users__user_id=user_id)
        .annotate(has_live_payment=_has_live_payment())
        .select_related(
            "website",
            "customer__group__payment_term",
            "customer__payment_term",
            "customer_user__user",
            "billing_address",
            "shipping_address",
        )
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("id")))
        .first()
    )
    if order is None:
        raise Http404("No such order.")
    return order


def started_payment(order: Order) -> PaymentTransaction | None:
    """The card or PayPal payment the buyer started for `order` and has not finished, if any."""
    if getattr(order, "has_live_payment", None) is False:
        return None  # no pending row at all: not worth a query
    row = (
        PaymentTransaction.objects.filter(
            order=order, operation__in=CHECKOUT_OPERATIONS, state=State.PENDING
        )
        .order_by("-id")
        .first()
    )
    return row if row is not None and awaits_buyer(row) else None


def awaiting_payment(order: Order) -> bool:
    """No payment went through or may yet go through: as checkout_submit decides.

    A declined order counts too: every attempt failed, and the buyer may try another method.
    """
    has_live = getattr(order, "has_live_payment", None)
    if has_live is None:
        has_live = order.transactions.filter(state__in=LIVE_STATES).exists()
    payable = (PaymentStatus.PENDING, PaymentStatus.DECLINED)
    return order.payment_status in payable and not has_live


def status_label(order: Order) -> str:
    try:
        return PaymentStatus(order.payment_status).label
    except ValueError:
        return order.payment_status


def _backoffice_redirect(request: HttpRequest, number: str) -> HttpResponse | None:
    """Back-office users see an order on its back-office page; None for anyone else."""
    if not is_backoffice_user(request.user):
        return None
    order = Order.objects.filter(number=number).values_list("pk", flat=True).first()
    if order is None:
        raise Http404("No such order.")
    return redirect("orders:detail", pk=order)


def _user_id(request: HttpRequest) -> int:
    return int(request.user.pk or 0)


def storefront_home(request: HttpRequest, customer_user: CustomerUser | None) -> HttpResponse:
    orders = []
    if customer_user is not None:
        for order in buyer_orders(customer_user=customer_user):
            orders.append(
                {
                    "order": order,
                    "total": format_amount(order.total, order.currency),
                    "status_label": status_label(order),
                    "can_pay": awaiting_payment(order),
                }
            )
    return render(
        request, "storefront/home.html", {"customer_user": customer_user, "orders": orders}
    )


@never_cache
@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest, number: str) -> HttpResponse:
    if (elsewhere := _backoffice_redirect(request, number)) is not None:
        return elsewhere
    # The page is read far more often than posted: it finds the order by the buyer's user id
    # and reads the buyer itself only to pay.
    order = _checkout_order(user_id=_user_id(request), number=number)
    if (started := started_payment(order)) is not None:
        return redirect("payments:checkout_pay", number=order.number, pk=started.pk)
    error = ""
    form = CheckoutForm(request.POST or None)
    if request.method == "POST":
        buyer = buyer_of(request)
        if buyer is None:  # the order was found through the buyer: only a concurrent delete
            raise Http404("No such order.")
        if form.is_valid():
            method = (
                PaymentMethod.objects.select_related("integration")
                .filter(pk=form.cleaned_data["method"])
                .first()
            )
            try:
                if method is None:
                    raise PaymentError(METHOD_UNAVAILABLE)
                row = checkout_submit(
                    order=order,
                    method=method,
                    customer_user=buyer,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    urls_for=lambda row: checkout_urls(request, row),
                )
            except PaymentError as refusal:
                error = str(refusal)
            else:
                if awaits_buyer(row):
                    return redirect("payments:checkout_pay", number=order.number, pk=row.pk)
                return redirect("payments:checkout_done", number=order.number)
        else:
            error = " ".join(
                str(message) for messages in form.errors.values() for message in messages
            )
        order = _checkout_order(user_id=_user_id(request), number=number)
    context = _checkout_context(order, error=error, chosen=request.POST.get("method", ""))
    return render(request, "storefront/checkout.html", context, status=400 if error else 200)


def summary_context(order: Order) -> dict[str, Any]:
    """What the order summary beside the checkout and the payment page shows."""
    lines = [
        {
            "line": line,
            "price": format_amount(line.price, order.currency),
            "amount": format_amount(line.price * line.quantity, order.currency),
        }
        for line in order.lines.all()
    ]
    return {
        "order": order,
        "lines": lines,
        "subtotal": format_amount(order.subtotal, order.currency),
        "total": format_amount(order.total, order.currency),
    }


def _checkout_context(order: Order, *, error: str, chosen: str) -> dict[str, Any]:
    can_pay = awaiting_payment(order)
    methods = resolve_methods(checkout_for_order(order)).methods if can_pay else []
    return {
        **summary_context(order),
        "status_label": status_label(order),
        "can_pay": can_pay,
        "methods": methods,
        "error": error,
        "chosen": chosen,
        # A fresh key per rendered page: a double click or a reload-resubmit of this page
        # sends the same key, so checkout_submit answers with the same transaction.
        "idempotency_key": uuid.uuid4().hex,
    }


@never_cache
def checkout_done(request: HttpRequest, number: str) -> HttpResponse:
    if (elsewhere := _backoffice_redirect(request, number)) is not None:
        return elsewhere
    order = _checkout_order(user_id=_user_id(request), number=number)
    payment = (
        PaymentTransaction.objects.filter(order=order, operation__in=CHECKOUT_OPERATIONS)
        .select_related("method__integration")
        .order_by("-id")
        .first()
    )
    if payment is None:
        return redirect("payments:checkout", number=order.number)
    if awaits_buyer(payment):
        return redirect("payments:checkout_pay", number=order.number, pk=payment.pk)
    return render(
        request,
        "storefront/done.html",
        {
            "order": order,
            "payment": payment,
            "amount": format_amount(payment.amount, payment.currency),
            "status_label": status_label(order),
            "result": _result(payment, order),
        },
    )


def _result(payment: PaymentTransaction, order: Order) -> dict[str, str]:
    """What the confirmation page says about `payment`: its outcome and any instructions."""
    if payment.state == State.FAILED:
        return {"kind": "declined", "message": payment.message}
    if payment.state in (State.UNKNOWN, State.PENDING) and payment.operation not in (
        Operation.PENDING,
        Operation.INVOICE,
    ):
        return {"kind": "unknown"}
    if payment.operation == Operation.PENDING:
        # What the adapter answered at submit is the snapshot of the instructions; the
        # integration's settings (kept after deletion, only its secrets are wiped) are the
        # fallback for rows written before the adapter returned them.
        snapshot = payment.response if isinstance(payment.response, dict) else {}
        integration = payment.method.integration
        settings = integration.settings if integration.type == IntegrationType.MONEY_ORDER else {}
        return {
            "kind": "money_order",
            "pay_to": str(snapshot.get("pay_to") or settings.get("pay_to", "")),
            "send_to": str(snapshot.get("send_to") or settings.get("send_to", "")),
        }
    if payment.operation == Operation.INVOICE:
        snapshot = payment.response if isinstance(payment.response, dict) else {}
        term = snapshot.get("payment_term") or payment.note.removeprefix("Payment term: ")
        return {"kind": "invoiced", "term": str(term)}
    if payment.operation == Operation.AUTHORIZE:
        return {"kind": "authorized"}
    return {"kind": "paid"}
