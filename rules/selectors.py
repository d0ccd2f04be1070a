"""Reads for the payment rule pages; each returns a queryset with its related data attached."""

from __future__ import annotations

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce, Lower

from integrations.models import Integration, PaymentMethod
from rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod

# More ids than this in `?ids=` are ignored: the list links later issues build stay far below it,
# and it keeps the SQL parameter count within every backend's limit.
MAX_IDS = 1000
# Ids past a signed 64-bit integer make the database driver raise instead of matching nothing.
MAX_ID = 2**63 - 1


def _count(queryset: QuerySet) -> Coalesce:
    return Coalesce(Subquery(queryset, output_field=IntegerField()), 0)


SORTS: dict[str, Lower | F] = {
    "name": Lower("name"),
    "enabled": F("enabled"),
    "sort_order": F("sort_order"),
    "currency": F("currency"),
    "stop_processing": F("stop_processing"),
    "methods": F("method_count"),
    "destinations": F("destination_count"),
    "expression": F("expression"),
}


def parse_ids(text: str) -> list[int]:
    """The positive integers in a comma-separated list; anything else is skipped."""
    ids: list[int] = []
    for part in text.split(",")[:MAX_IDS]:
        part = part.strip()
        if part.isascii() and part.isdigit() and 0 < int(part) <= MAX_ID:
            ids.append(int(part))
    return ids


def rules_with_relations(rules: QuerySet[PaymentRule]) -> QuerySet[PaymentRule]:
    """Attach what the list shows, in a fixed number of queries however many rules."""
    return rules.prefetch_related(
        Prefetch(
            "methods",
            queryset=PaymentRuleMethod.objects.select_related("method__integration").order_by("id"),
        ),
        Prefetch("destinations", queryset=PaymentRuleDestination.objects.order_by("id")),
    )


def rule_list(
    *,
    search: str = "",
    enabled: bool | None = None,
    currency: str = "",
    integration_id: int | None = None,
    ids: list[int] | None = None,
    sort: str = "sort_order",
) -> QuerySet[PaymentRule]:
    methods = (
        PaymentRuleMethod.objects.filter(rule=OuterRef("pk"))
        .values("rule")
        .annotate(total=Count("pk"))
        .values("total")
    )
    destinations = (
        PaymentRuleDestination.objects.filter(rule=OuterRef("pk"))
        .values("rule")
        .annotate(total=Count("pk"))
        .values("total")
    )
    rules = PaymentRule.objects.annotate(
        method_count=_count(methods), destination_count=_count(destinations)
    )
    if search:
        rules = rules.filter(name__icontains=search)
    if enabled is not None:
        rules = rules.filter(enabled=enabled)
    if currency:
        rules = rules.filter(currency=currency)
    if integration_id is not None:
        uses = PaymentRuleMethod.objects.filter(method__integration_id=integration_id)
        rules = rules.filter(pk__in=uses.values("rule"))
    if ids:
        rules = rules.filter(pk__in=ids)
    descending = sort.startswith("-")
    key = SORTS.get(sort.lstrip("-"), SORTS["sort_order"])
    # Ties keep the order rules run in, which is what an administrator reads the list for.
    return rules_with_relations(rules).order_by(
        key.desc() if descending else key.asc(), "sort_order", "id"
    )


def integrations_for_filter() -> QuerySet[Integration]:
    """Live integrations, plus deleted ones still named by some rule (links may point at them)."""
    # Exists rather than a join plus DISTINCT: PostgreSQL refuses DISTINCT ordered by Lower().
    in_some_rule = PaymentRuleMethod.objects.filter(method__integration=OuterRef("pk"))
    return Integration.objects.filter(Q(deleted_at__isnull=True) | Exists(in_some_rule)).order_by(
        Lower("name"), "id"
    )


def methods_for_rule(*, current_ids: list[int]) -> QuerySet[PaymentMethod]:
    """Methods the rule form lists: those offered by a live integration, plus the rule's own.

    A rule's own methods stay listed even when their integration was deleted, so an
    administrator sees them (disabled, with the reason) and may remove them.
    """
    return (
        PaymentMethod.objects.filter(
            Q(integration__deleted_at__isnull=True, is_offered=True) | Q(pk__in=current_ids)
        )
        .select_related("integration")
        .order_by(Lower("integration__name"), "integration_id", "id")
    )


def rule_for_edit(*, pk: int) -> QuerySet[PaymentRule]:
    return PaymentRule.objects.filter(pk=pk).prefetch_related(
        "websites",
        "customer_groups",
        Prefetch("destinations", queryset=PaymentRuleDestination.objects.order_by("id")),
        Prefetch(
            "methods",
            queryset=PaymentRuleMethod.objects.select_related("method__integration").order_by("id"),
        ),
    )
