"""Which payment methods may a checkout use, and why (DESIGN §4).

`evaluate()` is a pure function over rules already loaded with their relations: the checkout
and the simulator share it, so the simulator's trace is exactly what checkout does.
`resolve_methods()` loads only the rules a checkout could match (SQL prefilter on currency,
website, customer group, total and destination country) in a fixed number of queries.
"""

from __future__ import annotations

import enum
import fnmatch
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from integrations.models import PaymentMethod
from integrations.types import IntegrationType, environment_allowed
from rules import expressions
from rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod

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


@dataclass(frozen=True)
class Address:
    country: str = ""  # ISO 3166-1 alpha-2
    region: str = ""  # ISO 3166-2, e.g. "US-CA"
    postal_code: str = ""
    city: str = ""


@dataclass(frozen=True)
class LineItem:
    sku: str
    quantity: int
    price: Decimal


@dataclass(frozen=True)
class Checkout:
    """Everything rules may look at, as plain data."""

    currency: str
    total: Decimal
    subtotal: Decimal | None = None
    website_id: int | None = None
    website_code: str = ""
    website_name: str = ""
    customer_id: int | None = None
    customer_name: str = ""
    customer_group_id: int | None = None
    customer_group_name: str = ""
    customer_user_id: int | None = None
    customer_user_email: str = ""
    payment_term: str = ""  # the customer's (or its group's) term, '' when none
    billing_address: Address = field(default_factory=Address)
    shipping_address: Address = field(default_factory=Address)
    line_items: tuple[LineItem, ...] = ()

    def variables(self) -> dict[str, Any]:
        """The checkout as CEL sees it (amounts as doubles, as CEL compares them)."""

        def address(a: Address) -> dict[str, str]:
            return {
                "countryIso2": a.country,
                "regionCode": a.region,
                "postalCode": a.postal_code,
                "city": a.city,
            }

        subtotal = self.subtotal if self.subtotal is not None else self.total
        return {
            "currency": self.currency,
            "subtotal": float(subtotal),
            "total": float(self.total),
            "website": {
                "id": self.website_id or 0,
                "code": self.website_code,
                "name": self.website_name,
            },
            "customer": {
                "id": self.customer_id or 0,
                "name": self.customer_name,
                "group": {"id": self.customer_group_id or 0, "name": self.customer_group_name},
            },
            "customerUser": {"id": self.customer_user_id or 0, "email": self.customer_user_email},
            "billingAddress": address(self.billing_address),
            "shippingAddress": address(self.shipping_address),
            "lineItems": [
                {"sku": li.sku, "quantity": li.quantity, "price": float(li.price)}
                for li in self.line_items
            ],
        }


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
    """Exact codes or `*` wildcards, case- and space-insensitive ("940*" matches "94107")."""
    code = postal_code.replace(" ", "").upper()
    return any(fnmatch.fnmatchcase(code, pattern.replace(" ", "").upper()) for pattern in patterns)


def _destination_matches(destinations: list[PaymentRuleDestination], address: Address) -> bool:
    if not destinations:
        return True
    for destination in destinations:
        if str(destination.country) != address.country:
            continue
        if destination.region and destination.region != address.region:
            continue
        patterns = destination.postal_patterns()
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
    if integration.type in NEEDS_NON_ZERO_TOTAL and checkout.total <= 0:
        return "the provider needs a non-zero total"
    if integration.type == IntegrationType.PAYMENT_TERM and not checkout.payment_term:
        return "the customer has no payment term"
    return ""


_logged_expression_errors: set[tuple[int, str]] = set()


def _rule_condition_failure(rule: PaymentRule, checkout: Checkout) -> tuple[Outcome, str] | None:
    if not rule.enabled:
        return Outcome.DISABLED, ""
    if rule.currency != checkout.currency:
        return Outcome.CURRENCY, f"rule is for {rule.currency}"
    website_ids = {w.pk for w in rule.websites.all()}
    if website_ids and checkout.website_id not in website_ids:
        return Outcome.WEBSITE, "not for this website"
    group_ids = {g.pk for g in rule.customer_groups.all()}
    if group_ids and checkout.customer_group_id not in group_ids:
        return Outcome.CUSTOMER_GROUP, "not for this customer group"
    if rule.min_total is not None and checkout.total < rule.min_total:
        return Outcome.TOTAL, f"total below {rule.min_total.normalize():f}"
    if rule.max_total is not None and checkout.total > rule.max_total:
        return Outcome.TOTAL, f"total above {rule.max_total.normalize():f}"
    if not _destination_matches(list(rule.destinations.all()), checkout.billing_address):
        return Outcome.DESTINATION, "billing address outside the rule's destinations"
    return None


def _expression_failure(rule: PaymentRule, variables: dict[str, Any]) -> tuple[Outcome, str] | None:
    if not rule.expression.strip():
        return None
    try:
        if expressions.evaluate(rule.expression, variables):
            return None
    except expressions.ExpressionProblem as problem:
        key = (rule.pk, rule.expression)
        if key not in _logged_expression_errors:
            _logged_expression_errors.add(key)
            logger.warning("payment rule %s: expression error: %s", rule.pk, problem)
        return Outcome.EXPRESSION_ERROR, str(problem)
    return Outcome.EXPRESSION_FALSE, ""


def evaluate(rules: Iterable[PaymentRule], checkout: Checkout) -> Resolution:
    """Apply DESIGN §4 to rules loaded with `load_rules()`; trace every rule given."""
    ordered = sorted(rules, key=lambda rule: (rule.sort_order, rule.pk))
    variables: dict[str, Any] | None = None
    methods: list[PaymentMethod] = []
    seen: set[int] = set()
    trace: list[RuleTrace] = []
    stopped_by: PaymentRule | None = None
    for rule in ordered:
        if stopped_by is not None:
            trace.append(RuleTrace(rule, Outcome.SKIPPED_AFTER_STOP, f"after “{stopped_by.name}”"))
            continue
        failure = _rule_condition_failure(rule, checkout)
        if failure is None:
            variables = variables if variables is not None else checkout.variables()
            failure = _expression_failure(rule, variables)
        if failure is not None:
            trace.append(RuleTrace(rule, *failure))
            continue
        notes = tuple(
            MethodNote(rm.method, not reason, reason)
            for rm in rule.methods.all()
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


def candidate_rules(checkout: Checkout) -> QuerySet[PaymentRule]:
    """Enabled rules that could match: everything but postal codes and expressions, in SQL."""
    through_websites = PaymentRule.websites.through.objects.filter(paymentrule=OuterRef("pk"))
    through_groups = PaymentRule.customer_groups.through.objects.filter(paymentrule=OuterRef("pk"))
    destinations = PaymentRuleDestination.objects.filter(rule=OuterRef("pk"))
    country = checkout.billing_address.country
    return PaymentRule.objects.filter(
        Q(enabled=True),
        Q(currency=checkout.currency),
        ~Exists(through_websites) | Exists(through_websites.filter(website=checkout.website_id)),
        ~Exists(through_groups)
        | Exists(through_groups.filter(customergroup=checkout.customer_group_id)),
        Q(min_total__isnull=True) | Q(min_total__lte=checkout.total),
        Q(max_total__isnull=True) | Q(max_total__gte=checkout.total),
        ~Exists(destinations)
        | Exists(
            destinations.filter(country=country).filter(
                Q(region="") | Q(region=checkout.billing_address.region)
            )
        ),
    )


def resolve_methods(checkout: Checkout) -> Resolution:
    """The methods `checkout` may use, in rule order, without duplicates."""
    return evaluate(load_rules(candidate_rules(checkout)), checkout)
