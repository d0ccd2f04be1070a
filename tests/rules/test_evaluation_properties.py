"""Properties of rule evaluation that must hold for any expression and any checkout.

The database is filled once per test function; hypothesis then runs every example inside that
test's transaction (hence the suppressed function-scoped-fixture health check: sharing the rules
across examples is the point). Examples mutate loaded rules in memory only.
"""

from __future__ import annotations

import os
import string
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from integrations import services as integration_services
from integrations.models import Integration, PaymentMethod
from integrations.types import IntegrationType
from rules import evaluation, expressions
from rules.evaluation import (
    Address,
    Checkout,
    LineItem,
    Outcome,
    evaluate,
    load_rules,
    resolve_methods,
)
from rules.models import PaymentRule
from rules.services import DestinationData, RuleData, RuleMethodData, rule_save
from tests.factories import CustomerGroupFactory, UserFactory, WebsiteFactory, create_integration

FAST = hsettings(
    # Raise for a deeper search, e.g. HYPOTHESIS_MAX_EXAMPLES=5000 (the suite stays fast at 150).
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "150")),
    deadline=None,
    database=None,  # no .hypothesis/ folder in the project
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- strategies ---------------------------------------------------------------------------------

IDENTIFIERS = [
    "total",
    "subtotal",
    "currency",
    "website.id",
    "website.code",
    "customer.name",
    "customer.group.id",
    "customer.group.name",
    "customerUser.email",
    "billingAddress.countryIso2",
    "billingAddress.regionCode",
    "billingAddress.postalCode",
    "shippingAddress.city",
    "lineItems",
    "lineItems[0].price",
    "lineItems[0].sku",
    "lineItems[1].quantity",
    "undefinedThing",
    "customer.missing",
]


def _string_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


literals = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.integers(min_value=0, max_value=2**64 - 1).map(lambda n: f"{n}u"),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=8).map(_string_literal),
    st.sampled_from(["true", "false", "null", "[]", "{}", "b'\\xff'", "[1, 2.0, 'x']"]),
)
atoms = st.one_of(literals, st.sampled_from(IDENTIFIERS))
BINARY = ["==", "!=", "<", "<=", ">", ">=", "&&", "||", "+", "-", "*", "/", "%", "in"]
UNARY = ["!", "-"]
FUNCTIONS = ["size", "int", "uint", "double", "string", "bool", "type", "dyn", "has", "timestamp"]
METHODS = ["startsWith", "endsWith", "contains", "matches", "size"]


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(BINARY), children).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        ),
        st.tuples(st.sampled_from(UNARY), children).map(lambda t: f"{t[0]}{t[1]}"),
        children.map(lambda c: f"({c})"),
        st.tuples(st.sampled_from(FUNCTIONS), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(children, st.sampled_from(METHODS), children).map(
            lambda t: f"{t[0]}.{t[1]}({t[2]})"
        ),
        st.tuples(children, children, children).map(lambda t: f"{t[0]} ? {t[1]} : {t[2]}"),
        st.tuples(st.sampled_from(["exists", "all", "exists_one", "map", "filter"]), children).map(
            lambda t: f"lineItems.{t[0]}(l, {t[1].replace('total', 'l.price')})"
        ),
        st.lists(children, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.tuples(children, children).map(lambda t: f"{{{t[0]}: {t[1]}}}"),
        st.tuples(children, children).map(lambda t: f"{t[0]}[{t[1]}]"),
    )


cel_like = st.recursive(atoms, _combine, max_leaves=12)
any_expression = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=string.printable, max_size=60),
    cel_like,
    st.text(alphabet="()[]{}!-+*/%.,?:'\"\\ <>=&|", max_size=40),
)

