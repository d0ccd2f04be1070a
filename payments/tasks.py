"""Background tasks, run by Celery workers when CELERY_BROKER_URL is set (backoffice/celery.py).

Each is idempotent, as a task may be retried or delivered twice: a webhook event already applied
is left alone, reconciliation settles only rows still unsettled (skipping those another run
holds), the sweep closes only authorizations still open, and a deleted integration's clean-up
settles each started checkout once and wipes its secrets once. Without a broker nothing is queued:
the webhook view applies events in-process, a deletion cleans up right after it commits, and
reconcile_payments / sweep_authorizations run the same services from cron.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from integrations.adapters.base import ProviderError
from payments.authorization_sweep import authorizations_close_expired
from payments.integration_cleanup import integration_cleanup, overdue_cleanups_run
from payments.reconciliation import payments_reconcile
from payments.webhooks import event_from_fields, webhook_event_apply


# A database error (a lock wait given up, a connection lost) is worth another try.
@shared_task(autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def webhook_event_apply_task(event_row_id: int, event: dict[str, str]) -> str:
    """Apply a verified, recorded webhook event (the view has answered the provider already)."""
    return webhook_event_apply(event_row_id=event_row_id, event=event_from_fields(event)).detail


@shared_task
def reconcile_payments_task() -> dict[str, int]:
    """Settle due unknown rows and stale pending checkouts (beat: every 5 minutes), after
    finishing any deleted integration's clean-up that never ran."""
    overdue_cleanups_run()
    summary = payments_reconcile()
    return {str(outcome): count for outcome, count in summary.counts.items()}


@shared_task
def sweep_authorizations_task() -> int:
    """Close expired authorizations (beat: hourly); the number closed."""
    return len(authorizations_close_expired(now=timezone.now()))


# A few tries with backoff (10 s, 20 s, 40 s) for a database or provider fault, the secrets kept
# meanwhile; the last try wipes them whatever happens, so they never outlive the clean-up by long.
CLEANUP_RETRIES = 3


@shared_task(bind=True, max_retries=CLEANUP_RETRIES)
def integration_cleanup_task(
    task: Any, integration_id: int, actor_id: int | None
) -> dict[str, int]:
    """Give up a deleted integration's started checkouts at the provider, then wipe its secrets."""
    retry_left = task.request.retries < CLEANUP_RETRIES
    try:
        report = integration_cleanup(
            integration_id=integration_id, actor_id=actor_id, retry_left=retry_left
        )
    except (DatabaseError, ProviderError) as error:
        if not retry_left:
            raise
        raise task.retry(exc=error, countdown=10 * 2**task.request.retries) from error
    return report.as_dict()
