"""Writes to the sales context."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction

from backoffice.audit import audit_record
from backoffice.models import Customer, CustomerGroup, PaymentTerm


@transaction.atomic
def payment_term_save(
    *,
    term: PaymentTerm | None,
    label: str,
    customers: Iterable[Customer],
    groups: Iterable[CustomerGroup],
    actor: User,
) -> PaymentTerm:
    """Create or rename a payment term and set exactly which customers and groups hold it."""
    created = term is None
    if term is None:
        term = PaymentTerm.objects.create(label=label)
    before = {
        "label": term.label,
        "customers": sorted(str(c) for c in term.customers.all()),
        "groups": sorted(str(g) for g in term.groups.all()),
    }
    term.label = label
    term.save()
    customer_ids = [c.pk for c in customers]
    group_ids = [g.pk for g in groups]
    Customer.objects.filter(payment_term=term).exclude(pk__in=customer_ids).update(
        payment_term=None
    )
    Customer.objects.filter(pk__in=customer_ids).update(payment_term=term)
    CustomerGroup.objects.filter(payment_term=term).exclude(pk__in=group_ids).update(
        payment_term=None
    )
    CustomerGroup.objects.filter(pk__in=group_ids).update(payment_term=term)
    after = {
        "label": term.label,
        "customers": sorted(str(c) for c in term.customers.all()),
        "groups": sorted(str(g) for g in term.groups.all()),
    }
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if created or changes:
        action = "payment_term.created" if created else "payment_term.updated"
        audit_record(actor=actor, action=action, target=term, changes=changes)
    return term
