"""Writing ledger rows: snapshots, the idempotency key, and recording a provider's answer.

Used by payments.services only; views call the services.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Model

from backoffice.models import CustomerUser, Order
from integrations.adapters.base import ProviderError, ProviderResult, ResultState
from integrations.models import PaymentMethod
from payments.models import PaymentTransaction, State
from payments.money import MoneyError, format_amount, is_currency, parse_amount
from payments.status import LedgerRow, PaymentStatus, payment_status

logger = logging.getLogger(__name__)

Actor = User | AnonymousUser


class PaymentError(Exception):
    """A payment operation refused before anything was written; the message is for the user."""


def require_permission(actor: Actor, permission: str, what: str) -> None:
    if not actor.has_perm(permission):
        raise PermissionDenied(f"You do not have permission to {what}.")


def require_key(idempotency_key: str) -> str:
    key = idempotency_key.strip()
    if not key or len(key) > 128:
        # A programming error in the caller (the key comes from a hidden form field).
        raise PaymentError("The request is missing its idempotency key; please reload the page.")
    return key


def clean_amount(
    value: str | Decimal, currency: str, *, given_currency: str | None = None
) -> Decimal:
    """`value` validated for `currency` (its decimals, positive, not absurd), or PaymentError."""
    if not is_currency(currency):
        raise PaymentError(f"{currency!r} is not a currency we can take payments in.")
    if given_currency is not None and given_currency.upper() != currency.upper():
        raise PaymentError(
            f"This payment is in {currency}; an amount in {given_currency} cannot apply."
        )
    try:
        return parse_amount(value, currency)
    except MoneyError as error:
        raise PaymentError(str(error)) from None


def refuse_above(amount: Decimal, limit: Decimal, currency: str, what: str) -> None:
    if amount > limit:
        if limit <= 0:
            raise PaymentError(f"Nothing is left to {what}.")
        raise PaymentError(
            f"You can {what} at most {format_amount(limit, currency)}; "
            f"{format_amount(amount, currency)} is too much."
        )


def lock(row: PaymentTransaction) -> PaymentTransaction:
    """The row re-read under a lock: concurrent operations on one source run one at a time."""
    return PaymentTransaction.objects.select_for_update().get(pk=row.pk)


def lock_order(order: Order) -> None:
    Order.objects.select_for_update().filter(pk=order.pk).values_list("pk").get()


def replay(idempotency_key: str, **expected: Any) -> PaymentTransaction | None:
    """The row an earlier request with this key wrote, if any (a retry gets it back).

    A key reused for a different request is refused rather than answered with another row.
    """
    row = PaymentTransaction.objects.filter(idempotency_key=idempotency_key).first()
    if row is None:
        return None
    for field, value in expected.items():
        actual = getattr(row, field)
        if isinstance(value, Model):
            actual, value = getattr(row, f"{field}_id"), value.pk
        if isinstance(value, tuple | frozenset | set):
            mismatch = actual not in value
        else:
            mismatch = actual != value
        if mismatch:
            raise PaymentError("This request was already used for a different payment operation.")
    return row


def new_row(
    *,
    order: Order,
    method: PaymentMethod,
    operation: str,
    amount: Decimal,
    currency: str,
    idempotency_key: str,
    source: PaymentTransaction | None = None,
    actor: Actor | None = None,
    customer_user: CustomerUser | None = None,
    note: str = "",
    request: dict[str, Any] | None = None,
) -> PaymentTransaction:
    return PaymentTransaction(
        order=order,
        method=method,
        method_label=method.label,
        method_short_label=method.short_label,
        method_admin_label=method.admin_label,
        provider_type=method.integration.type,
        operation=operation,
        amount=amount,
        currency=currency,
        state=State.PENDING,
        source=source,
        idempotency_key=idempotency_key,
        actor=actor if isinstance(actor, User) else None,
        customer_user=customer_user,
        note=note,
        request=request or {},
    )


def insert(row: PaymentTransaction) -> tuple[PaymentTransaction, bool]:
    """Save `row` before the provider is asked; (the existing row, False) if the key won a race."""
    try:
        # A savepoint, so the enclosing transaction survives the unique-key violation.
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return PaymentTransaction.objects.get(idempotency_key=row.idempotency_key), False
    return row, True


def request_data(request: object) -> dict[str, Any]:
    """A dataclass request as JSON for the ledger (plain data, nothing secret in it)."""
    assert dataclasses.is_dataclass(request) and not isinstance(request, type)
    return {
        key: str(value) if isinstance(value, Decimal) else value
        for key, value in dataclasses.asdict(request).items()
    }


def record_answer(row: PaymentTransaction, call: Callable[[], ProviderResult]) -> None:
    """Ask the provider and write its answer on `row`; a fault leaves the row UNKNOWN."""
    try:
        result = call()
    except ProviderError as error:
        _record_unknown(row, str(error))
    except Exception as error:
        # A timeout or a bug in an adapter: the provider may have acted, so say so rather
        # than rolling the row back and losing track of the money.
        logger.exception("Payment provider call failed for transaction %s", row.pk)
        _record_unknown(row, type(error).__name__)
    else:
        if names_another_row(row, result):
            logger.warning("Transaction %s was answered with another row's reference", row.pk)
            _record_unknown(row, f"the answer named an earlier {row.operation}")
            row.save()
            return
        row.state = _state_of(result)
        # An answer without a reference (a buyer who has not finished) keeps the one we had.
        row.provider_reference = (result.reference or row.provider_reference)[:255]
        row.message = result.message[:500]
        row.response = result.raw
    row.save()


def names_another_row(row: PaymentTransaction, result: ProviderResult) -> bool:
    """Whether a success names a reference another row already holds (the same operation on this
    row's source, or for a new payment any row at the provider): a provider or proxy replaying
    an earlier answer, so nothing says this operation was done."""
    if not result.reference or _state_of(result) != State.SUCCEEDED:
        return False
    same = PaymentTransaction.objects.filter(provider_reference=result.reference[:255])
    if row.source_id is not None:
        same = same.filter(source_id=row.source_id, operation=row.operation)
    else:
        # A new payment's reference: no other row at this provider may hold it yet.
        same = same.filter(provider_type=row.provider_type)
    return same.exclude(pk=row.pk).exists()


def _state_of(result: ProviderResult) -> str:
    if not result.ok or result.state == ResultState.FAILED:
        return State.FAILED
    if result.state == ResultState.PENDING:
        return State.PENDING
    return State.SUCCEEDED


def _record_unknown(row: PaymentTransaction, detail: str) -> None:
    row.state = State.UNKNOWN
    row.message = (
        "The payment provider did not give a clear answer "
        f"({detail}). The payment may or may not have gone through; "
        "it stays marked unknown until it is reconciled."
    )[:500]
    row.response = {"error": detail[:500]}


def order_refresh_payment_status(*, order: Order) -> PaymentStatus:
    """Recompute the order's payment status from its ledger and store it for filtering."""
    rows = [
        LedgerRow(
            operation=operation,
            amount=amount,
            successful=state == State.SUCCEEDED,
            # An unknown or pending attempt is not a decline: the money may yet move.
            is_open=is_open or state in (State.PENDING, State.UNKNOWN),
        )
        for operation, amount, state, is_open in PaymentTransaction.objects.filter(
            order=order
        ).values_list("operation", "amount", "state", "is_open")
    ]
    status = payment_status(rows, order.total)
    if order.payment_status != status:
        Order.objects.filter(pk=order.pk).update(payment_status=status)
        order.payment_status = status
    return status