decimals = st.one_of(
    st.just(Decimal(0)),
    st.just(Decimal("-0")),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=10**6, places=2),
    st.sampled_from([Decimal("1E+30"), Decimal("9" * 40), Decimal("1E-30"), Decimal("1E+400")]),
)
# What a database can compare: numeric(19, 4) and a little beyond it.
db_decimals = st.one_of(
    st.just(Decimal(0)),
    st.decimals(min_value=-(10**16), max_value=10**16, places=4),
    st.decimals(min_value=0, max_value=1000, places=2),
)
short_text = st.text(max_size=12)
addresses = st.one_of(
    st.just(Address()),
    st.builds(
        Address,
        country=st.one_of(st.sampled_from(["US", "DE", "GB", "", "us", "XX"]), short_text),
        region=st.one_of(st.sampled_from(["US-CA", "DE-BE", ""]), short_text),
        postal_code=st.one_of(st.sampled_from(["94107", "sw1a 1aa", "10115", ""]), st.text()),
        city=short_text,
    ),
)
line_items = st.lists(
    st.builds(
        LineItem,
        sku=short_text,
        quantity=st.integers(min_value=-(2**63), max_value=2**63 - 1),
        price=decimals,
    ),
    max_size=3,
).map(tuple)


def checkouts(total: st.SearchStrategy[Decimal] = decimals) -> st.SearchStrategy[Checkout]:
    ids = st.one_of(st.none(), st.integers(min_value=0, max_value=2**31))
    return st.builds(
        Checkout,
        currency=st.one_of(st.sampled_from(["USD", "EUR", "GBP", "JPY", ""]), st.text(max_size=4)),
        total=total,
        subtotal=st.one_of(st.none(), total),
        website_id=ids,
        website_code=short_text,
        customer_id=ids,
        customer_name=short_text,
        customer_group_id=ids,
        customer_group_name=short_text,
        customer_user_id=ids,
        customer_user_email=short_text,
        payment_term=st.sampled_from(["", "Net 30"]),
        billing_address=addresses,
        shipping_address=addresses,
        line_items=line_items,
    )


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_expression_error_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluation, "_logged_expression_errors", set())


@pytest.fixture
def world(db: None) -> dict[str, Any]:
    """Rules over live, inactive and deleted integrations, built once per test function."""
    actor = UserFactory(username="prop-admin", groups=["Administrators"])

    def method(type: str, name: str) -> PaymentMethod:
        return create_integration(type, name, actor=actor).methods.order_by("id").first()

    check = method(IntegrationType.MONEY_ORDER, "Check")
    terms = method(IntegrationType.PAYMENT_TERM, "Terms")
    stripe = method(IntegrationType.STRIPE, "Stripe")
    paypal = method(IntegrationType.PAYPAL_EXPRESS, "PayPal")
    inactive = method(IntegrationType.AUTHORIZE_NET, "Inactive")
    integration_services.integration_set_active(
        integration=inactive.integration, active=False, actor=actor
    )
    deleted = method(IntegrationType.STRIPE, "Deleted")
    Integration.objects.filter(pk=deleted.integration_id).update(deleted_at=timezone.now())
    site, group = WebsiteFactory(), CustomerGroupFactory()

    def rule(*methods: PaymentMethod, **fields: Any) -> None:
        data: dict[str, Any] = {
            "name": "r",
            "currency": "USD",
            "methods": tuple(RuleMethodData(m) for m in methods),
            **fields,
        }
        rule_save(rule=None, data=RuleData(**data), actor=actor)

    rule(deleted, inactive, stop_processing=True, sort_order=-1)  # can never stop anything
    rule(stripe, paypal, deleted, sort_order=1)
    rule(inactive, check, terms, sort_order=2, expression="total > 10.0")
    rule(deleted, currency="EUR", sort_order=3, stop_processing=True)
    rule(check, stripe, currency="EUR", sort_order=4, min_total=Decimal("1"))
    rule(paypal, inactive, destinations=(DestinationData("US", "US-CA", "941*"),), sort_order=5)
    rule(terms, deleted, websites=(site,), customer_groups=(group,), sort_order=5)
    rule(stripe, check, max_total=Decimal("100"), sort_order=6, expression="1/0 == 1")
    rule(inactive, deleted, check, destinations=(DestinationData("DE"),), sort_order=7)
    rule(check, enabled=False, sort_order=0, stop_processing=True)
    return {"dead": {inactive.pk, deleted.pk}}


