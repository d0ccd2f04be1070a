"""Rule evaluation (DESIGN §4): which payment methods a checkout may use, and why.

Database tests resolve every checkout twice — `resolve_methods()` (SQL prefilter + evaluate) and
`evaluate()` over *all* rules — and require the same methods, so each case also checks that the
prefilter never drops a rule that would match.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backoffice.models import CustomerGroup, Website
from integrations import services as integration_services
from integrations.models import Integration, PaymentMethod
from integrations.types import Environment, IntegrationType
from rules import evaluation
from rules.evaluation import (
    Address,
    Checkout,
    LineItem,
    Outcome,
    Resolution,
    RuleTrace,
    candidate_rules,
    evaluate,
    load_rules,
    method_refusal,
    postal_code_matches,
    resolve_methods,
)
from rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod, RuleSetVersion
from rules.services import DestinationData, RuleData, RuleMethodData, rule_save
from tests.factories import CustomerGroupFactory, UserFactory, WebsiteFactory, create_integration

SF = Address(country="US", region="US-CA", postal_code="94107", city="San Francisco")
NYC = Address(country="US", region="US-NY", postal_code="10001", city="New York")
BERLIN = Address(country="DE", region="DE-BE", postal_code="10115", city="Berlin")
LONDON = Address(country="GB", region="GB-LND", postal_code="SW1A 1AA", city="London")

LIVE_STRIPE = {
    "publishable_key": "pk_live_LivePublishable0001",
    "secret_key": "sk_live_" + "LiveSecretKey000000001",
    "webhook_signing_secret": None,
}


# --- helpers ------------------------------------------------------------------------------------


def checkout(**overrides: Any) -> Checkout:
    values: dict[str, Any] = {"currency": "USD", "total": Decimal("100.00"), "billing_address": SF}
    values.update(overrides)
    return Checkout(**values)


def resolve(c: Checkout) -> Resolution:
    """Evaluate over all rules, and check the prefiltered path gives exactly the same answer."""
    full = evaluate(load_rules(PaymentRule.objects.all()), c)
    fast = resolve_methods(c)
    assert [m.pk for m in fast.methods] == [m.pk for m in full.methods]
    assert_prefilter_consistent(full, fast)
    return full


# Outcomes decided before the expression; the only ones the SQL prefilter may decide instead.
PREFILTERABLE = {
    Outcome.DISABLED,
    Outcome.CURRENCY,
    Outcome.WEBSITE,
    Outcome.CUSTOMER_GROUP,
    Outcome.TOTAL,
    Outcome.DESTINATION,
}


def assert_prefilter_consistent(full: Resolution, fast: Resolution) -> None:
    full_by_rule = {t.rule.pk: t for t in full.trace}
    fast_by_rule = {t.rule.pk: t for t in fast.trace}
    # Every rule the prefilter kept is traced exactly as over all rules…
    for pk, trace in fast_by_rule.items():
        assert (trace.outcome, trace.detail) == (full_by_rule[pk].outcome, full_by_rule[pk].detail)
    # …and every rule it dropped fails a condition the prefilter knows (or was skipped anyway).
    for pk, trace in full_by_rule.items():
        if pk not in fast_by_rule:
            assert trace.outcome in PREFILTERABLE | {Outcome.SKIPPED_AFTER_STOP}, trace


def labels(resolution: Resolution) -> list[str]:
    return [m.admin_label for m in resolution.methods]


def trace_of(resolution: Resolution, rule: PaymentRule) -> RuleTrace:
    (found,) = [t for t in resolution.trace if t.rule.pk == rule.pk]
    return found


@pytest.fixture(autouse=True)
def fresh_expression_error_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """Expression errors are logged once per rule and process; start every test afresh."""
    monkeypatch.setattr(evaluation, "_logged_expression_errors", set())


@pytest.fixture
def actor(db: None) -> User:
    return UserFactory(username="rule-admin", groups=["Administrators"])


@pytest.fixture
def make_rule(actor: User):
    counter = iter(range(1, 10_000))

    def make(*methods: PaymentMethod | RuleMethodData, **fields: Any) -> PaymentRule:
        data = RuleData(
            name=f"Rule {next(counter)}",
            currency="USD",
            methods=tuple(
                m if isinstance(m, RuleMethodData) else RuleMethodData(m) for m in methods
            ),
        )
        return rule_save(rule=None, data=dataclasses.replace(data, **fields), actor=actor)

    return make


def _method(actor: User, type: str, name: str, **overrides: Any) -> PaymentMethod:
    integration = create_integration(type, name, actor=actor, **overrides)
    return integration.methods.order_by("id").first()


@pytest.fixture
def check(actor: User) -> PaymentMethod:
    return _method(actor, IntegrationType.MONEY_ORDER, "Check")


@pytest.fixture
def stripe(actor: User) -> PaymentMethod:
    return _method(actor, IntegrationType.STRIPE, "Stripe")


@pytest.fixture
def paypal(actor: User) -> PaymentMethod:
    return _method(actor, IntegrationType.PAYPAL_EXPRESS, "PayPal")


@pytest.fixture
def terms(actor: User) -> PaymentMethod:
    return _method(actor, IntegrationType.PAYMENT_TERM, "Terms")


@pytest.fixture
def production(settings):
    settings.IS_PRODUCTION = True
    settings.PAYMENTS_ENVIRONMENT = "production"
    return settings


# --- pure functions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "patterns", "expected"),
    [
        ("94107", ["94107"], True),
        ("94107", ["94108"], False),
        ("94107", ["10001", "94107"], True),
        ("94107", ["941*"], True),
        ("941", ["941*"], True),  # `*` also matches nothing
        ("94107", ["940*"], False),  # 94107 starts with 941, not 940
        ("94016", ["940*"], True),
        ("9410", ["940*"], False),
        ("9410", ["9410*"], True),
        ("94107", ["9410"], False),  # exact codes are whole codes, not prefixes
        ("94107", ["*07"], True),
        ("94107", ["9*7"], True),
        ("94107", ["*"], True),
        ("", ["*"], True),
        ("", ["941*"], False),
        ("sw1a 1aa", ["SW1A1AA"], True),  # case- and space-insensitive
        ("SW1A1AA", ["sw1a 1aa"], True),
        ("SW1A 1AA", ["sw1a*"], True),
        (" 10115 ", ["10115"], True),
        ("10115", ["1 0 1 1 5"], True),
        ("EC1A", ["SW1A*"], False),
        ("94107", [], False),
    ],
)
def test_postal_code_matches(code: str, patterns: list[str], expected: bool) -> None:
    assert postal_code_matches(code, patterns) is expected


def test_postal_patterns_split_on_commas_and_drop_blanks() -> None:
    destination = PaymentRuleDestination(country="US", postal_codes=" 10001, 940* ,, ,941*")
    assert destination.postal_patterns() == ["10001", "940*", "941*"]


def _unsaved_method(**integration_fields: Any) -> PaymentMethod:
    values = {
        "type": IntegrationType.STRIPE,
        "name": "Stripe",
        "is_active": True,
        "environment": Environment.SANDBOX,
        **integration_fields,
    }
    return PaymentMethod(
        integration=Integration(**values), identifier="m", kind="credit_card", is_offered=True
    )


@pytest.mark.parametrize(
    ("integration_fields", "method_fields", "total", "term", "expected"),
    [
        ({}, {}, Decimal("1"), "", ""),
        ({"is_active": False}, {}, Decimal("1"), "", "integration inactive"),
        ({"deleted_at": timezone.now()}, {}, Decimal("1"), "", "integration deleted"),
        (
            {"deleted_at": timezone.now(), "is_active": False},
            {},
            Decimal("1"),
            "",
            "integration deleted",
        ),
        ({}, {"is_offered": False}, Decimal("1"), "", "no longer offered by its integration"),
        ({"environment": Environment.LIVE}, {}, Decimal("1"), "", "test-mode"),
        ({}, {}, Decimal("0"), "", "the provider needs a non-zero total"),
        ({}, {}, Decimal("-5"), "", "the provider needs a non-zero total"),
        ({"type": IntegrationType.PAYPAL_EXPRESS}, {}, Decimal("0"), "", "non-zero total"),
        ({"type": IntegrationType.PAYFLOW_GATEWAY}, {}, Decimal("0"), "", "non-zero total"),
        ({"type": IntegrationType.PAYMENTS_PRO}, {}, Decimal("0"), "", "non-zero total"),
        ({"type": IntegrationType.AUTHORIZE_NET}, {}, Decimal("0"), "", "non-zero total"),
        (
            {"type": IntegrationType.MONEY_ORDER, "environment": Environment.OFFLINE},
            {},
            Decimal("0"),
            "",
            "",
        ),
        (
            {"type": IntegrationType.PAYMENT_TERM, "environment": Environment.OFFLINE},
            {},
            Decimal("0"),
            "",
            "the customer has no payment term",
        ),
        (
            {"type": IntegrationType.PAYMENT_TERM, "environment": Environment.OFFLINE},
            {},
            Decimal("0"),
            "Net 30",
            "",
        ),
    ],
)
def test_method_refusal(
    integration_fields: dict[str, Any],
    method_fields: dict[str, Any],
    total: Decimal,
    term: str,
    expected: str,
) -> None:
    method = _unsaved_method(**integration_fields)
    for name, value in method_fields.items():
        setattr(method, name, value)
    reason = method_refusal(method, checkout(total=total, payment_term=term))
    if expected:
        assert expected in reason
    else:
        assert reason == ""


def test_checkout_variables_are_what_cel_sees() -> None:
    c = checkout(
        total=Decimal("130.50"),
        website_id=3,
        website_code="us",
        customer_group_id=7,
        customer_group_name="Wholesale",
        shipping_address=NYC,
        line_items=(LineItem("SKU-1", 2, Decimal("60.25")),),
    )
    variables = c.variables()
    assert variables["total"] == 130.5
    assert variables["subtotal"] == 130.5  # defaults to the total
    assert variables["website"] == {"id": 3, "code": "us", "name": ""}
    assert variables["customer"]["group"] == {"id": 7, "name": "Wholesale"}
    assert variables["customerUser"] == {"id": 0, "email": ""}
    assert variables["billingAddress"]["postalCode"] == "94107"
    assert variables["shippingAddress"]["regionCode"] == "US-NY"
    assert variables["lineItems"] == [{"sku": "SKU-1", "quantity": 2, "price": 60.25}]
    assert checkout(subtotal=Decimal("90"), total=Decimal("99")).variables()["subtotal"] == 90.0


def test_evaluate_reads_relations_of_rules_not_prefetched(make_rule, check, stripe) -> None:
    make_rule(stripe, destinations=(DestinationData("US", "US-CA", "941*"),), sort_order=1)
    make_rule(RuleMethodData(stripe, enabled=False), check, websites=(WebsiteFactory(),))
    make_rule(check, customer_groups=(CustomerGroupFactory(),))
    for c in (checkout(), checkout(billing_address=BERLIN)):
        plain = evaluate(PaymentRule.objects.all(), c)
        loaded = evaluate(load_rules(PaymentRule.objects.all()), c)
        assert plain == loaded


def test_evaluate_over_no_rules_offers_nothing() -> None:
    assert evaluate([], checkout()) == Resolution(methods=[], trace=[])


# --- order and stop processing ------------------------------------------------------------------


def test_rules_run_by_sort_order(make_rule, check, stripe, paypal) -> None:
    late = make_rule(check, sort_order=30)
    first = make_rule(stripe, sort_order=-5)
    middle = make_rule(paypal, sort_order=10)
    result = resolve(checkout())
    assert labels(result) == ["Stripe", "PayPal", "Check"]
    assert [t.rule.pk for t in result.trace] == [first.pk, middle.pk, late.pk]
    assert all(t.outcome == Outcome.MATCHED for t in result.trace)


def test_sort_order_ties_are_broken_by_id(make_rule, check, stripe, paypal) -> None:
    a = make_rule(paypal, sort_order=5)
    b = make_rule(stripe, sort_order=5)
    c = make_rule(check, sort_order=5)
    result = resolve(checkout())
    assert labels(result) == ["PayPal", "Stripe", "Check"]
    assert [t.rule.pk for t in result.trace] == [a.pk, b.pk, c.pk]


def test_evaluate_sorts_rules_given_in_any_order(make_rule, check, stripe) -> None:
    make_rule(check, sort_order=2)
    make_rule(stripe, sort_order=1)
    rules = list(load_rules(PaymentRule.objects.order_by("-sort_order")))
    assert labels(evaluate(rules, checkout())) == ["Stripe", "Check"]


def test_stop_processing_skips_later_rules(make_rule, check, stripe, paypal) -> None:
    make_rule(stripe, sort_order=1)
    stopper = make_rule(paypal, sort_order=2, stop_processing=True, name="Stopper")
    after = make_rule(check, sort_order=3)
    result = resolve(checkout())
    assert labels(result) == ["Stripe", "PayPal"]
    assert trace_of(result, stopper).outcome == Outcome.MATCHED
    skipped = trace_of(result, after)
    assert skipped.outcome == Outcome.SKIPPED_AFTER_STOP
    assert "Stopper" in skipped.detail


def test_without_stop_processing_every_matching_rule_contributes(
    make_rule, check, stripe, paypal
) -> None:
    make_rule(stripe, sort_order=1)
    make_rule(paypal, sort_order=2, stop_processing=False)
    make_rule(check, sort_order=3)
    assert labels(resolve(checkout())) == ["Stripe", "PayPal", "Check"]


def test_a_stop_rule_that_does_not_match_does_not_stop(make_rule, check, stripe) -> None:
    make_rule(stripe, sort_order=1, stop_processing=True, currency="EUR")
    make_rule(stripe, sort_order=2, stop_processing=True, expression="total > 1000.0")
    make_rule(check, sort_order=3)
    assert labels(resolve(checkout())) == ["Check"]


def test_a_stop_rule_whose_methods_are_all_disabled_does_not_stop(make_rule, check, stripe) -> None:
    stopper = make_rule(RuleMethodData(stripe, enabled=False), stop_processing=True, sort_order=1)
    make_rule(check, sort_order=2)
    result = resolve(checkout())
    assert labels(result) == ["Check"]
    trace = trace_of(result, stopper)
    assert trace.outcome == Outcome.NO_USABLE_METHOD
    assert [(n.method.pk, n.usable, n.reason) for n in trace.methods] == [
        (stripe.pk, False, "disabled in this rule")
    ]


@pytest.mark.parametrize("how", ["inactive", "deleted", "not offered", "zero total"])
def test_a_stop_rule_without_usable_methods_does_not_stop(
    make_rule, actor, check, stripe, how
) -> None:
    stopper = make_rule(stripe, stop_processing=True, sort_order=1)
    make_rule(check, sort_order=2)
    total = Decimal("100")
    if how == "inactive":
        integration_services.integration_set_active(
            integration=stripe.integration, active=False, actor=actor
        )
    elif how == "deleted":
        Integration.objects.filter(pk=stripe.integration_id).update(deleted_at=timezone.now())
    elif how == "not offered":
        PaymentMethod.objects.filter(pk=stripe.pk).update(is_offered=False)
    else:
        total = Decimal("0")
    result = resolve(checkout(total=total))
    assert labels(result) == ["Check"]
    assert trace_of(result, stopper).outcome == Outcome.NO_USABLE_METHOD


def test_a_stop_rule_with_one_usable_method_stops(make_rule, check, stripe, paypal) -> None:
    make_rule(RuleMethodData(stripe, enabled=False), paypal, stop_processing=True, sort_order=1)
    make_rule(check, sort_order=2)
    assert labels(resolve(checkout())) == ["PayPal"]


def test_a_disabled_rule_is_ignored(make_rule, check, stripe) -> None:
    disabled = make_rule(stripe, enabled=False, stop_processing=True, sort_order=1)
    make_rule(check, sort_order=2)
    result = resolve(checkout())
    assert labels(result) == ["Check"]
    assert trace_of(result, disabled).outcome == Outcome.DISABLED
    assert disabled.pk not in {r.pk for r in candidate_rules(checkout())}


# --- destinations (matched against the billing address) -----------------------------------------


def test_no_destination_means_everywhere(make_rule, check) -> None:
    make_rule(check)
    for address in (SF, NYC, BERLIN, LONDON, Address()):
        assert labels(resolve(checkout(billing_address=address))) == ["Check"]


def test_destination_country(make_rule, check) -> None:
    rule = make_rule(check, destinations=(DestinationData("US"),))
    assert labels(resolve(checkout(billing_address=SF))) == ["Check"]
    assert labels(resolve(checkout(billing_address=NYC))) == ["Check"]
    for address in (BERLIN, Address()):
        result = resolve(checkout(billing_address=address))
        assert labels(result) == []
        trace = trace_of(result, rule)
        assert trace.outcome == Outcome.DESTINATION
        assert trace.detail == "billing address outside the rule's destinations"


def test_destination_region(make_rule, check) -> None:
    make_rule(check, destinations=(DestinationData("US", region="US-CA"),))
    assert labels(resolve(checkout(billing_address=SF))) == ["Check"]
    assert labels(resolve(checkout(billing_address=NYC))) == []
    no_region = dataclasses.replace(SF, region="")
    assert labels(resolve(checkout(billing_address=no_region))) == []


@pytest.mark.parametrize(
    ("postal_codes", "postal_code", "expected"),
    [
        ("94107", "94107", True),
        ("94107", "94108", False),
        ("10001, 94107", "94107", True),
        ("10001, 94107", "10001", True),
        ("10001, 94107", "10002", False),
        ("941*", "94107", True),
        ("940*", "94107", False),
        ("940*", "94016", True),
        ("940*", "9410", False),
        ("9410*", "9410", True),
        ("9410", "94107", False),
        ("sw1a*", "SW1A 1AA", True),
        ("SW1A 1AA", "sw1a1aa", True),
        ("941*", "", False),
    ],
)
def test_destination_postal_codes(make_rule, check, postal_codes, postal_code, expected) -> None:
    make_rule(check, destinations=(DestinationData("US", postal_codes=postal_codes),))
    address = Address(country="US", region="US-CA", postal_code=postal_code)
    assert labels(resolve(checkout(billing_address=address))) == (["Check"] if expected else [])


def test_region_and_postal_codes_must_both_match(make_rule, check) -> None:
    make_rule(check, destinations=(DestinationData("US", "US-CA", "941*"),))
    assert labels(resolve(checkout(billing_address=SF))) == ["Check"]
    elsewhere_in_ca = dataclasses.replace(SF, postal_code="90001")
    assert labels(resolve(checkout(billing_address=elsewhere_in_ca))) == []
    ny_with_ca_code = dataclasses.replace(NYC, postal_code="94107")
    assert labels(resolve(checkout(billing_address=ny_with_ca_code))) == []


def test_several_destinations_on_one_rule_any_matches(make_rule, check) -> None:
    make_rule(
        check,
        destinations=(
            DestinationData("DE"),
            DestinationData("US", "US-CA", "941*"),
            DestinationData("GB", postal_codes="SW1A*, EC1A*"),
        ),
    )
    assert labels(resolve(checkout(billing_address=BERLIN))) == ["Check"]
    assert labels(resolve(checkout(billing_address=SF))) == ["Check"]
    assert labels(resolve(checkout(billing_address=LONDON))) == ["Check"]
    manchester = Address(country="GB", postal_code="M1 1AE")
    for address in (NYC, dataclasses.replace(SF, postal_code="90001"), manchester):
        assert labels(resolve(checkout(billing_address=address))) == []


def test_destinations_are_matched_against_the_billing_address(make_rule, check) -> None:
    """A documented choice, as OroCommerce does: the shipping address plays no part."""
    make_rule(check, destinations=(DestinationData("US"),))
    assert labels(resolve(checkout(billing_address=BERLIN, shipping_address=SF))) == []
    assert labels(resolve(checkout(billing_address=SF, shipping_address=BERLIN))) == ["Check"]
    assert labels(resolve(checkout(billing_address=SF, shipping_address=Address()))) == ["Check"]


# --- websites, customer groups, totals, currency ------------------------------------------------


def test_websites(make_rule, check, stripe) -> None:
    us, eu, other = WebsiteFactory(), WebsiteFactory(), WebsiteFactory()
    restricted = make_rule(stripe, websites=(us, eu))
    make_rule(check)  # no websites: all of them
    assert labels(resolve(checkout(website_id=us.pk))) == ["Stripe", "Check"]
    assert labels(resolve(checkout(website_id=eu.pk))) == ["Stripe", "Check"]
    result = resolve(checkout(website_id=other.pk))
    assert labels(result) == ["Check"]
    assert trace_of(result, restricted).outcome == Outcome.WEBSITE
    assert labels(resolve(checkout(website_id=None))) == ["Check"]


def test_customer_groups(make_rule, check, stripe) -> None:
    wholesale, retail, other = (
        CustomerGroupFactory(),
        CustomerGroupFactory(),
        CustomerGroupFactory(),
    )
    restricted = make_rule(stripe, customer_groups=(wholesale, retail))
    make_rule(check)  # no groups: all of them, and guests
    assert labels(resolve(checkout(customer_group_id=wholesale.pk))) == ["Stripe", "Check"]
    assert labels(resolve(checkout(customer_group_id=retail.pk))) == ["Stripe", "Check"]
    result = resolve(checkout(customer_group_id=other.pk))
    assert labels(result) == ["Check"]
    assert trace_of(result, restricted).outcome == Outcome.CUSTOMER_GROUP
    assert labels(resolve(checkout(customer_group_id=None))) == ["Check"]


def test_website_and_group_together(make_rule, check) -> None:
    site, group = WebsiteFactory(), CustomerGroupFactory()
    make_rule(check, websites=(site,), customer_groups=(group,))
    assert labels(resolve(checkout(website_id=site.pk, customer_group_id=group.pk))) == ["Check"]
    assert labels(resolve(checkout(website_id=site.pk))) == []
    assert labels(resolve(checkout(customer_group_id=group.pk))) == []


@pytest.mark.parametrize(
    ("total", "expected", "detail"),
    [
        ("9.9999", False, "total below 10"),
        ("10", True, ""),
        ("10.0000", True, ""),
        ("55.5", True, ""),
        ("100", True, ""),
        ("100.0001", False, "total above 100"),
        ("0", False, "total below 10"),
    ],
)
def test_total_bounds_are_inclusive(make_rule, check, total, expected, detail) -> None:
    rule = make_rule(check, min_total=Decimal("10.00"), max_total=Decimal("100.00"))
    result = resolve(checkout(total=Decimal(total)))
    assert labels(result) == (["Check"] if expected else [])
    if not expected:
        assert (trace_of(result, rule).outcome, trace_of(result, rule).detail) == (
            Outcome.TOTAL,
            detail,
        )


def test_only_one_total_bound(make_rule, check, stripe) -> None:
    make_rule(check, min_total=Decimal("50"))
    make_rule(stripe, max_total=Decimal("50"))
    assert labels(resolve(checkout(total=Decimal("49.99")))) == ["Stripe"]
    assert labels(resolve(checkout(total=Decimal("50")))) == ["Check", "Stripe"]
    assert labels(resolve(checkout(total=Decimal("1000000")))) == ["Check"]


def test_currency(make_rule, check, stripe) -> None:
    eur = make_rule(stripe, currency="EUR")
    make_rule(check, currency="USD")
    result = resolve(checkout(currency="USD"))
    assert labels(result) == ["Check"]
    assert (trace_of(result, eur).outcome, trace_of(result, eur).detail) == (
        Outcome.CURRENCY,
        "rule is for EUR",
    )
    assert labels(resolve(checkout(currency="EUR"))) == ["Stripe"]
    assert labels(resolve(checkout(currency="GBP"))) == []


# --- expressions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("", True),
        ("   ", True),
        ("true", True),
        ("false", False),
        ("total > 50.0", True),
        ("total > 500.0", False),
        ("total >= 100.0 && total <= 100.0", True),
        ("currency == 'USD'", True),
        ("billingAddress.countryIso2 == 'US' && billingAddress.postalCode.startsWith('941')", True),
        ("shippingAddress.countryIso2 == 'DE'", True),
        ("customer.group.name == 'Wholesale'", True),
        ("customer.group.name == 'Retail'", False),
        ("website.code in ['us', 'ca']", True),
        ("lineItems.exists(l, l.sku == 'SKU-2' && l.quantity >= 3)", True),
        ("lineItems.all(l, l.price < 50.0)", False),
        ("size(lineItems) == 2", True),
        ("subtotal < total", True),
    ],
)
def test_expression_true_or_false(make_rule, check, expression, expected) -> None:
    rule = make_rule(check, expression=expression)
    c = checkout(
        subtotal=Decimal("90"),
        website_code="us",
        customer_group_name="Wholesale",
        shipping_address=BERLIN,
        line_items=(
            LineItem("SKU-1", 1, Decimal("60")),
            LineItem("SKU-2", 3, Decimal("10")),
        ),
    )
    result = resolve(c)
    assert labels(result) == (["Check"] if expected else [])
    assert trace_of(result, rule).outcome == (
        Outcome.MATCHED if expected else Outcome.EXPRESSION_FALSE
    )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1/0 == 1", "division by zero in CEL expression."),
        ("1 % 0 == 0", "modulo by zero in CEL expression."),
        ("lineItems[0].sku == 'A'", "index out of bounds: 0."),
        ("9223372036854775807 + 1 > 0", "Arithmetic overflow in 'add'"),
        ("int('abc') == 1", "Function 'int' error"),
        ("total", "the result is float, not true or false"),
        ("undefinedThing == 1", "Undefined variable or function: 'undefinedThing'."),
        ("total > ", "Failed to parse expression"),  # stored before validation existed
    ],
)
def test_expression_error_makes_the_rule_not_match(
    make_rule, check, stripe, caplog, expression, message
) -> None:
    broken = make_rule(stripe, expression=expression, stop_processing=True, sort_order=1)
    make_rule(check, sort_order=2)
    with caplog.at_level(logging.WARNING, logger="rules.evaluation"):
        result = resolve(checkout())
    assert labels(result) == ["Check"]
    trace = trace_of(result, broken)
    assert trace.outcome == Outcome.EXPRESSION_ERROR
    assert message in trace.detail
    assert any(message in r.getMessage() for r in caplog.records)


def test_expression_errors_are_logged_once_per_rule(make_rule, check, caplog) -> None:
    first = make_rule(check, expression="1/0 == 1")
    second = make_rule(check, expression="lineItems[0].sku == 'A'")
    with caplog.at_level(logging.WARNING, logger="rules.evaluation"):
        for _ in range(3):
            result = resolve(checkout())  # evaluates every rule twice
            assert trace_of(result, first).outcome == Outcome.EXPRESSION_ERROR
    records = [r for r in caplog.records if r.name == "rules.evaluation"]
    assert len(records) == 2
    messages = sorted(r.getMessage() for r in records)
    assert messages[0] == (
        f"payment rule {first.pk}: expression error: division by zero in CEL expression."
    )
    assert messages[1] == f"payment rule {second.pk}: expression error: index out of bounds: 0."
    assert all(r.levelno == logging.WARNING for r in records)


def test_a_changed_expression_error_is_logged_again(make_rule, actor, check, caplog) -> None:
    rule = make_rule(check, expression="1/0 == 1")
    with caplog.at_level(logging.WARNING, logger="rules.evaluation"):
        resolve(checkout())
        PaymentRule.objects.filter(pk=rule.pk).update(expression="1 % 0 == 0")
        resolve(checkout())
        resolve(checkout())
    assert len([r for r in caplog.records if r.name == "rules.evaluation"]) == 2


def test_expression_sees_the_checkout_only_after_the_conditions(make_rule, check, caplog) -> None:
    """A rule failing a condition is not evaluated, so its broken expression logs nothing."""
    rule = make_rule(check, currency="EUR", expression="1/0 == 1")
    with caplog.at_level(logging.WARNING, logger="rules.evaluation"):
        result = resolve(checkout())
    assert trace_of(result, rule).outcome == Outcome.CURRENCY
    assert not caplog.records


# --- methods ------------------------------------------------------------------------------------


def test_duplicates_across_rules_keep_the_first_occurrence(make_rule, check, stripe, paypal):
    make_rule(stripe, check, sort_order=1)
    make_rule(paypal, stripe, check, sort_order=2)
    make_rule(check, paypal, sort_order=3)
    result = resolve(checkout())
    assert labels(result) == ["Stripe", "Check", "PayPal"]
    assert len({m.pk for m in result.methods}) == len(result.methods)


def test_methods_keep_their_order_within_a_rule(make_rule, check, stripe, paypal) -> None:
    make_rule(paypal, check, stripe)
    assert labels(resolve(checkout())) == ["PayPal", "Check", "Stripe"]


def test_disabled_rule_methods_are_not_offered(make_rule, check, stripe, paypal) -> None:
    rule = make_rule(RuleMethodData(stripe, enabled=False), check, RuleMethodData(paypal, False))
    PaymentRuleMethod.objects.filter(rule=rule, method=paypal).update(
        disabled_reason="its integration was deleted"
    )
    result = resolve(checkout())
    assert labels(result) == ["Check"]
    notes = trace_of(result, rule).methods
    assert [(n.method.admin_label, n.usable, n.reason) for n in notes] == [
        ("Stripe", False, "disabled in this rule"),
        ("Check", True, ""),
        ("PayPal", False, "its integration was deleted"),
    ]


def test_a_method_disabled_in_one_rule_comes_from_another(make_rule, check, stripe) -> None:
    make_rule(RuleMethodData(stripe, enabled=False), check, sort_order=1)
    make_rule(stripe, sort_order=2)
    assert labels(resolve(checkout())) == ["Check", "Stripe"]


def test_methods_of_inactive_integrations_are_not_offered(make_rule, actor, check, stripe):
    rule = make_rule(stripe, check)
    integration_services.integration_set_active(
        integration=stripe.integration, active=False, actor=actor
    )
    result = resolve(checkout())
    assert labels(result) == ["Check"]
    assert trace_of(result, rule).methods[0].reason == "integration inactive"


@pytest.mark.parametrize("still_active", [True, False])
def test_methods_of_deleted_integrations_are_not_offered(make_rule, check, stripe, still_active):
    rule = make_rule(stripe, check)
    Integration.objects.filter(pk=stripe.integration_id).update(
        deleted_at=timezone.now(), is_active=still_active
    )
    result = resolve(checkout())
    assert labels(result) == ["Check"]
    assert trace_of(result, rule).methods[0].reason == "integration deleted"


def test_methods_no_longer_offered_are_not_offered(make_rule, actor, check) -> None:
    authnet = create_integration(
        IntegrationType.AUTHORIZE_NET,
        "Authorize.Net",
        actor=actor,
        echeck_enabled=True,
        echeck_label="eCheck",
        echeck_short_label="eCheck",
        echeck_account_types=["checking"],
        echeck_confirmation_text="I authorize this debit.",
    )
    card, echeck = authnet.methods.order_by("id")
    rule = make_rule(card, echeck, check)
    result = resolve(checkout())
    # eCheck has no payment step yet, so its provider cannot take it: never offered.
    assert labels(result) == ["Authorize.Net", "Check"]
    assert trace_of(result, rule).methods[1].reason == (
        "its provider cannot take this kind of payment yet"
    )
    PaymentMethod.objects.filter(pk=card.pk).update(is_offered=False)
    result = resolve(checkout())
    assert labels(result) == ["Check"]
    assert trace_of(result, rule).methods[0].reason == "no longer offered by its integration"


def test_zero_total_hides_online_providers_but_not_check(make_rule, actor, check) -> None:
    online = [
        _method(actor, IntegrationType.STRIPE, "Stripe"),
        _method(actor, IntegrationType.PAYPAL_EXPRESS, "PayPal"),
        *create_integration(IntegrationType.PAYFLOW_GATEWAY, "Payflow", actor=actor).methods.all(),
        *create_integration(IntegrationType.PAYMENTS_PRO, "Pro", actor=actor).methods.all(),
        _method(actor, IntegrationType.AUTHORIZE_NET, "Authorize.Net"),
    ]
    assert len(online) == 7
    make_rule(*online, check)
    assert labels(resolve(checkout(total=Decimal("0")))) == ["Check"]
    assert labels(resolve(checkout(total=Decimal("0.0000")))) == ["Check"]
    assert len(resolve(checkout(total=Decimal("0.01"))).methods) == 8


def test_only_stripe_is_offered_in_a_three_decimal_currency(make_rule, actor, stripe) -> None:
    """Authorize.Net, PayPal and Payflow take no currency with three decimals (BHD, KWD…)."""
    others = [
        _method(actor, IntegrationType.AUTHORIZE_NET, "Authorize.Net"),
        _method(actor, IntegrationType.PAYPAL_EXPRESS, "PayPal"),
        *create_integration(IntegrationType.PAYFLOW_GATEWAY, "Payflow", actor=actor).methods.all(),
    ]
    bhd = make_rule(*others, stripe, currency="BHD")
    make_rule(*others, stripe, currency="JPY")
    result = resolve(checkout(currency="BHD", total=Decimal("12.345")))
    assert labels(result) == ["Stripe"]
    assert {note.reason for note in trace_of(result, bhd).methods if not note.usable} == {
        "its provider cannot take payments in BHD"
    }
    assert len(resolve(checkout(currency="JPY", total=Decimal("1500"))).methods) == 5


def test_payment_terms_need_a_payment_term(make_rule, terms, check) -> None:
    rule = make_rule(terms, check)
    result = resolve(checkout(payment_term=""))
    assert labels(result) == ["Check"]
    assert trace_of(result, rule).methods[0].reason == "the customer has no payment term"
    assert labels(resolve(checkout(payment_term="Net 30"))) == ["Terms", "Check"]
    assert labels(resolve(checkout(payment_term="Net 30", total=Decimal("0")))) == [
        "Terms",
        "Check",
    ]


def test_test_mode_integrations_are_never_offered_in_production(
    make_rule, actor, check, stripe, paypal, settings
) -> None:
    settings.IS_PRODUCTION = True
    settings.PAYMENTS_ENVIRONMENT = "production"
    live = _method(actor, IntegrationType.STRIPE, "Live Stripe", **LIVE_STRIPE)
    assert live.integration.environment == Environment.LIVE
    rule = make_rule(stripe, paypal, live, check)
    result = resolve(checkout())
    assert labels(result) == ["Live Stripe", "Check"]
    reasons = {n.method.admin_label: n.reason for n in trace_of(result, rule).methods}
    assert reasons["Stripe"] == "test-mode integration in a production deployment"
    assert reasons["PayPal"] == "test-mode integration in a production deployment"

    settings.IS_PRODUCTION = False
    settings.PAYMENTS_ENVIRONMENT = "sandbox"
    assert labels(resolve(checkout())) == ["Stripe", "PayPal", "Check"]  # and live never here


def test_sandbox_only_stop_rule_does_not_stop_in_production(
    make_rule, actor, check, stripe, settings
) -> None:
    make_rule(stripe, stop_processing=True, sort_order=1)
    make_rule(check, sort_order=2)
    assert labels(resolve(checkout())) == ["Stripe"]
    settings.IS_PRODUCTION = True
    assert labels(resolve(checkout())) == ["Check"]


# --- the prefilter ------------------------------------------------------------------------------

COUNTRIES = {
    "US": ["US-CA", "US-NY", ""],
    "DE": ["DE-BE", ""],
    "GB": ["GB-LND", ""],
    "FR": [""],
}
POSTAL = {
    "US": ["94107", "94016", "10001", "9410", ""],
    "DE": ["10115", "80331", ""],
    "GB": ["SW1A 1AA", "sw1a1aa", "EC1A 1BB", ""],
    "FR": ["75001", ""],
}
PATTERNS = ["", "", "941*", "940*", "10001, 94107", "SW1A*", "ec1a 1bb", "1*", "*"]
EXPRESSIONS = [
    "",
    "",
    "",
    "total > 100.0",
    "billingAddress.countryIso2 == 'US'",
    "1/0 == 1",
    "lineItems.exists(l, l.quantity > 2)",
    "currency == 'EUR'",
    "false",
]
CURRENCIES = ["USD", "EUR", "GBP"]
TOTALS = ["0", "0.01", "9.9999", "10", "50", "99.99", "100", "100.0001", "250", "1000000"]


def _random_rules(rng: random.Random, make_rule, methods, sites, groups, count: int) -> None:
    for _ in range(count):
        destinations = []
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            country = rng.choice(list(COUNTRIES))
            destinations.append(
                DestinationData(country, rng.choice(COUNTRIES[country]), rng.choice(PATTERNS))
            )
        low = rng.choice([None, None, *TOTALS])
        high = rng.choice([None, None, *TOTALS])
        chosen = rng.sample(methods, rng.randint(1, 3))
        make_rule(
            *(RuleMethodData(m, enabled=rng.random() > 0.15) for m in chosen),
            enabled=rng.random() > 0.1,
            sort_order=rng.randint(0, 5),
            currency=rng.choice(CURRENCIES),
            stop_processing=rng.random() < 0.15,
            expression=rng.choice(EXPRESSIONS),
            websites=tuple(rng.sample(sites, rng.choice([0, 0, 1, 2]))),
            customer_groups=tuple(rng.sample(groups, rng.choice([0, 0, 1, 2]))),
            min_total=None if low is None else Decimal(low),
            max_total=None if high is None else Decimal(high),
            destinations=tuple(destinations),
        )


def _random_checkout(rng: random.Random, sites, groups) -> Checkout:
    country = rng.choice([*COUNTRIES, "CA", ""])
    address = Address(
        country=country,
        region=rng.choice([*COUNTRIES.get(country, [""]), "XX-YY"]),
        postal_code=rng.choice(POSTAL.get(country, [""])),
    )
    site = rng.choice([None, *sites])
    group = rng.choice([None, *groups])
    return Checkout(
        currency=rng.choice([*CURRENCIES, "JPY"]),
        total=Decimal(rng.choice(TOTALS)),
        website_id=site.pk if site else None,
        customer_group_id=group.pk if group else None,
        payment_term=rng.choice(["", "Net 30"]),
        billing_address=address,
        shipping_address=rng.choice([address, SF, Address()]),
        line_items=tuple(
            LineItem(f"SKU-{i}", rng.randint(1, 4), Decimal("9.99"))
            for i in range(rng.randint(0, 3))
        ),
    )


def test_prefilter_never_drops_a_rule_that_would_match(
    make_rule, actor, check, stripe, paypal, terms
) -> None:
    rng = random.Random(20261127)
    inactive = _method(actor, IntegrationType.AUTHORIZE_NET, "Inactive")
    integration_services.integration_set_active(
        integration=inactive.integration, active=False, actor=actor
    )
    methods = [check, stripe, paypal, terms, inactive]
    sites = [WebsiteFactory(), WebsiteFactory()]
    groups = [CustomerGroupFactory(), CustomerGroupFactory()]
    _random_rules(rng, make_rule, methods, sites, groups, count=80)
    matched = 0
    for _ in range(250):
        result = resolve(_random_checkout(rng, sites, groups))  # asserts both paths agree
        matched += bool(result.methods)
    assert matched > 25  # the random rules do match now and then


@pytest.mark.parametrize(
    ("c", "expected"),
    [
        (checkout(), ["Stripe", "Check"]),
        (checkout(currency="US\x00D"), []),
        (checkout(currency="USD\x00"), []),
        (checkout(billing_address=dataclasses.replace(SF, country="US\x00")), []),
        (checkout(billing_address=dataclasses.replace(SF, region="US-CA\x00")), ["Check"]),
        # `941*` takes anything after 941, NUL included; postal codes never reach SQL.
        (
            checkout(billing_address=dataclasses.replace(SF, postal_code="941\x0007")),
            ["Stripe", "Check"],
        ),
        (checkout(billing_address=dataclasses.replace(SF, postal_code="94\x00107")), ["Check"]),
    ],
)
def test_nul_characters_in_a_checkout(make_rule, check, stripe, c, expected) -> None:
    """PostgreSQL refuses NUL in text parameters; the prefilter must neither fail nor widen."""
    make_rule(stripe, destinations=(DestinationData("US", "US-CA", "941*"),), sort_order=1)
    make_rule(check, destinations=(DestinationData("US"),), sort_order=2)
    assert labels(resolve(c)) == expected


def test_prefilter_keeps_rules_reaching_the_expression(make_rule, check) -> None:
    """Everything the prefilter cannot decide (postal codes, expressions) is left to evaluate."""
    make_rule(check, destinations=(DestinationData("US", "US-CA", "941*"),), expression="false")
    assert candidate_rules(checkout(billing_address=SF)).count() == 1
    assert candidate_rules(
        checkout(billing_address=dataclasses.replace(SF, postal_code="1"))
    ).count()
    assert not candidate_rules(checkout(billing_address=NYC)).exists()
    assert not candidate_rules(checkout(billing_address=BERLIN)).exists()


# --- query count --------------------------------------------------------------------------------


def _bulk_rules(count: int, methods: list[PaymentMethod], site: Website, group: CustomerGroup):
    """Rules that all match the default checkout, each with every relation evaluation reads."""
    rules = PaymentRule.objects.bulk_create(
        PaymentRule(name=f"Bulk {i}", sort_order=i, currency="USD") for i in range(count)
    )
    PaymentRule.websites.through.objects.bulk_create(
        PaymentRule.websites.through(paymentrule_id=r.pk, website_id=site.pk) for r in rules
    )
    PaymentRule.customer_groups.through.objects.bulk_create(
        PaymentRule.customer_groups.through(paymentrule_id=r.pk, customergroup_id=group.pk)
        for r in rules
    )
    PaymentRuleDestination.objects.bulk_create(
        PaymentRuleDestination(rule=r, country="US", postal_codes="941*") for r in rules
    )
    PaymentRuleMethod.objects.bulk_create(
        PaymentRuleMethod(rule=r, method=m) for r in rules for m in methods
    )


def _queries_for(c: Checkout) -> tuple[int, Resolution]:
    with CaptureQueriesContext(connection) as queries:
        result = resolve_methods(c)
    return len(queries), result


def test_resolve_methods_runs_a_fixed_number_of_queries(check, stripe, paypal) -> None:
    site, group = WebsiteFactory(), CustomerGroupFactory()
    c = checkout(website_id=site.pk, customer_group_id=group.pk)
    _bulk_rules(5, [check, stripe, paypal], site, group)
    small, result = _queries_for(c)
    assert len(result.trace) == 5
    _bulk_rules(195, [check, stripe, paypal], site, group)
    large, result = _queries_for(c)
    assert len(result.trace) == 200
    assert all(t.outcome == Outcome.MATCHED for t in result.trace)
    assert labels(result) == ["Check", "Stripe", "PayPal"]
    assert small == large
    # The rule set's version, then (as rules changed) the currency's rules, their websites and
    # customer groups (one query), destinations, rule methods and the methods themselves.
    assert large == 6
    # While no rule changes, the version alone.
    assert _queries_for(c)[0] == 1


def test_resolve_methods_prefilters_in_sql_where_the_version_cannot_be_read(
    check, stripe, paypal
) -> None:
    site, group = WebsiteFactory(), CustomerGroupFactory()
    c = checkout(website_id=site.pk, customer_group_id=group.pk)
    _bulk_rules(200, [check, stripe, paypal], site, group)
    RuleSetVersion.objects.all().delete()  # as after a test database flush
    count, result = _queries_for(c)
    assert len(result.trace) == 200
    assert labels(result) == ["Check", "Stripe", "PayPal"]
    # The version, the candidates, websites and groups, destinations, rule methods, methods.
    assert count == 6
    assert _queries_for(c)[0] == 6  # nothing was cached


def test_resolve_methods_with_no_candidate_rules_runs_one_query(make_rule, check) -> None:
    make_rule(check, currency="EUR")
    count, result = _queries_for(checkout())
    assert (count, result.methods) == (2, [])  # the version, then no USD rule
    assert _queries_for(checkout())[0] == 1
