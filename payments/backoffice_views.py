"""Sales › Orders: the orders list, an order's payment history, and its row actions."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from backoffice.models import Order
from backoffice.roles import backoffice_view
from payments import order_selectors, selectors, services
from payments.backoffice_forms import (
    CancelForm,
    CaptureForm,
    MarkReceivedForm,
    OrderFilterForm,
    PaymentActionForm,
    RefundForm,
    new_idempotency_key,
)
from payments.models import Operation, PaymentTransaction, State
from payments.money import format_amount, round_amount
from payments.status import STATUS_LABELS, PaymentStatus

PAGE_SIZE = 25
VIEW = "payments.view_payment_history"

ACTION_FORMS: dict[str, type[PaymentActionForm]] = {
    selectors.CAPTURE: CaptureForm,
    selectors.CANCEL: CancelForm,
    selectors.REFUND: RefundForm,
    selectors.MARK_RECEIVED: MarkReceivedForm,
}
ACTION_PERMISSIONS = {
    selectors.CAPTURE: "payments.capture_payment",
    selectors.CANCEL: "payments.cancel_payment",
    selectors.REFUND: "payments.refund_payment",
    selectors.MARK_RECEIVED: "payments.capture_payment",
}
ACTION_DONE = {
    selectors.CAPTURE: "captured",
    selectors.CANCEL: "canceled",
    selectors.REFUND: "refunded",
    selectors.MARK_RECEIVED: "marked received",
}
ACTION_TITLES = {
    selectors.CAPTURE: "Capture",
    selectors.CANCEL: "Cancel authorization",
    selectors.REFUND: "Refund",
    selectors.MARK_RECEIVED: "Mark received",
}


def status_label(value: str) -> str:
    try:
        return STATUS_LABELS[PaymentStatus(value)]
    except ValueError:
        return value


@dataclass
class OrderRow:
    order: Order
    status_label: str
    total: str


@backoffice_view(VIEW)
def order_list(request: HttpRequest) -> HttpResponse:
    filters = OrderFilterForm(request.GET)
    values = filters.cleaned_data if filters.is_valid() else {}
    sort = values.get("sort") or order_selectors.DEFAULT_SORT
    now = timezone.now()
    website = values.get("website")
    orders = order_selectors.order_list(
        now=now,
        status=values.get("status", ""),
        method=values.get("method", "").strip(),
        website=website.pk if website else None,
        awaiting_capture=values.get("awaiting_capture", False),
        expires_within_days=values.get("expires_within"),
        sort=sort,
    )
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        OrderRow(
            order, status_label(order.payment_status), format_amount(order.total, order.currency)
        )
        for order in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    sort_query = query.copy()
    sort_query.pop("sort", None)
    filtered = any(request.GET.get(name) for name in filters.fields if name != "sort")
    return render(
        request,
        "orders/list.html",
        {
            "page": page,
            "rows": rows,
            "filters": filters,
            "filtered": filtered,
            "sort": sort,
            "now": now,
            "query": query.urlencode(),
            "sort_query": sort_query.urlencode(),
            "columns": [
                ("number", "Order"),
                ("customer", "Customer"),
                ("website", "Website"),
                ("total", "Total"),
                ("status", "Payment status"),
                ("method", "Payment method"),
                ("expiry", "Authorization expires"),
            ],
        },
    )


@dataclass
class HistoryRow:
    transaction: PaymentTransaction
    actions: set[str]
    expired: bool
    amount_display: str
    mark_received_key: str = ""


@dataclass
class ActionPanel:
    action: str
    transaction: PaymentTransaction
    form: PaymentActionForm
    title: str
    button: str
    summary: str
    confirming: bool = False
    confirm_amount: str = ""


def _order(pk: int) -> Order:
    return get_object_or_404(
        Order.objects.select_related(
            "customer", "website", "billing_address", "shipping_address"
        ).prefetch_related("lines"),
        pk=pk,
    )


def _history(order: Order, request: HttpRequest) -> list[HistoryRow]:
    return [
        HistoryRow(
            transaction=tx,
            actions=selectors.available_actions(transaction=tx, user=request.user),
            expired=tx.operation == Operation.AUTHORIZE
            and tx.is_open
            and selectors.authorization_is_expired(tx),
            amount_display=format_amount(tx.amount, tx.currency),
            mark_received_key=new_idempotency_key(),
        )
        for tx in selectors.order_payment_history(order=order)
    ]


def _panel(action: str, tx: PaymentTransaction, form: PaymentActionForm) -> ActionPanel:
    title = ACTION_TITLES[action]
    return ActionPanel(
        action=action,
        transaction=tx,
        form=form,
        title=f"{title} payment #{tx.pk}",
        button=f"{title}…" if action == selectors.CAPTURE else title,
        summary=f"{tx.method_admin_label} · {tx.get_operation_display()} of "
        f"{format_amount(tx.amount, tx.currency)}",
    )


def _initial(action: str, tx: PaymentTransaction) -> dict[str, Any]:
    if action == selectors.CAPTURE:
        return {"amount": round_amount(selectors.capturable_amount(tx), tx.currency)}
    if action == selectors.REFUND:
        return {"amount": round_amount(selectors.refundable_amount(tx), tx.currency)}
    return {}


def _render_detail(
    request: HttpRequest,
    order: Order,
    history: list[HistoryRow],
    panel: ActionPanel | None = None,
    status: int = 200,
) -> HttpResponse:
    lines = list(order.lines.all())
    return render(
        request,
        "orders/detail.html",
        {
            "order": order,
            "status_label": status_label(order.payment_status),
            "lines": [
                (line, format_amount(line.price * line.quantity, order.currency)) for line in lines
            ],
            "subtotal": format_amount(order.subtotal, order.currency),
            "total": format_amount(order.total, order.currency),
            "history": history,
            "panel": panel,
        },
        status=status,
    )


@backoffice_view(VIEW)
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    history = _history(order, request)
    panel = None
    action = request.GET.get("action", "")
    chosen = request.GET.get("transaction", "")
    row = next((r for r in history if str(r.transaction.pk) == chosen), None)
    if row is not None and action in row.actions and action != selectors.MARK_RECEIVED:
        tx = row.transaction
        form = ACTION_FORMS[action](currency=tx.currency, initial=_initial(action, tx))
        panel = _panel(action, tx, form)
    return _render_detail(request, order, history, panel)


@require_POST
@backoffice_view(VIEW)
def order_payment_action(
    request: HttpRequest, pk: int, transaction_pk: int, action: str
) -> HttpResponse:
    if action not in ACTION_FORMS:
        raise Http404
    if not request.user.has_perm(ACTION_PERMISSIONS[action]):
        raise PermissionDenied
    order = _order(pk)
    tx = get_object_or_404(
        PaymentTransaction.objects.select_related("method__integration"),
        pk=transaction_pk,
        order=order,
    )
    form = ACTION_FORMS[action](request.POST, currency=tx.currency)
    panel = _panel(action, tx, form)
    if not form.is_valid():
        if action == selectors.CAPTURE:
            panel = _panel(action, tx, _capture_amount_step(request, tx))
        return _render_detail(request, order, _history(order, request), panel, status=400)
    data = form.cleaned_data
    if action == selectors.CAPTURE and not data.get("confirmed"):
        # The confirmation step: same key, so confirming twice still captures once.
        confirm = CaptureForm(
            currency=tx.currency,
            initial={
                "amount": data["amount"],
                "currency": data.get("currency", ""),
                "idempotency_key": data["idempotency_key"],
                "confirmed": True,
            },
        )
        panel = _panel(action, tx, confirm)
        panel.confirming = True
        panel.confirm_amount = format_amount(data["amount"], tx.currency)
        return _render_detail(request, order, _history(order, request), panel)
    try:
        row = _perform(action, tx, data, request)
    except services.PaymentError as error:
        field = "amount" if action in (selectors.CAPTURE, selectors.REFUND) else None
        if action == selectors.CAPTURE:
            form = _capture_amount_step(request, tx)
            panel = _panel(action, tx, form)
        form.add_error(field, str(error))
        return _render_detail(request, order, _history(order, request), panel, status=400)
    amount = format_amount(row.amount, row.currency)
    if row.state == State.SUCCEEDED:
        messages.success(
            request, f"The payment of {amount} has been {ACTION_DONE[action]} successfully."
        )
    elif row.state == State.FAILED:
        messages.error(
            request,
            f"The provider refused: {row.message or 'no reason given'}. "
            f"Nothing was {ACTION_DONE[action]}.",
        )
    else:
        messages.warning(
            request,
            f"The provider did not answer clearly; payment #{row.pk} is recorded as "
            f"{row.get_state_display().lower()} until reconciliation settles it.",
        )
    return redirect("orders:detail", pk=order.pk)


def _capture_amount_step(request: HttpRequest, tx: PaymentTransaction) -> CaptureForm:
    """The posted capture form, back at the amount step so a correction is confirmed again."""
    again = request.POST.copy()
    again.pop("confirmed", None)
    form = CaptureForm(again, currency=tx.currency)
    form.is_valid()
    return form


def _perform(
    action: str, tx: PaymentTransaction, data: dict[str, Any], request: HttpRequest
) -> PaymentTransaction:
    actor: Any = request.user
    key: str = data["idempotency_key"]
    amount: Decimal | None = data.get("amount")
    currency: str | None = data.get("currency") or None
    if action == selectors.CAPTURE:
        assert amount is not None
        return services.payment_capture(
            transaction=tx, amount=amount, actor=actor, idempotency_key=key, currency=currency
        )
    if action == selectors.CANCEL:
        return services.payment_cancel(
            transaction=tx, note=data["note"], actor=actor, idempotency_key=key
        )
    if action == selectors.REFUND:
        assert amount is not None
        return services.payment_refund(
            transaction=tx,
            amount=amount,
            note=data["note"],
            actor=actor,
            idempotency_key=key,
            currency=currency,
        )
    return services.payment_mark_received(transaction=tx, actor=actor, idempotency_key=key)
