"""Writes to payment rules; every change lands in the audit trail."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from backoffice.audit import audit_record
from backoffice.models import AuditEntry, CustomerGroup, Website
from integrations.models import PaymentMethod
from rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod


class RuleError(Exception):
    """A change to a rule that cannot be made; the message is for the user."""


# A PostgreSQL advisory lock over what checkout reads to decide a method: rules and the
# integrations behind their methods. Evaluation reads them in several statements, each seeing
# the latest commit, and the provider is then called inside the same transaction: without it a
# submit could read half an edit, or charge a method after its rule or integration took it away.
# Checkouts share it (they never wait for each other); a change takes it alone, so it waits
# for the checkouts in flight and the next ones read it whole. SQLite serialises writers anyway.
_CHECKOUT_RULES_LOCK = 0x52554C45


def rules_lock_for_checkout() -> None:
    """Read rules and integrations as of one committed state until this transaction ends."""
    _advisory_lock("pg_advisory_xact_lock_shared")


def rules_lock_for_change() -> None:
    """Wait for the checkouts in flight; hold the next ones until this transaction ends."""
    _advisory_lock("pg_advisory_xact_lock")


def _advisory_lock(function: str) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [_CHECKOUT_RULES_LOCK])


@dataclass(frozen=True)
class DestinationData:
    country: str
    region: str = ""
    postal_codes: str = ""


@dataclass(frozen=True)
class RuleMethodData:
    method: PaymentMethod
    enabled: bool = True


@dataclass(frozen=True, kw_only=True)
class RuleData:
    """A rule as saved; the conditions default to none (the rule form always sets them all)."""

    name: str
    currency: str
    methods: tuple[RuleMethodData, ...]
    enabled: bool = True
    sort_order: int = 0
    stop_processing: bool = False
    expression: str = ""
    websites: tuple[Website, ...] = ()
    customer_groups: tuple[CustomerGroup, ...] = ()
    min_total: Decimal | None = None
    max_total: Decimal | None = None
    destinations: tuple[DestinationData, ...] = ()


def _snapshot(rule: PaymentRule) -> dict[str, Any]:
    """The rule as the audit trail shows it."""
    return {
        "name": rule.name,
        "enabled": rule.enabled,
        "sort_order": rule.sort_order,
        "currency": rule.currency,
        "stop_processing": rule.stop_processing,
        "expression": rule.expression,
        "websites": sorted(w.name for w in rule.websites.all()),
        "customer_groups": sorted(g.name for g in rule.customer_groups.all()),
        "min_total": None if rule.min_total is None else f"{rule.min_total.normalize():f}",
        "max_total": None if rule.max_total is None else f"{rule.max_total.normalize():f}",
        "destinations": [str(d) for d in rule.destinations.all()],
        "methods": [
            f"{rm.method.admin_label}{'' if rm.enabled else ' (disabled)'}"
            for rm in rule.methods.select_related("method")
        ],
    }


def method_enable_refusal(method: PaymentMethod) -> str:
    """Why a method can never be enabled in a rule again ('' when it can)."""
    if method.integration.is_deleted:
        return f"{method.admin_label}: its integration was deleted; it cannot be enabled again."
    return ""


@transaction.atomic
def rule_save(*, rule: PaymentRule | None, data: RuleData, actor: User) -> PaymentRule:
    """Create a rule (rule=None) or replace an existing rule's settings with `data`."""
    created = rule is None
    rules_lock_for_change()
    if rule is None:
        rule = PaymentRule()
        before: dict[str, Any] = {}
    else:
        rule = PaymentRule.objects.select_for_update().get(pk=rule.pk)
        before = _snapshot(rule)
    if not data.methods:
        raise RuleError("Choose at least one payment method.")
    for field_name in (
        "name",
        "enabled",
        "sort_order",
        "currency",
        "stop_processing",
        "expression",
        "min_total",
        "max_total",
    ):
        setattr(rule, field_name, getattr(data, field_name))
    rule.save()
    rule.websites.set(data.websites)
    rule.customer_groups.set(data.customer_groups)
    rule.destinations.all().delete()
    PaymentRuleDestination.objects.bulk_create(
        PaymentRuleDestination(
            rule=rule, country=d.country, region=d.region, postal_codes=d.postal_codes
        )
        for d in data.destinations
    )
    _save_methods(rule, data.methods)
    after = _snapshot(rule)
    if created:  # a new rule's audit entry lists what it was created with
        changes: dict[str, Any] = {k: v for k, v in after.items() if v not in ("", [], None)}
    else:
        changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    if created or changes:
        audit_record(
            actor=actor,
            action="payment_rule.created" if created else "payment_rule.updated",
            target=rule,
            changes=changes,
        )
    return rule


def _save_methods(rule: PaymentRule, wanted: Iterable[RuleMethodData]) -> None:
    existing = {rm.method_id: rm for rm in rule.methods.select_related("method__integration")}
    keep: set[int] = set()
    for item in wanted:
        keep.add(item.method.pk)
        current = existing.get(item.method.pk)
        if item.enabled and (current is None or not current.enabled):
            refusal = method_enable_refusal(item.method)
            if refusal:
                raise RuleError(refusal)
        if current is None:
            PaymentRuleMethod.objects.create(rule=rule, method=item.method, enabled=item.enabled)
        elif current.enabled != item.enabled:
            current.enabled = item.enabled
            # A person's choice replaces the system's reason for switching it off.
            current.disabled_reason = current.disabled_reason if not item.enabled else ""
            current.save(update_fields=["enabled", "disabled_reason"])
    rule.methods.exclude(method_id__in=keep).delete()


@transaction.atomic
def rules_set_enabled(*, rule_ids: Iterable[int], enabled: bool, actor: User) -> int:
    """Enable or disable several rules at once; returns how many changed."""
    rules_lock_for_change()
    rules = list(
        PaymentRule.objects.select_for_update()
        .filter(pk__in=list(rule_ids))
        .exclude(enabled=enabled)
    )
    if not rules:
        return 0
    PaymentRule.objects.filter(pk__in=[r.pk for r in rules]).update(
        enabled=enabled, updated_at=timezone.now()
    )
    action = "payment_rule.enabled" if enabled else "payment_rule.disabled"
    AuditEntry.objects.bulk_create(
        AuditEntry(
            actor=actor,
            action=action,
            object_type=PaymentRule._meta.label_lower,
            object_id=rule.pk,
            object_repr=str(rule)[:255],
        )
        for rule in rules
    )
    return len(rules)
