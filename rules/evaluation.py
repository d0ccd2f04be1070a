"""Which payment methods may a checkout use, and why (DESIGN §4).

`evaluate()` is a pure function over rules already loaded with their relations: the checkout
and the simulator share it, so the simulator's trace is exactly what checkout does.
`resolve_methods()` evaluates only the rules a checkout could match (currency, website,
customer group, total and destination country): checkout runs it on every page. It takes them
from the process's copy of the currency's rules (`rules.cached_rules`, one query while no rule
changes), or, on a database without the version triggers, from an SQL prefilter and a leaner
loader than `load_rules()` (see `load_for_checkout()`).
"""

from __future__ import annotations

import enum
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

import cel
from django.db.models import (
    Case,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from integrations.adapters import takes_currency, takes_payments_for
from integrations.models import PaymentMethod
from integrations.types import IntegrationType, environment_allowed
from rules import expressions
from rules.checkout import Address, Checkout, LineItem
from rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod

# Address, Checkout and LineItem are re-exported: callers import them from here.
__all__ = [
    "NEEDS_NON_ZERO_TOTAL",
    "Address",
    "Checkout",
    "LineItem",
    "MethodNote",
    "Outcome",
    "Resolution",
    "RuleTrace",
    "candidate_rules",
    "destination_countries",
    "evaluate",
    "load_for_checkout",
    "load_rules",
    "method_refusal",
    "postal_code_matches",
    "resolve_methods",
]

logger = logging.getLogger(__name__)

# Providers that cannot take a zero total (Stripe, PayPal, Payflow, Authorize.Net).
NEEDS_NON_ZERO_TOTAL = frozenset(
    {
        IntegrationType.STRIPE,
        IntegrationType.PAYPAL_EXPRESS,
        IntegrationType.PAYFLOW_GATEWAY,
        IntegrationType.PAYMENTS_PRO,
        IntegrationType.AUTHORIZE_NET,
    }
)


class Outcome(enum.StrEnum):
    MATCHED = "matched"
    DISABLED = "disabled"
    CURRENCY = "currency"
    WEBSITE = "website"
    CUSTOMER_GROUP = "customer group"
    TOTAL = "total"
    DESTINATION = "destination"
    EXPRESSION_FALSE = "expression false"
    EXPRESSION_ERROR = "expression error"
    NO_USABLE_METHOD = "no usable method"
    SKIPPED_AFTER_STOP = "skipped after stop"


@dataclass(frozen=True)
class MethodNote:
    method: PaymentMethod
    usable: bool
    reason: str = ""  # why it is not usable


@dataclass(frozen=True)
class RuleTrace:
    rule: PaymentRule
    outcome: Outcome
    detail: str = ""
    methods: tuple[MethodNote, ...] = ()


@dataclass(frozen=True)
class Resolution:
    methods: list[PaymentMethod]
    trace: list[RuleTrace]


def postal_code_matches(postal_code: str, patterns: Iterable[str]) -> bool:
    """Exact codes or `*` wildcards, case- and space-insensitive ("941*" matches "94107")."""
    code = postal_code.replace(" ", "").upper()
    return any(_postal_pattern(pattern).fullmatch(code) for pattern in patterns)


@lru_cache(maxsize=4096)
def _postal_pattern(pattern: str) -> re.Pattern[str]:
    # Only `*` is a wildcard; every other character matches itself.
    parts = pattern.replace(" ", "").upper().split("*")
    return re.compile(".*".join(re.escape(part) for part in parts))


class _Destination(NamedTuple):
    country: str
    region: str
    postal_patterns: tuple[str, ...]


class _RuleMethod(NamedTuple):
    method: PaymentMethod
    enabled: bool
    disabled_reason: str


def _destination_matches(destinations: Sequence[_Destination], address: Address) -> bool:
    if not destinations:
        return True
    for destination in destinations:
        if destination.country != address.country:
            continue
        if destination.region and destination.region != address.region:
            continue
        patterns = destination.postal_patterns
        if patterns and not postal_code_matches(address.postal_code, patterns):
            continue
        return True
    return False


def method_refusal(method: PaymentMethod, checkout: Checkout) -> str:
    """Why `method` cannot serve `checkout` ('' when it can)."""
    integration = method.integration
    if integration.is_deleted:
        return "integration deleted"
    if not integration.is_active:
        return "integration inactive"
    if not method.is_offered:
        return "no longer offered by its integration"
    if not environment_allowed(integration.environment):
        return "test-mode integration in a production deployment"
    if not takes_payments_for(integration.type, method.kind):
        return "its provider cannot take this kind of payment yet"
    if not takes_currency(integration.type, checkout.currency):
        # A class attribute read: no call, no query, whatever the number of methods.
        return f"its provider cannot take payments in {checkout.currency.upper()}"
    if integration.type in NEEDS_NON_ZERO_TOTAL and checkout.total <= 0:
        return "the provider needs a non-zero total"
    if integration.type == IntegrationType.PAYMENT_TERM and not checkout.payment_term:
        return "the customer has no payment term"
    return ""


_logged_expression_errors: set[tuple[int, str]] = set()


class _Relations:
    """What evaluation reads of a rule's relations, read from its (prefetched) managers on demand.

    `load_for_checkout()` leaves a `_LoadedRelations` on each rule instead.
    """

    def __init__(self, rule: PaymentRule) -> None:
        self.rule = rule

    @cached_property
    def website_ids(self) -> frozenset[int]:
        return frozenset(w.pk for w in self.rule.websites.all())

    @cached_property
    def customer_group_ids(self) -> frozenset[int]:
        return frozenset(g.pk for g in self.rule.customer_groups.all())

    @cached_property
    def destinations(self) -> tuple[_Destination, ...]:
        return tuple(
            _Destination(str(d.country), d.region, tuple(d.postal_patterns()))
            for d in self.rule.destinations.all()
        )

    @cached_property
    def methods(self) -> tuple[_RuleMethod, ...]:
        return tuple(
            _RuleMethod(rm.method, rm.enabled, rm.disabled_reason) for rm in self.rule.methods.all()
        )


class _LoadedRelations(_Relations):
    def __init__(
        self,
        rule: PaymentRule,
        website_ids: frozenset[int],
        customer_group_ids: frozenset[int],
        destinations: tuple[_Destination, ...],
        methods: tuple[_RuleMethod, ...],
    ) -> None:
        super().__init__(rule)
        # Instance values take precedence over the cached properties.
        self.__dict__.update(
            website_ids=website_ids,
            customer_group_ids=customer_group_ids,
            destinations=destinations,
            methods=methods,
        )


# Attribute under which `load_for_checkout()` leaves a rule's `_LoadedRelations`.
_RELATIONS = "_evaluation_relations"


def _relations(rule: PaymentRule) -> _Relations:
    loaded: _Relations | None = rule.__dict__.get(_RELATIONS)
    return loaded if loaded is not None else _Relations(rule)


def _rule_condition_failure(
    rule: PaymentRule, relations: _Relations, checkout: Checkout
) -> tuple[Outcome, str] | None:
    if not rule.enabled:
        return Outcome.DISABLED, ""
    if rule.currency != checkout.currency:
        return Outcome.CURRENCY, f"rule is for {rule.currency}"
    website_ids = relations.website_ids
    if website_ids and checkout.website_id not in website_ids:
        return Outcome.WEBSITE, "not for this website"
    group_ids = relations.customer_group_ids
    if group_ids and checkout.customer_group_id not in group_ids:
        return Outcome.CUSTOMER_GROUP, "not for this customer group"
    if rule.min_total is not None and checkout.total < rule.min_total:
        return Outcome.TOTAL, f"total below {rule.min_total.normalize():f}"
    if rule.max_total is not None and checkout.total > rule.max_total:
        return Outcome.TOTAL, f"total above {rule.max_total.normalize():f}"
    if not _destination_matches(relations.destinations, checkout.billing_address):
        return Outcome.DESTINATION, "billing address outside the rule's destinations"
    return None


def _expression_failure(
    rule: PaymentRule, variables: dict[str, Any] | cel.Context
) -> tuple[Outcome, str] | None:
    if not rule.expression.strip():
        return None
    try:
        if expressions.evaluate(rule.expression, variables):
            return None
    except expressions.ExpressionProblem as problem:
        key = (rule.pk, rule.expression)
        if key not in _logged_expression_errors:
            if len(_logged_expression_errors) > 10_000:  # bounded: a long-running worker
                _logged_expression_errors.clear()
            _logged_expression_errors.add(key)
            logger.warning("payment rule %s: expression error: %s", rule.pk, problem)
        return Outcome.EXPRESSION_ERROR, str(problem)
    return Outcome.EXPRESSION_FALSE, ""


def evaluate(rules: Iterable[PaymentRule], checkout: Checkout) -> Resolution:
    """Apply DESIGN §4 to rules loaded with `load_rules()`; trace every rule given."""
    ordered = sorted(rules, key=lambda rule: (rule.sort_order, rule.pk))
    # Converted for CEL once per checkout, not once per expression.
    variables: cel.Context | None = None
    methods: list[PaymentMethod] = []
    seen: set[int] = set()
    trace: list[RuleTrace] = []
    stopped_by: PaymentRule | None = None
    for rule in ordered:
        if stopped_by is not None:
            trace.append(RuleTrace(rule, Outcome.SKIPPED_AFTER_STOP, f"after “{stopped_by.name}”"))
            continue
        relations = _relations(rule)
        failure = _rule_condition_failure(rule, relations, checkout)
        if failure is None:
            if variables is None:
                variables = expressions.context(checkout.variables())
            failure = _expression_failure(rule, variables)
        if failure is not None:
            trace.append(RuleTrace(rule, *failure))
            continue
        notes = tuple(
            MethodNote(rm.method, not reason, reason)
            for rm in relations.methods
            for reason in [
                rm.disabled_reason or "disabled in this rule"
                if not rm.enabled
                else method_refusal(rm.method, checkout)
            ]
        )
        usable = [note.method for note in notes if note.usable]
        if not usable:
            trace.append(RuleTrace(rule, Outcome.NO_USABLE_METHOD, "", notes))
            continue
        trace.append(RuleTrace(rule, Outcome.MATCHED, "", notes))
        for method in usable:
            if method.pk not in seen:
                seen.add(method.pk)
                methods.append(method)
        if rule.stop_processing:
            stopped_by = rule
    return Resolution(methods=methods, trace=trace)


def load_rules(rules: QuerySet[PaymentRule]) -> QuerySet[PaymentRule]:
    """Attach what evaluation reads, in a fixed number of queries however many rules."""
    return rules.prefetch_related(
        "websites",
        "customer_groups",
        "destinations",
        Prefetch(
            "methods",
            queryset=PaymentRuleMethod.objects.select_related("method__integration").order_by("id"),
        ),
    )


def _none_or_any(related: QuerySet[Any], rule_field: str, condition: Q) -> Coalesce:
    """1 when the rule has no `related` rows or one meeting `condition`, else 0.

    One correlated aggregate per rule (NULL without rows) rather than `NOT EXISTS … OR EXISTS …`,
    which PostgreSQL turns into hashed subplans reading the whole related table per checkout.
    """
    any_row = (
        related.filter(**{rule_field: OuterRef("pk")})
        .order_by()
        .values(rule_field)
        .annotate(any=Max(Case(When(condition, then=Value(1)), default=Value(0))))
        .values("any")
    )
    return Coalesce(Subquery(any_row, output_field=IntegerField()), Value(1))


def candidate_rules(checkout: Checkout) -> QuerySet[PaymentRule]:
    """Enabled rules that could match: everything but postal codes and expressions, in SQL."""
    # PostgreSQL refuses text with NUL characters. No stored value holds one, so dropping them
    # only lets through rules that evaluate() then refuses: the prefilter stays a superset.
    currency = checkout.currency.replace("\x00", "")
    country = checkout.billing_address.country.replace("\x00", "")
    region = checkout.billing_address.region.replace("\x00", "")
    return (
        PaymentRule.objects.filter(
            Q(enabled=True),
            Q(currency=currency),
            Q(min_total__isnull=True) | Q(min_total__lte=checkout.total),
            Q(max_total__isnull=True) | Q(max_total__gte=checkout.total),
        )
        .alias(
            website_ok=_none_or_any(
                PaymentRule.websites.through.objects.all(),
                "paymentrule",
                Q(website=checkout.website_id),
            ),
            customer_group_ok=_none_or_any(
                PaymentRule.customer_groups.through.objects.all(),
                "paymentrule",
                Q(customergroup=checkout.customer_group_id),
            ),
            destination_ok=_none_or_any(
                PaymentRuleDestination.objects.all(),
                "rule",
                Q(country=country) & (Q(region="") | Q(region=region)),
            ),
        )
        .filter(website_ok=1, customer_group_ok=1, destination_ok=1)
    )


def load_for_checkout(rules: QuerySet[PaymentRule]) -> list[PaymentRule]:
    """`rules` with what evaluation reads, in at most five queries however many rules.

    The same data as `load_rules()` for less work, as checkout runs this on every page: Django's
    prefetch builds a queryset per rule and relation, and `select_related` a method and an
    integration per rule method. Here relations are read as plain values, and each payment
    method (with its integration) is loaded once and shared. The rules' own managers
    (`rule.destinations.all()`…) are not prefetched.
    """
    loaded = list(rules)
    if not loaded:
        return loaded
    pks = [rule.pk for rule in loaded]
    websites = PaymentRule.websites.through.objects.filter(paymentrule_id__in=pks)
    groups = PaymentRule.customer_groups.through.objects.filter(paymentrule_id__in=pks)
    related_ids: dict[int, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    for kind, rule_id, related_id in websites.values_list(
        Value(0, output_field=IntegerField()), "paymentrule_id", "website_id"
    ).union(
        groups.values_list(
            Value(1, output_field=IntegerField()), "paymentrule_id", "customergroup_id"
        ),
        all=True,
    ):
        related_ids[rule_id][kind].add(related_id)
    destinations: dict[int, list[_Destination]] = defaultdict(list)
    for rule_id, country, region, postal_codes in (
        PaymentRuleDestination.objects.filter(rule_id__in=pks)
        .order_by("id")
        .values_list("rule_id", "country", "region", "postal_codes")
    ):
        patterns = PaymentRuleDestination(postal_codes=postal_codes).postal_patterns()
        destinations[rule_id].append(_Destination(country, region, tuple(patterns)))
    rule_methods = list(
        PaymentRuleMethod.objects.filter(rule_id__in=pks)
        .order_by("id")
        .values_list("rule_id", "method_id", "enabled", "disabled_reason")
    )
    methods = (
        PaymentMethod.objects.select_related("integration").in_bulk(
            {row[1] for row in rule_methods}
        )
        if rule_methods
        else {}
    )
    methods_by_rule: dict[int, list[_RuleMethod]] = defaultdict(list)
    for rule_id, method_id, enabled, disabled_reason in rule_methods:
        methods_by_rule[rule_id].append(_RuleMethod(methods[method_id], enabled, disabled_reason))
    for rule in loaded:
        website_ids, group_ids = related_ids.get(rule.pk, ((), ()))
        relations = _LoadedRelations(
            rule,
            website_ids=frozenset(website_ids),
            customer_group_ids=frozenset(group_ids),
            destinations=tuple(destinations.get(rule.pk, ())),
            methods=tuple(methods_by_rule.get(rule.pk, ())),
        )
        setattr(rule, _RELATIONS, relations)
    return loaded


def destination_countries(rule: PaymentRule) -> set[str]:
    """The countries the rule's destinations name (empty: the rule applies anywhere)."""
    return {destination.country for destination in _relations(rule).destinations}


def _candidate(rule: PaymentRule, checkout: Checkout) -> bool:
    """What `candidate_rules()` checks in SQL: all but the currency, postal codes, expressions."""
    relations = _relations(rule)
    address = checkout.billing_address
    return (
        (rule.min_total is None or checkout.total >= rule.min_total)
        and (rule.max_total is None or checkout.total <= rule.max_total)
        and (not relations.website_ids or checkout.website_id in relations.website_ids)
        and (
            not relations.customer_group_ids
            or checkout.customer_group_id in relations.customer_group_ids
        )
        and (
            not relations.destinations
            or any(
                d.country == address.country and d.region in ("", address.region)
                for d in relations.destinations
            )
        )
    )


def resolve_methods(checkout: Checkout) -> Resolution:
    """The methods `checkout` may use, in rule order, without duplicates."""
    from rules import cached_rules  # imported here: it loads rules through this module

    rules = cached_rules.rules_for(checkout)
    if rules is None:
        return evaluate(load_for_checkout(candidate_rules(checkout)), checkout)
    return evaluate([rule for rule in rules if _candidate(rule, checkout)], checkout)
