"""Authorizations past their expiry: closed, since the provider has released the hold."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction as db_transaction
from django.db.models import QuerySet

from payments.ledger import order_refresh_payment_status
from payments.models import Operation, PaymentTransaction, State


def _open_authorizations() -> QuerySet[PaymentTransaction]:
    return PaymentTransaction.objects.filter(
        operation=Operation.AUTHORIZE,
        state=State.SUCCEEDED,
        is_open=True,
        authorization_expires_at__isnull=False,
    )


@db_transaction.atomic
def authorizations_close_expired(*, now: datetime) -> list[PaymentTransaction]:
    """Close every open authorization whose expiry has passed; the orders' status follows."""
    # Locked like a capture locks its source, so a capture in flight finishes first.
    expired = list(
        _open_authorizations()
        .select_for_update(of=("self",))
        .select_related("order")
        .filter(authorization_expires_at__lte=now)
        .order_by("authorization_expires_at", "id")
    )
    for row in expired:
        row.is_open = False
        row.save(update_fields=["is_open", "updated_at"])
        order_refresh_payment_status(order=row.order)
    return expired


def authorizations_expiring(*, now: datetime, within: timedelta) -> QuerySet[PaymentTransaction]:
    """Open authorizations that lapse after `now` and within `within`, soonest first."""
    return (
        _open_authorizations()
        .filter(authorization_expires_at__gt=now, authorization_expires_at__lte=now + within)
        .select_related("order")
        .order_by("authorization_expires_at", "id")
    )
