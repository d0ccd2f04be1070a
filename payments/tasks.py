"""Background tasks, run by Celery workers when CELERY_BROKER_URL is set (backoffice/celery.py).

Each is idempotent, as a task may be retried or delivered twice: a webhook event already applied
is left alone, reconciliation settles only rows still unsettled (skipping those another run
holds), and the sweep closes only authorizations still open. Without a broker nothing is queued:
the webhook view applies events in-process and reconcile_payments / sweep_authorizations run the
same services from cron.
"""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from payments.authorization_sweep import authorizations_close_expired
from payments.reconciliation import payments_reconcile
from payments.webhooks import event_from_fields, webhook_event_apply


# A database error (a lock wait given up, a connection lost) is worth another try.
@shared_task(autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def webhook_event_apply_task(event_row_id: int, event: dict[str, str]) -> str:
    """Apply a verified, recorded webhook event (the view has answered the provider already)."""
    return webhook_event_apply(event_row_id=event_row_id, event=event_from_fields(event)).detail


@shared_task
def reconcile_payments_task() -> dict[str, int]:
    """Settle due unknown rows and stale pending checkouts (beat: every 5 minutes)."""
    summary = payments_reconcile()
    return {str(outcome): count for outcome, count in summary.counts.items()}


@shared_task
def sweep_authorizations_task() -> int:
    """Close expired authorizations (beat: hourly); the number closed."""
    return len(authorizations_close_expired(now=timezone.now()))
