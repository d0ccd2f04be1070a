"""Reconciliation: settle ledger rows whose outcome we never learnt, by asking the provider.

An `unknown` row (a timeout, a garbled answer) or a checkout left `pending` by a buyer who never
came back is looked up with the adapter's read-only `inquire()`; what the provider says happened
is recorded on the row. Nothing is charged, captured or executed here. A provider that cannot
tell yet is asked again on a schedule (RETRY_DELAYS); after the last one the row is flagged for a
person. Each row is settled in its own transaction under a row lock that concurrent runs skip.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction as db_transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from integrations.adapters import ADAPTERS, adapter_for
from integrations.adapters.base import Inquiry, ProviderError, ProviderResult, ResultState
from integrations.adapters.base import Operation as AdapterOperation
from integrations.types import environment_refusal
from payments import ledger
from payments.checkout_services import CHECKOUT_OPERATIONS, checkout_settle, request_of
from payments.models import Operation, PaymentTransaction, Reconciliation, State
from payments.selectors import capturable_amount

logger = logging.getLogger(__name__)

# After each unanswered attempt, the wait before the next; after the last, a person looks.
RETRY_DELAYS = (timedelta(minutes=5), timedelta(hours=1), timedelta(days=1))
# A checkout still pending this long after it started: the buyer is not coming back.
STALE_CHECKOUT_AFTER = timedelta(minutes=30)
# An unknown row is first asked about this long after its call gave up: a provider still working
# on the request we stopped waiting for would otherwise be reported as never having received it.
UNKNOWN_SETTLE_AFTER = timedelta(minutes=2)
SETTLED_PREFIX = "Settled by reconciliation: "
_ADAPTER_OPERATIONS = {
    Operation.AUTHORIZE: AdapterOperation.AUTHORIZE,
    Operation.CHARGE: AdapterOperation.CHARGE,
    Operation.CAPTURE: AdapterOperation.CAPTURE,
    Operation.CANCEL: AdapterOperation.CANCEL,
    Operation.REFUND: AdapterOperation.REFUND,
}


class Outcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNSETTLED = "unsettled"  # the provider could not tell yet: asked again later
    FLAGGED = "flagged"  # unsettled after the whole schedule: a person must look
    SKIPPED = "skipped"  # settled meanwhile, or being reconciled by a concurrent run


@dataclass
class Summary:
    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    flagged: list[PaymentTransaction] = field(default_factory=list)


def rows_to_reconcile(
    *, now: datetime, stale_after: timedelta = STALE_CHECKOUT_AFTER
) -> QuerySet[PaymentTransaction]:
    """Unknown rows (after UNKNOWN_SETTLE_AFTER) and checkout rows pending since before
    `now - stale_after`, whose next attempt is due."""
    unsettled = Q(
        state=State.UNKNOWN,
        operation__in=list(_ADAPTER_OPERATIONS),
        updated_at__lte=now - UNKNOWN_SETTLE_AFTER,
    ) | Q(
        state=State.PENDING,
        operation__in=(Operation.AUTHORIZE, Operation.CHARGE),
        created_at__lte=now - stale_after,
    )
    due = Q(reconciliation__isnull=True) | Q(
        reconciliation__needs_person=False, reconciliation__next_attempt_at__lte=now
    )
    return (
        PaymentTransaction.objects.filter(unsettled, due, provider_type__in=list(ADAPTERS))
        .order_by("id")
        .only("pk")
    )


def payments_reconcile(
    *,
    now: datetime | None = None,
    stale_after: timedelta = STALE_CHECKOUT_AFTER,
    progress: Callable[[Iterable[int], int], Iterable[int]] | None = None,
) -> Summary:
    """Settle every due unknown row and stale pending checkout from what its provider says."""
    now = now or timezone.now()
    pks = list(rows_to_reconcile(now=now, stale_after=stale_after).values_list("pk", flat=True))
    summary = Summary()
    for pk in progress(pks, len(pks)) if progress else pks:
        outcome, row = payment_reconcile(pk=pk, now=now, stale_after=stale_after)
        summary.counts[outcome] += 1
        if outcome is Outcome.FLAGGED and row is not None:
            summary.flagged.append(row)
    return summary


def flagged_rows() -> QuerySet[PaymentTransaction]:
    """Every row reconciliation gave up on and that is still unsettled."""
    return (
        PaymentTransaction.objects.filter(
            reconciliation__needs_person=True, state__in=(State.UNKNOWN, State.PENDING)
        )
        .select_related("order", "reconciliation")
        .order_by("id")
    )


@db_transaction.atomic
def payment_reconcile(
    *, pk: int, now: datetime, stale_after: timedelta = STALE_CHECKOUT_AFTER
) -> tuple[Outcome, PaymentTransaction | None]:
    """Ask the provider about one row and record its answer, or schedule the next attempt."""
    # skip_locked: a row another run (or a buyer's return, a webhook) holds is theirs to settle.
    row = (
        PaymentTransaction.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("method__integration", "order", "source")
        .filter(pk=pk)
        .first()
    )
    # Asked again under the lock: settled or rescheduled meanwhile, it is not ours any more.
    if (
        row is None
        or not rows_to_reconcile(now=now, stale_after=stale_after).filter(pk=pk).exists()
    ):
        return Outcome.SKIPPED, None
    schedule, _ = Reconciliation.objects.get_or_create(transaction=row)
    if row.method.integration.is_deleted:
        return _unsettled(row, schedule, now, "its integration was deleted", flag=True), row
    refusal = environment_refusal(row.method.integration.environment)
    if refusal:
        # Its credentials never answer here (test ones in production): a person settles it.
        return _unsettled(row, schedule, now, f"not asked: {refusal}", flag=True), row
    try:
        result = _ask(row)
    except Exception as error:
        if not isinstance(error, ProviderError):
            logger.exception("Reconciliation could not ask about transaction %s", row.pk)
        return _unsettled(row, schedule, now, str(error) or type(error).__name__), row
    if result.state is ResultState.PENDING:
        return _unsettled(row, schedule, now, result.message or "the provider cannot tell"), row
    if ledger.names_another_row(row, result):
        # The provider's answer is another row's (a replayed answer recorded there): which of
        # the two it made is for a person to tell, not for us to record twice.
        why = "the provider names a reference another row of this payment already holds"
        return _unsettled(row, schedule, now, why, flag=True), row
    _settle(row, result)
    schedule.attempts += 1
    schedule.last_attempt_at = now
    schedule.next_attempt_at = None
    schedule.last_answer = row.message
    schedule.save()
    return (Outcome.SUCCEEDED if row.state == State.SUCCEEDED else Outcome.FAILED), row


def inquiry_for(row: PaymentTransaction) -> Inquiry:
    """What `inquire()` is asked about `row`: the reference its operation acted on."""
    known: tuple[str, ...] = ()
    if row.operation in CHECKOUT_OPERATIONS:
        reference = row.provider_reference
    else:
        reference = row.source.provider_reference if row.source else ""
        known = tuple(
            PaymentTransaction.objects.filter(source=row.source_id, operation=row.operation)
            .exclude(pk=row.pk)
            .exclude(provider_reference="")
            .values_list("provider_reference", flat=True)
        )
    return Inquiry(
        operation=_ADAPTER_OPERATIONS[Operation(row.operation)],
        reference=reference,
        amount=row.amount,
        currency=row.currency,
        idempotency_key=row.idempotency_key,
        order_number=row.order.number,
        method_kind=row.method.kind,
        answer_lost=row.state == State.UNKNOWN,
        known_references=known,
    )


def _ask(row: PaymentTransaction) -> ProviderResult:
    adapter = adapter_for(row.method.integration)
    result = adapter.inquire(inquiry_for(row))
    if (
        result.state is ResultState.PENDING
        and row.state == State.PENDING
        and row.operation in CHECKOUT_OPERATIONS
        and adapter.reconcile_abandons
    ):
        # The buyer never finished: give the payment up at the provider, which answers what
        # was paid after all (a return that never reached us) or that nothing was.
        result = adapter.abandon(request_of(row), reference=row.provider_reference)
    return result


def _settle(row: PaymentTransaction, result: ProviderResult) -> None:
    row.state = State.SUCCEEDED if result.state is ResultState.SUCCEEDED else State.FAILED
    row.provider_reference = (result.reference or row.provider_reference)[:255]
    said = result.message or f"the provider reports this {row.operation} {row.state}."
    row.message = f"{SETTLED_PREFIX}{said}"[:500]
    row.response = result.raw
    if row.operation in CHECKOUT_OPERATIONS:
        checkout_settle(row)
        return
    row.save()
    source = row.source
    if row.state == State.SUCCEEDED and source is not None and source.is_open:
        closes = row.operation == Operation.CANCEL
        if row.operation == Operation.CAPTURE:
            adapter_class = ADAPTERS.get(source.provider_type)
            multiple = bool(adapter_class and adapter_class.multiple_captures)
            closes = not multiple or capturable_amount(source) <= 0
        if closes:
            source.is_open = False
            source.save(update_fields=["is_open", "updated_at"])
    ledger.order_refresh_payment_status(order=row.order)


def _unsettled(
    row: PaymentTransaction,
    schedule: Reconciliation,
    now: datetime,
    why: str,
    *,
    flag: bool = False,
) -> Outcome:
    schedule.attempts += 1
    schedule.last_attempt_at = now
    schedule.last_answer = why[:500]
    if flag or schedule.attempts > len(RETRY_DELAYS):
        schedule.needs_person = True
        schedule.next_attempt_at = None
    else:
        schedule.next_attempt_at = now + RETRY_DELAYS[schedule.attempts - 1]
    schedule.save()
    return Outcome.FLAGGED if schedule.needs_person else Outcome.UNSETTLED
