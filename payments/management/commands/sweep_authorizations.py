"""Close expired authorizations and list those about to expire, for sales staff to capture."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from payments.authorization_sweep import authorizations_close_expired, authorizations_expiring
from payments.models import PaymentTransaction
from payments.money import format_amount


class Command(BaseCommand):
    help = (
        "Close authorizations whose hold has expired at the provider, and list the ones that "
        "expire within --days days so sales staff can capture them in time."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=3,
            help="List authorizations expiring within this many days (default: %(default)s).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days < 0:
            raise CommandError("--days cannot be negative.")
        now = timezone.now()
        closed = authorizations_close_expired(now=now)
        self.stdout.write(f"Closed {len(closed)} expired authorizations.")
        for row in closed:
            self.stdout.write(f"  {_describe(row)}")
        expiring = list(authorizations_expiring(now=now, within=timedelta(days=days)))
        self.stdout.write(f"Expiring within {days} days: {len(expiring)}.")
        for row in expiring:
            self.stdout.write(f"  {_describe(row)}")


def _describe(row: PaymentTransaction) -> str:
    assert row.authorization_expires_at is not None
    return (
        f"order {row.order.number}: {format_amount(row.amount, row.currency)} "
        f"{row.method_admin_label}, expires {row.authorization_expires_at:%Y-%m-%d %H:%M} UTC"
    )
