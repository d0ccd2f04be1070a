"""Provider webhooks: verified first, applied once, settling only what is still open.

A webhook can arrive before the buyer's browser comes back (or instead of it, when the buyer
closes the tab): it settles the pending checkout row exactly as `checkout_complete` would. A
replayed event finds its id recorded and changes nothing. Events about payments we do not hold
pending (a refund made in the provider's dashboard) are recorded for people to read, not applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError
from django.db import transaction as db_transaction

from integrations.adapters import adapter_for
from integrations.adapters.base import InvalidWebhook, ProviderError, ResultState, WebhookEvent
from integrations.models import Integration
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
    except InvalidWebhook as refusal:
        # Nothing is recorded for a call we cannot attribute to the provider.
        logger.warning("Webhook for integration %s refused: %s", integration.pk, refusal)
        return WebhookOutcome(400, "Invalid webhook.")
    except ProviderError as error:
        # The provider verifies its own signature (PayPal) and could not be asked: it retries
        # a call we do not acknowledge, so nothing is lost by answering "try again later".
        logger.warning("Webhook for integration %s not verified: %s", integration.pk, error)
        return WebhookOutcome(503, "Could not verify the webhook now; please retry.")
    return _apply(integration, event)


@db_transaction.atomic
def _apply(integration: Integration, event: WebhookEvent) -> WebhookOutcome:
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
        return WebhookOutcome(200, "Already received.")
    payment = _pending_checkout_row(integration, event)
    if payment is None:
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


def _pending_checkout_row(
    integration: Integration, event: WebhookEvent
) -> PaymentTransaction | None:
    if not event.reference:
        return None
    open_rows = PaymentTransaction.objects.filter(
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
