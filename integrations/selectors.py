"""Reads for the integration pages; each returns a queryset with its related data attached."""

from __future__ import annotations

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Lower

from integrations.models import Integration, PaymentMethod
from rules.models import PaymentRuleMethod

SORTS: dict[str, Lower | F] = {
    "name": Lower("name"),
    "type": F("type"),
    "status": F("is_active"),
    "environment": F("environment"),
    "methods": F("method_count"),
    "rules": F("rule_count"),
    "created": F("created_at"),
}


def _count(queryset: QuerySet) -> Coalesce:
    return Coalesce(Subquery(queryset, output_field=IntegerField()), 0)


def integrations_with_counts() -> QuerySet[Integration]:
    """Live integrations annotated with their offered methods and the rules that use them."""
    methods = (
        PaymentMethod.objects.filter(integration=OuterRef("pk"), is_offered=True)
        .values("integration")
        .annotate(total=Count("pk"))
        .values("total")
    )
    rules = (
        PaymentRuleMethod.objects.filter(method__integration=OuterRef("pk"))
        .values("method__integration")
        .annotate(total=Count("rule", distinct=True))
        .values("total")
    )
    return Integration.objects.alive().annotate(
        method_count=_count(methods), rule_count=_count(rules)
    )


def integration_list(
    *, type: str = "", status: str = "", search: str = "", sort: str = "name"
) -> QuerySet[Integration]:
    integrations = integrations_with_counts()
    if type:
        integrations = integrations.filter(type=type)
    if status:
        integrations = integrations.filter(is_active=status == "active")
    if search:
        integrations = integrations.filter(name__icontains=search)
    descending = sort.startswith("-")
    key = SORTS.get(sort.lstrip("-"), SORTS["name"])
    return integrations.order_by(key.desc() if descending else key.asc(), "id")


def integration_methods(*, integration: Integration) -> QuerySet[PaymentMethod]:
    return integration.methods.annotate(
        rule_count=Count("rule_methods__rule", distinct=True),
        enabled_rule_count=Count(
            "rule_methods__rule", filter=Q(rule_methods__enabled=True), distinct=True
        ),
    ).order_by("id")