def _loaded() -> list[PaymentRule]:
    return list(load_rules(PaymentRule.objects.all()))


def _check_result(methods: list[PaymentMethod], dead: set[int]) -> None:
    pks = [m.pk for m in methods]
    assert len(pks) == len(set(pks)), "duplicates"
    assert not set(pks) & dead
    for m in methods:
        assert m.integration.is_active
        assert not m.integration.is_deleted
        assert m.is_offered


# --- properties ---------------------------------------------------------------------------------


@FAST
@given(source=any_expression)
def test_validate_raises_only_expression_problem(source: str) -> None:
    try:
        expressions.validate(source)
    except expressions.ExpressionProblem as problem:
        assert str(problem)


@FAST
@given(source=any_expression, c=checkouts())
def test_expressions_evaluate_returns_a_bool_or_raises_expression_problem(
    source: str, c: Checkout
) -> None:
    try:
        assert isinstance(expressions.evaluate(source, c.variables()), bool)
    except expressions.ExpressionProblem as problem:
        assert str(problem)


def _outcome(source: str, variables: Any) -> tuple[str, Any]:
    try:
        return "result", expressions.evaluate(source, variables)
    except expressions.ExpressionProblem as problem:
        return "problem", str(problem)


@FAST
@given(source=any_expression, c=checkouts())
def test_a_prepared_context_answers_like_a_dict(source: str, c: Checkout) -> None:
    """evaluate() converts the checkout once into a CEL context; it must change nothing."""
    variables = c.variables()
    assert _outcome(source, expressions.context(variables)) == _outcome(source, variables)


@pytest.mark.django_db
@FAST
@given(sources=st.lists(any_expression, min_size=1, max_size=10), c=checkouts())
def test_evaluate_never_raises_on_any_expression(world, sources: list[str], c: Checkout) -> None:
    rules = _loaded()
    for i, rule in enumerate(rules):
        rule.expression = sources[i % len(sources)]  # in memory only
    result = evaluate(rules, c)
    assert len(result.trace) == len(rules)
    _check_result(result.methods, world["dead"])
    for trace in result.trace:
        if trace.outcome == Outcome.EXPRESSION_ERROR:
            assert trace.detail


@pytest.mark.django_db
@FAST
@given(c=checkouts())
def test_evaluate_never_raises_on_any_checkout(world, c: Checkout) -> None:
    result = evaluate(_loaded(), c)
    _check_result(result.methods, world["dead"])


@pytest.mark.django_db
@FAST
@given(c=checkouts(total=db_decimals))
def test_resolve_methods_agrees_with_evaluate_over_all_rules(world, c: Checkout) -> None:
    fast = resolve_methods(c)
    full = evaluate(_loaded(), c)
    assert [m.pk for m in fast.methods] == [m.pk for m in full.methods]
    _check_result(fast.methods, world["dead"])


@pytest.mark.django_db
@FAST
@given(
    c=checkouts(total=db_decimals).filter(lambda c: c.currency in {"USD", "EUR"}),
    production=st.booleans(),
)
def test_never_offers_dead_or_forbidden_integrations(world, c: Checkout, production: bool) -> None:
    # Not pytest-django's `settings`: its overrides would nest once per example.
    with override_settings(IS_PRODUCTION=production):
        result = resolve_methods(c)
    _check_result(result.methods, world["dead"])
    if production:  # every integration here is sandbox or offline
        assert {m.integration.type for m in result.methods} <= {
            IntegrationType.MONEY_ORDER,
            IntegrationType.PAYMENT_TERM,
        }
