"""Settle unknown payments and stale pending checkouts by asking their providers (read-only)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from payments.integration_cleanup import overdue_cleanups_run
from payments.models import PaymentTransaction
from payments.reconciliation import STALE_CHECKOUT_AFTER, Outcome, flagged_rows, payments_reconcile


class Command(BaseCommand):
    help = (
        "Ask the provider about every unknown payment and every checkout left pending longer "
        "than --stale-minutes, and record what it says happened. Never charges. First finishes "
        "the clean-up of integrations deleted long ago whose secrets are still stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stale-minutes",
            type=int,
            default=int(STALE_CHECKOUT_AFTER.total_seconds() // 60),
            help="A checkout pending this long is reconciled (default: %(default)s).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stale_minutes = options["stale_minutes"]
        if stale_minutes < 0:
            raise CommandError("--stale-minutes cannot be negative.")
        # First, so that their started checkouts are given up rather than flagged below.
        cleaned = overdue_cleanups_run()
        if cleaned:
            self.stdout.write(
                f"Finished the clean-up of {cleaned} deleted integration{'s' * (cleaned != 1)}."
            )
        summary = payments_reconcile(
            stale_after=timedelta(minutes=stale_minutes), progress=self._progress
        )
        counts = summary.counts
        self.stdout.write(
            f"Reconciled: {counts[Outcome.SUCCEEDED]} succeeded, {counts[Outcome.FAILED]} failed, "
            f"{counts[Outcome.UNSETTLED]} still unknown (asked again later), "
            f"{counts[Outcome.FLAGGED]} newly flagged, {counts[Outcome.SKIPPED]} skipped."
        )
        flagged = list(flagged_rows())
        if flagged:
            self.stdout.write(self.style.WARNING(f"Needs a person ({len(flagged)}):"))
            for row in flagged:
                self.stdout.write(f"  {_describe(row)}")

    def _progress(self, pks: Iterable[int], total: int) -> Iterator[int]:
        """The rows as they are done, with a one-line bar when stdout is a terminal."""
        shown = total > 0 and self.stdout.isatty()
        for done, pk in enumerate(pks):
            if shown:
                self._bar(done, total)
            yield pk
        if shown:
            self._bar(total, total)
            self.stdout.write("")

    def _bar(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // total
        self.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending="")
        self.stdout.flush()


def _describe(row: PaymentTransaction) -> str:
    answer = row.reconciliation.last_answer if hasattr(row, "reconciliation") else ""
    return (
        f"#{row.pk} order {row.order.number}: {row.operation} {row.amount} {row.currency} "
        f"({row.method_admin_label}, {row.state}) — {answer}"
    )
