"""Provider webhooks: verified first, applied once, settling only what is still open.

A webhook can arrive before the buyer's browser comes back (or instead of it, when the buyer
closes the tab): it settles the pending checkout row exactly as `checkout_complete` would. A
replayed event finds its id recorded and changes nothing. Events about payments we do not hold
pending (a refund made in the provider's dashboard) are recorded for people to read, not applied.
With Celery on (CELERY_BROKER_URL) the signature is checked and the event recorded in the request,
and it is applied by a worker; without it, all of it happens in the request, in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError
from django.db import transaction as db_transaction
from kombu.exceptions import OperationalError

from backoffice.celery import celery_enabled
from integrations.adapters import adapter_for
from integrations.adapters.base import (
    EnvironmentRefused,
    InvalidWebhook,
    ProviderError,
    ResultState,
    WebhookEvent,
)
from integrations.models import Integration
from integrations.types import environment_refusal
from payments import ledger
from payments.checkout_services import CHECKOUT_OPERATIONS, checkout_settle
from payments.models import PaymentTransaction, State
from payments.models import WebhookEvent as WebhookEventRow

logger = logging.getLogger(__name__)

_STATES = {
    ResultState.SUCCEEDED: State.SUCCEEDED,
    ResultState.FAILED: State.FAILED,
}


@dataclass(frozen=True)
class WebhookOutcome:
    status: int  # the HTTP status to answer the provider with
    detail: str


def webhook_receive(
    *, integration: Integration, body: bytes, headers: dict[str, str]
) -> WebhookOutcome:
    """Verify one webhook call for `integration` and apply its event once."""
    try:
        event = adapter_for(integration).parse_webhook(body, headers)
    except EnvironmentRefused as refusal:
        # A test-mode integration's events never settle anything in production: not recorded.
        logger.warning("Webhook for integration %s refused: %s", integration.pk, refusal)
        return WebhookOutcome(403, f"Refused. {environment_refusal(integration.environment)}")
    except InvalidWebhook as refusal:
        # Nothing is recorded for a call we cannot attribute to the provider.
        logger.warning("Webhook for integration %s refused: %s", integration.pk, refusal)
        return WebhookOutcome(400, "Invalid webhook.")
    except ProviderError as error:
        # The provider verifies its own signature (PayPal) and could not be asked: it retries
        # a call we do not acknowledge, so nothing is lost by answering "try again later".
        logger.warning("Webhook for integration %s not verified: %s", integration.pk, error)
        return WebhookOutcome(503, "Could not verify the webhook now; please retry.")
    if celery_enabled():
        return _receive_for_worker(integration, event)
    with db_transaction.atomic():
        row = _record(integration, event)
        if row.outcome:
            return WebhookOutcome(200, "Already received.")
        return webhook_event_apply(event_row_id=row.pk, event=event)


def _receive_for_worker(integration: Integration, event: WebhookEvent) -> WebhookOutcome:
    # Recorded and committed first, so the worker finds the row; then queued, and the provider
    # gets its answer at once. A recorded event not yet applied (its task lost with the broker)
    # is queued again when the provider sends it again: applying is idempotent.
    row = _record(integration, event)
    if row.outcome:
        return WebhookOutcome(200, "Already received.")
    from payments.tasks import webhook_event_apply_task

    try:
        webhook_event_apply_task.delay(row.pk, event_fields(event))
    except OperationalError as error:
        logger.warning("Webhook event %s not queued: %s", row.pk, error)
        return WebhookOutcome(503, "Could not queue the webhook now; please retry.")
    return WebhookOutcome(200, "Received; applied in the background.")


def _record(integration: Integration, event: WebhookEvent) -> WebhookEventRow:
    """The event's row: created now, or the one an earlier delivery of it created."""
    row = WebhookEventRow(
        integration=integration,
        event_id=event.id[:255],
        event_type=event.type[:255],
        reference=event.reference[:255],
        payload=event.raw,
    )
    try:
        with db_transaction.atomic():
            row.save()
    except IntegrityError:
        return WebhookEventRow.objects.get(integration=integration, event_id=row.event_id)
    return row


@db_transaction.atomic
def webhook_event_apply(*, event_row_id: int, event: WebhookEvent) -> WebhookOutcome:
    """Settle the pending payment a recorded event is about, once however often it is called."""
    row = (
        WebhookEventRow.objects.select_for_update(of=("self",))
        .select_related("integration")
        .get(pk=event_row_id)
    )
    if row.outcome:
        return WebhookOutcome(200, "Already received.")
    integration = row.integration
    refusal = environment_refusal(integration.environment)
    # An event recorded before the deployment changed, applied by a worker after it.
    payment = None if refusal else _pending_checkout_row(integration, event)
    if refusal:
        row.outcome = f"Not applied. {refusal}"
    elif payment is None:
        row.outcome = "Recorded; no pending payment to settle."
    else:
        payment = ledger.lock(payment)
        new_state = _STATES.get(event.state) if event.state else None
        if payment.state in (State.PENDING, State.UNKNOWN) and new_state is not None:
            payment.state = new_state
            if event.message:
                payment.message = event.message[:500]
            if event.settled_reference or not payment.provider_reference:
                payment.provider_reference = (event.settled_reference or event.reference)[:255]
            checkout_settle(payment)
            row.outcome = f"Settled transaction {payment.pk} as {new_state}."
        else:
            row.outcome = f"Transaction {payment.pk} left as {payment.state}."
        row.transaction = payment
    row.save(update_fields=["outcome", "transaction"])
    return WebhookOutcome(200, row.outcome)


def event_fields(event: WebhookEvent) -> dict[str, str]:
    """What applying needs of a verified event, as JSON for a task (the payload is on its row)."""
    return {
        "id": event.id,
        "type": event.type,
        "reference": event.reference,
        "state": event.state or "",
        "message": event.message,
        "settled_reference": event.settled_reference,
        "order_number": event.order_number,
    }


def event_from_fields(fields: dict[str, str]) -> WebhookEvent:
    state = fields.get("state", "")
    return WebhookEvent(
        id=fields["id"],
        type=fields["type"],
        reference=fields.get("reference", ""),
        state=ResultState(state) if state else None,
        message=fields.get("message", ""),
        settled_reference=fields.get("settled_reference", ""),
        order_number=fields.get("order_number", ""),
    )


def _pending_checkout_row(
    integration: Integration, event: WebhookEvent
) -> PaymentTransaction | None:
    if not event.reference:
        return None
    open_rows = PaymentTransaction.objects.filter(
        provider_type=integration.type,  # the (provider_type, provider_reference) index
        method__integration=integration,
        operation__in=CHECKOUT_OPERATIONS,
        state__in=(State.PENDING, State.UNKNOWN),
    )
    row = open_rows.filter(provider_reference=event.reference).order_by("-id").first()
    if row is not None or not event.order_number:
        return row
    # The answer that would have told us the reference was lost: the order's one open payment
    # without a reference is this one (two would be ambiguous, and are left to reconciliation).
    unreferenced = list(
        open_rows.filter(provider_reference="", order__number=event.order_number)[:2]
    )
    if len(unreferenced) != 1:
        return None
    return unreferenced[0]
