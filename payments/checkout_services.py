"""The buyer's side of payment: the checkout an order shows the rules, and submitting it.

A submit re-checks the method against the rules (they may have changed since the page was
shown), allows one live payment per order, and is idempotent on the form's key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from django.db import transaction as db_transaction
from django.utils import timezone

from backoffice.models import Address as OrderAddress
from backoffice.models import CustomerUser, Order
from integrations.adapters import adapter_class_for, adapter_for
from integrations.adapters.base import (
    BillingData,
    CheckoutUrls,
    PaymentAdapter,
    PaymentNotTaken,
    PaymentRequest,
    ProviderError,
)
from integrations.adapters.base import Operation as AdapterOperation
from integrations.models import PaymentMethod
from integrations.types import PaymentAction
from payments import ledger
from payments.expiry import authorization_expires_at
from payments.ledger import PaymentError, order_refresh_payment_status
from payments.models import Operation, PaymentTransaction, State
from payments.status import PaymentStatus
from rules.evaluation import Address, Checkout, LineItem, resolve_methods
from rules.services import rules_lock_for_checkout

logger = logging.getLogger(__name__)

METHOD_UNAVAILABLE = (
    "The selected payment method is no longer available. Please select a different payment method."
)

# The ledger operation and the adapter call for each payment action a method may have.
_CHECKOUT_OPERATIONS: dict[str, tuple[Operation, AdapterOperation]] = {
    PaymentAction.PENDING: (Operation.PENDING, AdapterOperation.PURCHASE),
    PaymentAction.INVOICE: (Operation.INVOICE, AdapterOperation.PURCHASE),
    PaymentAction.AUTHORIZE: (Operation.AUTHORIZE, AdapterOperation.AUTHORIZE),
    PaymentAction.CHARGE: (Operation.CHARGE, AdapterOperation.CHARGE),
}
CHECKOUT_OPERATIONS = frozenset(op for op, _ in _CHECKOUT_OPERATIONS.values())


def checkout_for_order(order: Order) -> Checkout:
    """The checkout that payment rules see for `order`."""
    customer = order.customer
    group = customer.group
    term = customer.effective_payment_term()
    customer_user = order.customer_user

    def address(row: OrderAddress | None) -> Address:
        if row is None:
            return Address()
        return Address(
            country=str(row.country),
            region=row.region,
            postal_code=row.postal_code,
            city=row.city,
        )

    return Checkout(
        currency=order.currency,
        total=order.total,
        subtotal=order.subtotal,
        website_id=order.website_id,
        website_code=order.website.code,
        website_name=order.website.name,
        customer_id=customer.pk,
        customer_name=customer.name,
        customer_group_id=group.pk if group else None,
        customer_group_name=group.name if group else "",
        customer_user_id=customer_user.pk if customer_user else None,
        customer_user_email=customer_user.user.email if customer_user else "",
        payment_term=term.label if term else "",
        billing_address=address(order.billing_address),
        shipping_address=address(order.shipping_address),
        line_items=tuple(
            LineItem(sku=line.sku, quantity=line.quantity, price=line.price)
            for line in order.lines.all()
        ),
    )


def _refuse_if_already_paid(order: Order) -> None:
    """One live payment per order: only declined attempts may be followed by another."""
    rows = order.transactions.filter(state__in=(State.SUCCEEDED, State.PENDING, State.UNKNOWN))
    if not rows.exists():
        return
    if rows.filter(state__in=(State.PENDING, State.UNKNOWN)).exists():
        raise PaymentError(
            "A payment for this order is still being confirmed; it cannot be paid again now."
        )
    label = PaymentStatus(order.payment_status).label if order.payment_status else ""
    raise PaymentError(f"This order has already been paid or submitted for payment ({label}).")


@db_transaction.atomic
def checkout_submit(
    *,
    order: Order,
    method: PaymentMethod,
    customer_user: CustomerUser,
    idempotency_key: str,
    urls_for: Callable[[PaymentTransaction], CheckoutUrls] | None = None,
) -> PaymentTransaction:
    """Pay for `order` with `method` as the buyer; a retry with the same key gets the same row.

    Offline methods and server-side adapters answer at once. A browser-step adapter (cards,
    PayPal) leaves the row pending with the provider's payment started; `urls_for(row)` gives
    the addresses the buyer's browser comes back to (see `payments.browser_checkout`).
    """
    key = ledger.require_key(idempotency_key)
    if customer_user.customer_id != order.customer_id:
        raise PaymentError("This order belongs to another customer.")
    # Serialises submits for one order (double clicks with fresh keys, two tabs).
    ledger.lock_order(order)
    order.refresh_from_db()
    earlier = ledger.replay(
        key, order=order, method=method, source=None, operation=CHECKOUT_OPERATIONS
    )
    if earlier is not None:
        return earlier
    _refuse_if_already_paid(order)
    rules_lock_for_checkout()
    term = order.customer.effective_payment_term()
    if method.payment_action == PaymentAction.INVOICE and term is None:
        raise PaymentError(
            "Your account has no payment term, so it cannot be invoiced. "
            "Please select a different payment method."
        )
    offered = resolve_methods(checkout_for_order(order)).methods
    if method.pk not in {m.pk for m in offered}:
        raise PaymentError(METHOD_UNAVAILABLE)
    operation, adapter_operation = _CHECKOUT_OPERATIONS[method.payment_action]
    adapter_class = adapter_class_for(method.integration.type)
    if adapter_class is None or adapter_operation not in adapter_class.supports:
        raise PaymentError(
            f"{method.label} cannot take payments yet. Please select a different payment method."
        )
    amount = ledger.clean_amount(order.total, order.currency)
    request = payment_request(
        order=order,
        method=method,
        amount=amount,
        idempotency_key=key,
        email=customer_user.user.email,
    )
    if adapter_class.browser_step and urls_for is None:
        raise PaymentError(f"{method.label} needs the payment page. Please try again.")
    row, created = ledger.insert(
        ledger.new_row(
            order=order,
            method=method,
            operation=operation,
            amount=amount,
            currency=order.currency,
            idempotency_key=key,
            customer_user=customer_user,
            note=f"Payment term: {term.label}" if operation == Operation.INVOICE and term else "",
            request=ledger.request_data(request),
        )
    )
    if not created:
        return row
    adapter = adapter_for(method.integration)
    if adapter_class.browser_step:
        assert urls_for is not None
        _begin(row, adapter, request, urls_for(row))
        return row
    call = getattr(adapter, adapter_operation.value)
    ledger.record_answer(row, lambda: call(request))
    if row.state == State.PENDING and operation in (Operation.PENDING, Operation.INVOICE):
        # The offline record itself succeeded; it stays open until staff mark it received.
        row.state = State.SUCCEEDED
    checkout_settle(row)
    return row


def checkout_settle(row: PaymentTransaction) -> None:
    """Save a checkout row's answer: what stays open, when it expires, the order's status."""
    if row.state == State.SUCCEEDED and row.operation != Operation.CHARGE:
        row.is_open = True
    if row.state == State.SUCCEEDED and row.operation == Operation.AUTHORIZE:
        row.authorization_expires_at = authorization_expires_at(row.provider_type, timezone.now())
    row.save()
    order_refresh_payment_status(order=row.order)


def _begin(
    row: PaymentTransaction, adapter: PaymentAdapter, request: PaymentRequest, urls: CheckoutUrls
) -> None:
    """Start the browser step; the row stays pending until the buyer comes back.

    Nothing can be charged before the buyer's browser completes the step, so a provider that
    cannot start it leaves a failed row (the buyer may retry), not an unknown one.
    """
    try:
        step = adapter.begin(request, urls)
    except Exception as error:
        if not isinstance(error, ProviderError):
            logger.exception("Starting the payment step failed for transaction %s", row.pk)
        row.state = State.FAILED
        row.message = begin_refusal(error)
        row.response = {"error": str(error)[:500] if isinstance(error, ProviderError) else ""}
        row.save()
        order_refresh_payment_status(order=row.order)
        return
    row.provider_reference = step.reference[:255]
    row.response = step.raw
    row.save()
    order_refresh_payment_status(order=row.order)


def begin_refusal(error: Exception) -> str:
    """What the buyer reads when the provider would not start a payment; nothing was charged."""
    if isinstance(error, PaymentNotTaken):
        # Refused by the adapter itself, without asking the provider: its words say why.
        return f"{error} Nothing was charged. Please select a different payment method."
    if isinstance(error, ProviderError) and error.permanent:
        # The provider answered and refused (an amount or currency it does not take).
        return (
            f"The payment provider refused this payment ({error}), so nothing was charged. "
            "Please select a different payment method."
        )
    return (
        "We could not reach the payment provider, so nothing was charged. "
        "Please try again or select a different payment method."
    )


def payment_request(
    *, order: Order, method: PaymentMethod, amount: Decimal, idempotency_key: str, email: str
) -> PaymentRequest:
    """The plain data an adapter receives for paying `order` with `method`."""
    billing = order.billing_address
    term = order.customer.effective_payment_term()
    return PaymentRequest(
        order_number=order.number,
        amount=amount,
        currency=order.currency,
        idempotency_key=idempotency_key,
        method_identifier=method.identifier,
        payment_action=method.payment_action,
        method_kind=method.kind,
        customer_name=order.customer.name,
        billing=BillingData(
            name=billing.name if billing else "",
            email=email,
            street=billing.street if billing else "",
            city=billing.city if billing else "",
            postal_code=billing.postal_code if billing else "",
            region=billing.region if billing else "",
            country=str(billing.country) if billing else "",
        ),
        payment_term=term.label if term else "",
    )


def request_of(row: PaymentTransaction) -> PaymentRequest:
    """The request a checkout row was written with, rebuilt from its ledger snapshot."""
    data = dict(row.request)
    billing = BillingData(**data.pop("billing", {}))
    return PaymentRequest(**{**data, "amount": Decimal(str(data["amount"])), "billing": billing})
