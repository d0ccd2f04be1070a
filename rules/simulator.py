"""The rule simulator: which methods would a checkout see, and why (DESIGN §4).

The methods shown are exactly `resolve_methods(checkout).methods`, what checkout itself uses.
The trace evaluates every rule in the checkout's currency with the same `evaluate()`; rules in
other currencies can never match nor stop processing, so they are only counted.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count
from django_countries import countries

from integrations.models import PaymentMethod
from rules.destination_forms import region_label
from rules.evaluation import (
    Address,
    Checkout,
    MethodNote,
    Outcome,
    RuleTrace,
    evaluate,
    load_rules,
    resolve_methods,
)
from rules.models import PaymentRule, PaymentRuleDestination

logger = logging.getLogger(__name__)

# Past this many rules in the checkout's currency, rules that did not match are counted by
# outcome instead of listed (a page of thousands of rows helps no one and is slow to render);
# matched rules, and those that only failed on their methods or an expression error, always show.
TRACE_ROW_LIMIT = 300
ALWAYS_LISTED = frozenset({Outcome.MATCHED, Outcome.NO_USABLE_METHOD, Outcome.EXPRESSION_ERROR})

OUTCOME_LABELS: dict[Outcome, str] = {
    Outcome.MATCHED: "Matched",
    Outcome.DISABLED: "Disabled",
    Outcome.CURRENCY: "Other currency",
    Outcome.WEBSITE: "Website",
    Outcome.CUSTOMER_GROUP: "Customer group",
    Outcome.TOTAL: "Total",
    Outcome.DESTINATION: "Destination",
    Outcome.EXPRESSION_FALSE: "Expression false",
    Outcome.EXPRESSION_ERROR: "Expression error",
    Outcome.NO_USABLE_METHOD: "No usable method",
    Outcome.SKIPPED_AFTER_STOP: "Skipped after stop",
}


@dataclass(frozen=True)
class OfferedMethod:
    method: PaymentMethod
    rule: PaymentRule | None  # the first rule that offered it (None only if `disagrees`)


@dataclass(frozen=True)
class MethodRow:
    note: MethodNote
    duplicate: bool  # usable, but an earlier rule already offered it


@dataclass(frozen=True)
class TraceRow:
    position: int
    trace: RuleTrace
    methods: tuple[MethodRow, ...]
    stopped_by: PaymentRule | None  # for SKIPPED_AFTER_STOP

    @property
    def rule(self) -> PaymentRule:
        return self.trace.rule

    @property
    def outcome(self) -> Outcome:
        return self.trace.outcome

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self.trace.outcome]

    @property
    def destinations(self) -> list[str]:
        return [_destination_label(d) for d in self.rule.destinations.all()]


@dataclass(frozen=True)
class OutcomeCount:
    outcome: Outcome
    count: int

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self.outcome]


@dataclass(frozen=True)
class Simulation:
    checkout: Checkout
    methods: list[OfferedMethod]
    rows: list[TraceRow]  # the rules in the checkout's currency that are listed, in order
    outcome_counts: list[OutcomeCount]  # all rules in the checkout's currency, by outcome
    hidden: list[OutcomeCount]  # rules in the checkout's currency not listed, by outcome
    currency_rule_count: int
    other_currencies: list[tuple[str, int]] = field(default_factory=list)
    # True if the trace would offer other methods than checkout does: a bug, never expected.
    disagrees: bool = False

    @property
    def other_currency_rule_count(self) -> int:
        return sum(count for _, count in self.other_currencies)

    @property
    def hidden_count(self) -> int:
        return sum(item.count for item in self.hidden)

    @property
    def billing_address(self) -> str:
        return address_label(self.checkout.billing_address)

    @property
    def facts(self) -> list[tuple[str, str]]:
        """The checkout as simulated, for people: what each rule condition was compared with."""
        checkout = self.checkout
        customer = checkout.customer_name or "Guest"
        facts = [
            ("Total", f"{checkout.currency} {checkout.total:f}"),
            ("Website", checkout.website_name or "Any (no particular website)"),
            ("Customer", customer),
            ("Customer group", checkout.customer_group_name or "None"),
            ("Payment term", checkout.payment_term or "None"),
            ("Billing address", self.billing_address),
        ]
        if checkout.shipping_address != checkout.billing_address:
            facts.append(("Shipping address", address_label(checkout.shipping_address)))
        if checkout.subtotal is not None:
            facts.insert(1, ("Subtotal", f"{checkout.currency} {checkout.subtotal:f}"))
        if checkout.line_items:
            count = len(checkout.line_items)
            facts.append(("Line items", f"{count} line{'s' if count != 1 else ''}"))
        return facts


def simulate(checkout: Checkout) -> Simulation:
    """Resolve `checkout`'s methods as checkout does, and trace every rule in its currency."""
    methods = resolve_methods(checkout).methods
    rules = load_rules(PaymentRule.objects.filter(currency=checkout.currency))
    resolution = evaluate(rules, checkout)
    other_currencies = [
        (row["currency"], row["count"])
        for row in PaymentRule.objects.exclude(currency=checkout.currency)
        .values("currency")
        .annotate(count=Count("id"))
        .order_by("-count", "currency")
    ]

    offered_by: dict[int, PaymentRule] = {}
    rows: list[TraceRow] = []
    hidden: Counter[Outcome] = Counter()
    stopped_by: PaymentRule | None = None
    for position, trace in enumerate(resolution.trace, 1):
        method_rows = []
        for note in trace.methods:
            duplicate = False
            if note.usable and trace.outcome == Outcome.MATCHED:
                duplicate = note.method.pk in offered_by
                offered_by.setdefault(note.method.pk, trace.rule)
            method_rows.append(MethodRow(note, duplicate))
        row = TraceRow(
            position,
            trace,
            tuple(method_rows),
            stopped_by if trace.outcome == Outcome.SKIPPED_AFTER_STOP else None,
        )
        if trace.outcome == Outcome.MATCHED and trace.rule.stop_processing:
            stopped_by = trace.rule
        if len(rows) < TRACE_ROW_LIMIT or trace.outcome in ALWAYS_LISTED:
            rows.append(row)
        else:
            hidden[trace.outcome] += 1

    traced = [m.pk for m in resolution.methods]
    disagrees = traced != [m.pk for m in methods]
    if disagrees:
        logger.error(
            "simulator: the trace offers %s but checkout offers %s", traced, [m.pk for m in methods]
        )
    counts = Counter(trace.outcome for trace in resolution.trace)
    return Simulation(
        checkout=checkout,
        methods=[OfferedMethod(m, offered_by.get(m.pk)) for m in methods],
        rows=rows,
        outcome_counts=_ordered(counts),
        hidden=_ordered(hidden),
        currency_rule_count=len(resolution.trace),
        other_currencies=other_currencies,
        disagrees=disagrees,
    )


def address_label(address: Address) -> str:
    """ "94107 San Francisco, California (US-CA), United States"; "None" when empty."""
    place = " ".join(part for part in (address.postal_code, address.city) if part)
    parts = [
        place,
        region_label(address.region) if address.region else "",
        countries.name(address.country) if address.country else "",
    ]
    return ", ".join(part for part in parts if part) or "None"


def _destination_label(destination: PaymentRuleDestination) -> str:
    parts = [countries.name(str(destination.country))]
    if destination.region:
        parts.append(region_label(destination.region))
    if destination.postal_codes:
        parts.append(f"postal codes {destination.postal_codes}")
    return " · ".join(parts)


def _ordered(counts: Counter[Outcome]) -> list[OutcomeCount]:
    return [OutcomeCount(outcome, counts[outcome]) for outcome in Outcome if counts[outcome]]
