"""Deleting or deactivating an integration: what it affects, shown first, then done at once.

Deletion disables the integration's methods in every rule that uses them, disables each rule
left with no enabled method and leaves a tombstone so that past payments keep their labels. It
runs a fixed number of SQL queries however many rules are affected: the impact is computed and
applied with set-based statements, never rule by rule. Once it has committed, the provider
clean-up gives up the checkouts buyers had started with it and then wipes its secrets
(payments.integration_cleanup).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from backoffice.audit import audit_record
from backoffice.models import AuditEntry
from integrations.models import Integration, PaymentMethod
from rules.models import PaymentRule, PaymentRuleMethod
from rules.services import rules_lock_for_change

PREVIEW_SIZE = 10
# Beyond this many rules, the review link narrows by integration instead of listing ids.
MAX_LINKED_IDS = 200


class DeletionError(Exception):
    """The integration cannot be deleted (e.g. it already was); the message is for the user."""


@dataclass(frozen=True)
class RulePreview:
    total: int
    names: list[str]  # at most PREVIEW_SIZE, in rule order

    @property
    def more(self) -> int:
        return max(self.total - len(self.names), 0)


@dataclass(frozen=True)
class MoneyInFlight:
    """Open authorizations or pending offline payments through the integration, per currency."""

    kind: str  # "authorization" or "offline payment"
    currency: str
    count: int
    total: Decimal

    @property
    def total_text(self) -> str:
        from payments.money import format_amount

        return format_amount(self.total, self.currency)


@dataclass(frozen=True)
class Impact:
    integration: Integration
    affected_rules: RulePreview  # rules that use any of the integration's methods
    rules_to_disable: RulePreview  # enabled rules left with no enabled method
    methods: list[PaymentMethod]  # the integration's methods used by those rules
    affected_rule_ids: list[int] = field(default_factory=list)  # empty when too many to link
    money_in_flight: list[MoneyInFlight] = field(default_factory=list)
    # Card/PayPal checkouts a buyer started and has not finished: given up at the provider.
    started_checkouts: int = 0

    @property
    def has_dependents(self) -> bool:
        return self.affected_rules.total > 0


@dataclass(frozen=True)
class DeletionReport:
    name: str
    rule_methods_disabled: int
    rules_affected: int
    rules_disabled: int
    affected_rule_ids: list[int]
    started_checkouts: int = 0  # being given up at the provider once the deletion commits


def _rules_using(integration: Integration) -> QuerySet[PaymentRule]:
    uses = PaymentRuleMethod.objects.filter(rule=OuterRef("pk"), method__integration=integration)
    return PaymentRule.objects.filter(Exists(uses))


def _rules_left_without_enabled_method(integration: Integration) -> QuerySet[PaymentRule]:
    """Enabled rules whose every enabled method belongs to `integration`."""
    own_enabled = PaymentRuleMethod.objects.filter(
        rule=OuterRef("pk"), enabled=True, method__integration=integration
    )
    other_enabled = PaymentRuleMethod.objects.filter(rule=OuterRef("pk"), enabled=True).exclude(
        method__integration=integration
    )
    return PaymentRule.objects.filter(Q(enabled=True), Exists(own_enabled), ~Exists(other_enabled))


def _preview(rules: QuerySet[PaymentRule]) -> RulePreview:
    names = list(rules.order_by("sort_order", "id").values_list("name", flat=True)[:PREVIEW_SIZE])
    return RulePreview(total=rules.count(), names=names)


def money_in_flight(*, integration: Integration) -> list[MoneyInFlight]:
    """Open authorizations and pending offline payments through `integration` (one query)."""
    from payments.models import Operation, PaymentTransaction, State

    rows = (
        PaymentTransaction.objects.filter(
            method__integration=integration, is_open=True, state=State.SUCCEEDED
        )
        .values("operation", "currency")
        .annotate(count=Count("pk"), total=Sum("amount"))
        .order_by("operation", "currency")
    )
    return [
        MoneyInFlight(
            kind="authorization" if row["operation"] == Operation.AUTHORIZE else "offline payment",
            currency=row["currency"],
            count=row["count"],
            total=row["total"],
        )
        for row in rows
    ]


def deletion_impact(*, integration: Integration) -> Impact:
    """What deleting or deactivating `integration` would change, for the confirmation."""
    from payments.integration_cleanup import started_checkouts

    affected = _rules_using(integration)
    preview = _preview(affected)
    ids = list(
        affected.order_by("sort_order", "id").values_list("pk", flat=True)[: MAX_LINKED_IDS + 1]
    )
    if len(ids) > MAX_LINKED_IDS:
        ids = []  # too many for a link: the review link narrows by integration instead
    methods = list(
        PaymentMethod.objects.filter(integration=integration, rule_methods__isnull=False)
        .distinct()
        .order_by("id")
    )
    return Impact(
        integration=integration,
        affected_rules=preview,
        rules_to_disable=_preview(_rules_left_without_enabled_method(integration)),
        methods=methods,
        affected_rule_ids=ids,
        money_in_flight=money_in_flight(integration=integration),
        started_checkouts=started_checkouts(integration_id=integration.pk).count(),
    )


def _audit_rules(
    rule_ids: QuerySet[PaymentRule], *, actor: User, changes: dict[str, object]
) -> None:
    """One audit entry per rule in `rule_ids`, in a single INSERT … SELECT."""
    entries = AuditEntry._meta.db_table
    rules = PaymentRule._meta.db_table
    select_sql, select_params = rule_ids.values("pk").query.sql_with_params()
    json_placeholder = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    now = timezone.now()
    # Table names come from the models; every value is a parameter.
    columns = "actor_id, action, object_type, object_id, object_repr, changes, created_at"
    sql = (
        f"INSERT INTO {entries} ({columns}) "  # noqa: S608
        f"SELECT %s, %s, %s, r.id, SUBSTR(r.name, 1, 255), {json_placeholder}, %s "
        f"FROM {rules} r WHERE r.id IN ({select_sql})"
    )
    params = [
        actor.pk,
        "payment_rule.updated",
        PaymentRule._meta.label_lower,
        json.dumps(changes),
        now,
        *select_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@transaction.atomic
def integration_delete(*, integration: Integration, actor: User) -> DeletionReport:
    """Delete an integration and disable what depended on it, in one transaction."""
    rules_lock_for_change()  # checkouts in flight finish first; later ones see the deletion
    locked = Integration.objects.select_for_update().filter(pk=integration.pk).first()
    if locked is None or locked.is_deleted:
        raise DeletionError("This integration has already been deleted.")
    integration = locked
    now = timezone.now()
    reason = (
        f"integration {integration.name} deleted on {now:%Y-%m-%d} by {actor.get_username()}"
    )[:255]
    # Everything is computed here, inside the transaction, from the current state: a rule
    # added after the confirmation was shown is handled too. Set-based statements only.
    affected = _rules_using(integration)
    rules_affected = affected.count()
    linked_ids = list(
        affected.order_by("sort_order", "id").values_list("pk", flat=True)[: MAX_LINKED_IDS + 1]
    )
    rules_disabled = _rules_left_without_enabled_method(integration).update(
        enabled=False, updated_at=now
    )
    # The rules just disabled are the affected ones stamped `now` and now disabled.
    just_disabled = affected.filter(enabled=False, updated_at=now)
    if rules_disabled:
        _audit_rules(
            just_disabled, actor=actor, changes={"enabled": [True, False], "methods": reason}
        )
    if rules_affected > rules_disabled:
        _audit_rules(
            affected.exclude(pk__in=just_disabled.values("pk")),
            actor=actor,
            changes={"methods": reason},
        )
    rule_methods_disabled = PaymentRuleMethod.objects.filter(
        method__integration=integration, enabled=True
    ).update(enabled=False, disabled_reason=reason)
    # Rows a person had already switched off get the reason too: they can never come back.
    PaymentRuleMethod.objects.filter(method__integration=integration, enabled=False).exclude(
        disabled_reason=reason
    ).update(disabled_reason=reason)
    affected.exclude(updated_at=now).update(updated_at=now)

    integration.methods.update(is_offered=False)
    integration.deleted_at = now
    integration.is_active = False
    integration.save(update_fields=["deleted_at", "is_active", "updated_at"])
    # The secrets outlive this transaction by the few moments the clean-up takes: giving up the
    # checkouts buyers started (so a Stripe PaymentIntent cannot be paid later, unseen) needs
    # them, and those provider calls cannot run in here: they would hold the rules lock over
    # the network, and a rollback could not undo them. The clean-up runs as soon as this
    # commits and then wipes them; should it never finish, reconcile_payments does.
    from payments.integration_cleanup import integration_cleanup_schedule, started_checkouts

    transaction.on_commit(
        partial(integration_cleanup_schedule, integration_id=integration.pk, actor_id=actor.pk)
    )
    audit_record(
        actor=actor,
        action="integration.deleted",
        target=integration,
        changes={
            "rules affected": rules_affected,
            "rule methods disabled": rule_methods_disabled,
            "rules disabled": rules_disabled,
        },
    )
    return DeletionReport(
        name=integration.name,
        rule_methods_disabled=rule_methods_disabled,
        rules_affected=rules_affected,
        rules_disabled=rules_disabled,
        affected_rule_ids=linked_ids if len(linked_ids) <= MAX_LINKED_IDS else [],
        started_checkouts=started_checkouts(integration_id=integration.pk).count(),
    )
