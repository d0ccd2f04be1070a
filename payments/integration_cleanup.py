"""Provider clean-up after an integration is deleted: started checkouts given up, secrets wiped.

A card or PayPal checkout a buyer started with the integration (a pending row awaiting the buyer)
is abandoned at the provider with the adapter's idempotent `abandon`, which never charges: the
row ends failed ("the payment method was removed"), or succeeded when the provider says the buyer
paid after all (recorded, never lost); one the provider could not be asked about stays as
`abandon` leaves it (unknown) for reconciliation. Only then are the secrets wiped and the audit
entry written. Open authorizations are left alone: the deletion dialog warned about them.

`integration_delete` schedules this once it has committed: a Celery task when a broker is set
(the same switch the webhooks use), else in-process right after the commit. If it never finishes
(a lost task, a database down through every retry), `reconcile_payments` runs it again for
integrations deleted longer than CLEANUP_OVERDUE_AFTER ago whose secrets are still stored.
Running it twice is harmless: each row is settled under its lock once, and the wipe (with its
audit entry) happens once.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import DatabaseError
from django.db import transaction as db_transaction
from django.db.models import QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError

from backoffice.audit import audit_record
from backoffice.celery import celery_enabled
from integrations.adapters import ADAPTERS
from integrations.adapters.base import ProviderError
from integrations.models import Integration
from payments.browser_checkout import awaits_buyer, checkout_abandon
from payments.checkout_services import CHECKOUT_OPERATIONS
from payments.models import PaymentTransaction, State

logger = logging.getLogger(__name__)

REMOVED = "The store removed this payment method before the payment was finished."
# A deleted integration whose secrets are still stored this long after: its clean-up was lost.
CLEANUP_OVERDUE_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class CleanupReport:
    abandoned: int = 0  # given up at the provider: nothing taken
    paid: int = 0  # the provider says the buyer paid after all: recorded as succeeded
    left: int = 0  # the provider could not be asked: unknown, for reconciliation
    wiped: bool = False  # this run wiped the secrets (False when another run had)

    def as_dict(self) -> dict[str, int]:
        return {
            "abandoned": self.abandoned,
            "paid": self.paid,
            "left": self.left,
            "wiped": int(self.wiped),
        }


def started_checkouts(*, integration_id: int) -> QuerySet[PaymentTransaction]:
    """Browser checkouts through the integration still pending (one query; `awaits_buyer` rows)."""
    browser_types = [type for type, adapter in ADAPTERS.items() if adapter.browser_step]
    return PaymentTransaction.objects.filter(
        method__integration_id=integration_id,
        operation__in=CHECKOUT_OPERATIONS,
        state=State.PENDING,
        provider_type__in=browser_types,
    ).order_by("id")


def integration_cleanup_schedule(*, integration_id: int, actor_id: int | None) -> None:
    """Run a deleted integration's clean-up: queued for a worker, else here and now."""
    if celery_enabled():
        from payments.tasks import integration_cleanup_task

        try:
            integration_cleanup_task.delay(integration_id, actor_id)
            return
        except OperationalError as error:
            # Nobody would retry this for us (the deletion has committed): done here instead.
            logger.warning("Clean-up of integration %s not queued: %s", integration_id, error)
    try:
        integration_cleanup(integration_id=integration_id, actor_id=actor_id)
    except Exception:
        # The deletion stands; the secrets were wiped in `finally` unless the database itself
        # failed, and then reconcile_payments finishes the clean-up.
        logger.exception("Clean-up of deleted integration %s did not finish", integration_id)


def integration_cleanup(
    *, integration_id: int, actor_id: int | None, retry_left: bool = False
) -> CleanupReport:
    """Give up the deleted integration's started checkouts at the provider, then wipe its secrets.

    With `retry_left` (a task that will run again) a database or provider error is raised with
    the secrets kept for the next attempt; otherwise they are wiped whatever happens.
    """
    integration = Integration.objects.filter(pk=integration_id, deleted_at__isnull=False).first()
    if integration is None or not integration.encrypted_secrets:
        return CleanupReport()  # not deleted (never touched), or cleaned up already
    outcomes: Counter[str] = Counter()
    keep_secrets = False
    try:
        for row in started_checkouts(integration_id=integration_id):
            if not awaits_buyer(row):
                continue
            if not _secrets_stored(integration_id):
                break  # a concurrent run finished and wiped: the rest was its to settle
            outcomes[checkout_abandon(row=row, why=REMOVED).state] += 1
    except (DatabaseError, ProviderError):
        keep_secrets = retry_left
        raise
    finally:
        wiped = False if keep_secrets else _wipe(integration, actor_id, outcomes)
    return CleanupReport(
        abandoned=outcomes[State.FAILED],
        paid=outcomes[State.SUCCEEDED],
        left=outcomes[State.UNKNOWN] + outcomes[State.PENDING],
        wiped=wiped,
    )


def _secrets_stored(integration_id: int) -> bool:
    return Integration.objects.filter(pk=integration_id).exclude(encrypted_secrets="").exists()


@db_transaction.atomic
def _wipe(integration: Integration, actor_id: int | None, outcomes: Counter[str]) -> bool:
    """Wipe the secrets and record it, once however many runs get here."""
    wiped = (
        Integration.objects.filter(pk=integration.pk)
        .exclude(encrypted_secrets="")
        .update(encrypted_secrets="", updated_at=timezone.now())
    )
    if not wiped:
        return False
    audit_record(
        actor=User.objects.filter(pk=actor_id).first() if actor_id else None,
        action="integration.cleaned_up",
        target=integration,
        changes={
            "started checkouts given up": outcomes[State.FAILED],
            "paid at the provider after all": outcomes[State.SUCCEEDED],
            "left for reconciliation": outcomes[State.UNKNOWN] + outcomes[State.PENDING],
            "secrets": "wiped",
        },
    )
    return True


def overdue_cleanups_run(*, now: datetime | None = None) -> int:
    """Finish the clean-up of integrations deleted long ago whose secrets are still stored."""
    since = (now or timezone.now()) - CLEANUP_OVERDUE_AFTER
    overdue = list(
        Integration.objects.filter(deleted_at__lte=since)
        .exclude(encrypted_secrets="")
        .values_list("pk", flat=True)
    )
    done = 0
    for pk in overdue:
        try:
            # No actor: the audit entry shows the system finished what the deletion started.
            integration_cleanup(integration_id=pk, actor_id=None)
        except Exception:
            logger.exception("Overdue clean-up of deleted integration %s did not finish", pk)
        else:
            done += 1
    return done
