"""Payment writes: capture, cancel, refund, mark received (staff), checkout submit (buyer).

Every money operation follows one shape, so that two staff clicking at once or a retried form
act once: replay the idempotency key, lock the source row, re-check what remains under the lock,
write the ledger row (its unique key settles races), then ask the provider and record its answer.
A decline is a FAILED row that is returned, not raised, so it stays in the ledger; refusals
before anything is written raise PaymentError.

The provider is asked inside the transaction that holds the lock: that is what makes a second
concurrent capture wait and then see the first. The adapter's bounded timeout bounds the wait,
and the idempotency key sent to the provider makes a retry safe if our commit then fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction as db_transaction
from django.utils import timezone

from backoffice.audit import audit_record
from integrations.adapters import adapter_class_for, adapter_for
from integrations.adapters.base import Operation as AdapterOperation
from integrations.types import environment_refusal
from payments import ledger
from payments.checkout_services import checkout_for_order, checkout_submit
from payments.expiry import is_expired
from payments.ledger import Actor, PaymentError, order_refresh_payment_status
from payments.models import Operation, PaymentTransaction, State
from payments.selectors import capturable_amount, refundable_amount

__all__ = [
    "PaymentError",
    "checkout_for_order",
    "checkout_submit",
    "order_refresh_payment_status",
    "payment_cancel",
    "payment_capture",
    "payment_mark_received",
    "payment_refund",
]


def _usable_source(source: PaymentTransaction, operations: tuple[str, ...], what: str) -> None:
    if source.operation not in operations or source.state != State.SUCCEEDED:
        raise PaymentError(f"This payment cannot be {what}.")
    if source.method.integration.is_deleted:
        raise PaymentError(
            f"The integration of this payment was deleted; it cannot be {what} here any more."
        )
    refusal = environment_refusal(source.method.integration.environment)
    if refusal:
        # Test credentials never move money in production (nor live ones in a sandbox), so an
        # old payment made with them is refused before any row is written.
        raise PaymentError(f"{refusal} This payment cannot be {what} here.")


def _require_support(source: PaymentTransaction, operation: AdapterOperation, what: str) -> None:
    adapter_class = adapter_class_for(source.method.integration.type)
    if adapter_class is None or operation not in adapter_class.supports:
        raise PaymentError(f"{source.method_admin_label} payments cannot be {what} here.")


def _require_note(note: str, what: str) -> str:
    note = note.strip()
    if not note:
        raise PaymentError(f"Enter a note saying why the payment is {what}.")
    return note


def _audit(actor: Actor, action: str, row: PaymentTransaction) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=row.order,
        changes={
            "transaction": row.pk,
            "amount": f"{row.amount} {row.currency}",
            "state": row.state,
            **({"note": row.note} if row.note else {}),
        },
    )


def _ask_provider(row: PaymentTransaction, source: PaymentTransaction, operation: str) -> None:
    adapter = adapter_for(source.method.integration)
    call = getattr(adapter, operation)
    ledger.record_answer(
        row,
        lambda: call(
            reference=source.provider_reference,
            amount=row.amount,
            currency=row.currency,
            idempotency_key=row.idempotency_key,
        ),
    )


def _close(source: PaymentTransaction) -> None:
    """Nothing more can be captured on `source` (captured in full, canceled, received)."""
    source.is_open = False
    source.save(update_fields=["is_open", "updated_at"])


@dataclass(frozen=True)
class _Start:
    """What every staff operation knows once it may act: its key and the locked source row."""

    key: str
    source: PaymentTransaction
    earlier: PaymentTransaction | None  # the row a retry of this request already wrote


def _start(
    *,
    actor: Actor,
    permission: str,
    doing: str,
    transaction: PaymentTransaction,
    idempotency_key: str,
    operation: str,
) -> _Start:
    """Check the permission and the key, then lock the source; retries answer from the ledger."""
    ledger.require_permission(actor, permission, doing)
    key = ledger.require_key(idempotency_key)
    # The source with what every operation reads of it (its method, integration and order) in
    # the one locking query: each query is a round trip inside the lock (bench.capture_overhead).
    source = (
        PaymentTransaction.objects.select_for_update(of=("self",))
        .select_related("method__integration", "order")
        .get(pk=transaction.pk)
    )
    # Asked under the lock, and only there: a concurrent request with the same key may have
    # committed while we waited for it (a retry waits only while another one is in flight).
    return _Start(key, source, ledger.replay(key, source=source, operation=operation))


def _write_and_ask(
    start: _Start, operation: AdapterOperation, amount: Decimal, actor: Actor, note: str = ""
) -> tuple[PaymentTransaction, bool]:
    """Write the operation's row (its unique key settles races), then ask the provider once.

    (row, False) when a concurrent request with the same key wrote it first: nothing is asked.
    """
    source = start.source
    row, created = ledger.insert(
        ledger.new_row(
            order=source.order,
            method=source.method,
            operation=operation.value,
            amount=amount,
            currency=source.currency,
            idempotency_key=start.key,
            source=source,
            actor=actor,
            note=note,
        )
    )
    if created:
        _ask_provider(row, source, operation)
    return row, created


@db_transaction.atomic
def payment_capture(
    *,
    transaction: PaymentTransaction,
    amount: str | Decimal,
    actor: Actor,
    idempotency_key: str,
    currency: str | None = None,
) -> PaymentTransaction:
    """Capture all or part of an open authorization (several times where the provider allows)."""
    start = _start(
        actor=actor,
        permission="payments.capture_payment",
        doing="capture payments",
        transaction=transaction,
        idempotency_key=idempotency_key,
        operation=Operation.CAPTURE,
    )
    if start.earlier is not None:
        return start.earlier
    source = start.source
    value = ledger.clean_amount(amount, source.currency, given_currency=currency)
    _usable_source(source, (Operation.AUTHORIZE,), "captured")
    if not source.is_open:
        raise PaymentError("This authorization was already captured in full or canceled.")
    if is_expired(source.authorization_expires_at, timezone.now()):
        assert source.authorization_expires_at is not None
        raise PaymentError(
            f"This authorization expired on {source.authorization_expires_at:%Y-%m-%d}: the "
            "provider has released the hold, so it can no longer be captured."
        )
    _require_support(source, AdapterOperation.CAPTURE, "captured")
    remaining = capturable_amount(source)
    ledger.refuse_above(value, remaining, source.currency, "capture")
    row, created = _write_and_ask(start, AdapterOperation.CAPTURE, value, actor)
    if not created:
        return row
    adapter_class = adapter_class_for(source.provider_type)
    multiple = bool(adapter_class and adapter_class.multiple_captures)
    if row.state == State.SUCCEEDED and (value == remaining or not multiple):
        # Fully captured, or a provider that releases the rest of the hold on a partial capture.
        _close(source)
    order_refresh_payment_status(order=source.order)
    _audit(actor, "payment.captured", row)
    return row


@db_transaction.atomic
def payment_cancel(
    *, transaction: PaymentTransaction, note: str, actor: Actor, idempotency_key: str
) -> PaymentTransaction:
    """Void what remains of an open authorization; the note says why."""
    start = _start(
        actor=actor,
        permission="payments.cancel_payment",
        doing="cancel payments",
        transaction=transaction,
        idempotency_key=idempotency_key,
        operation=Operation.CANCEL,
    )
    if start.earlier is not None:
        return start.earlier
    source = start.source
    note = _require_note(note, "canceled")
    _usable_source(source, (Operation.AUTHORIZE,), "canceled")
    remaining = capturable_amount(source)
    if not source.is_open or remaining <= 0:
        raise PaymentError("This authorization was already captured in full or canceled.")
    _require_support(source, AdapterOperation.CANCEL, "canceled")
    row, created = _write_and_ask(start, AdapterOperation.CANCEL, remaining, actor, note=note)
    if not created:
        return row
    if row.state == State.SUCCEEDED:
        _close(source)
    order_refresh_payment_status(order=source.order)
    _audit(actor, "payment.canceled", row)
    return row


@db_transaction.atomic
def payment_refund(
    *,
    transaction: PaymentTransaction,
    amount: str | Decimal,
    note: str,
    actor: Actor,
    idempotency_key: str,
    currency: str | None = None,
) -> PaymentTransaction:
    """Refund all or part of a captured or charged payment (several refunds allowed)."""
    start = _start(
        actor=actor,
        permission="payments.refund_payment",
        doing="refund payments",
        transaction=transaction,
        idempotency_key=idempotency_key,
        operation=Operation.REFUND,
    )
    if start.earlier is not None:
        return start.earlier
    source = start.source
    value = ledger.clean_amount(amount, source.currency, given_currency=currency)
    note = _require_note(note, "refunded")
    _usable_source(source, (Operation.CAPTURE, Operation.CHARGE), "refunded")
    _require_support(source, AdapterOperation.REFUND, "refunded")
    ledger.refuse_above(value, refundable_amount(source), source.currency, "refund")
    row, created = _write_and_ask(start, AdapterOperation.REFUND, value, actor, note=note)
    if not created:
        return row
    order_refresh_payment_status(order=source.order)
    _audit(actor, "payment.refunded", row)
    return row


@db_transaction.atomic
def payment_mark_received(
    *, transaction: PaymentTransaction, actor: Actor, idempotency_key: str
) -> PaymentTransaction:
    """Record that an offline payment (money order, invoice) arrived in full."""
    start = _start(
        actor=actor,
        permission="payments.capture_payment",
        doing="mark payments received",
        transaction=transaction,
        idempotency_key=idempotency_key,
        operation=Operation.CAPTURE,
    )
    if start.earlier is not None:
        return start.earlier
    source = start.source
    _usable_source(source, (Operation.PENDING, Operation.INVOICE), "marked received")
    if not source.is_open:
        raise PaymentError("This payment was already marked received.")
    _require_support(source, AdapterOperation.CAPTURE, "marked received")
    row, created = _write_and_ask(start, AdapterOperation.CAPTURE, source.amount, actor)
    if not created:
        return row
    if row.state == State.SUCCEEDED:
        _close(source)
    order_refresh_payment_status(order=source.order)
    _audit(actor, "payment.marked_received", row)
    return row
