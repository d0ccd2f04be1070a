"""The rule simulator: the methods a checkout would see, a trace of every rule, bad input."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import lxml.html
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.models import Customer, CustomerGroup, Website
from integrations.models import Integration, PaymentMethod
from integrations.types import IntegrationType
from rules import simulator
from rules.evaluation import Address, Checkout, LineItem, Outcome, Resolution, resolve_methods
from rules.models import PaymentRule
from rules.simulator import simulate
from rules.simulator_forms import SimulationForm
from tests.factories import (
    CustomerFactory,
    CustomerGroupFactory,
    PaymentTermFactory,
    WebsiteFactory,
    create_integration,
    create_rule,
)

URL = "/admin/payment-rules/simulate/"

SF_CHECKOUT = {
    "currency": "USD",
    "total": "250.00",
    "billing_country": "US",
    "billing_region": "CA",
    "billing_postal_code": "94107",
    "billing_city": "San Francisco",
    "line_items": "SKU-1, 2, 100\nSKU-2, 1, 50",
}


def page_of(response: Any) -> Any:
    # A NUL typed into a field is echoed back; browsers show it as U+FFFD, lxml stops at it.
    return lxml.html.fromstring(response.content.decode().replace("\x00", "\ufffd"))


def shown_method_ids(response: Any) -> list[int]:
    return [int(pk) for pk in page_of(response).xpath("//tr[@data-method]/@data-method")]


def trace_outcomes(response: Any) -> dict[str, str]:
    """Rule name → outcome, for every rule listed in the trace, in order."""
    rows = page_of(response).xpath("//tr[@data-rule]")
    return {
        PaymentRule.objects.get(pk=row.get("data-rule")).name: row.get("data-outcome")
        for row in rows
    }


def row_text(response: Any, rule: PaymentRule) -> str:
    (row,) = page_of(response).xpath(f"//tr[@data-rule='{rule.pk}']")
    return " ".join(row.text_content().split())


def method(integration: Integration, kind: str | None = None) -> PaymentMethod:
    methods = integration.methods.all()
    return methods.get(kind=kind) if kind else methods.first()


# --- who may simulate ---------------------------------------------------------------------------


def test_administrators_and_sales_staff_may_simulate(admin_client: Client, sales_client: Client):
    for client in (admin_client, sales_client):
        response = client.get(URL)
        assert response.status_code == 200
        assert b"Payment Rule Simulator" in response.content
        assert b"How payment rules are evaluated" in response.content
        assert client.get(URL, SF_CHECKOUT).status_code == 200


def test_buyers_may_not_simulate(buyer_client: Client):
    assert buyer_client.get(URL).status_code == 403
    assert buyer_client.get(URL, SF_CHECKOUT).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, db: None):
    response = client.get(URL, {"currency": "USD"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/admin/payment-rules/simulate/")


def test_the_empty_form_shows_no_result_and_no_errors(admin_client: Client):
    response = admin_client.get(URL)
    assert response.context["simulation"] is None
    assert b"field-error" not in response.content
    assert not page_of(response).xpath("//section[@id='result']")


# --- a scenario with every outcome --------------------------------------------------------------


@pytest.fixture
def scenario(admin_user: User) -> dict[str, Any]:
    """Rules covering every outcome for a Wholesale customer in San Francisco, total 250."""
    stripe = create_integration(IntegrationType.STRIPE, name="Stripe", actor=admin_user)
    checks = create_integration(IntegrationType.MONEY_ORDER, name="Checks", actor=admin_user)
    terms = create_integration(IntegrationType.PAYMENT_TERM, name="Terms", actor=admin_user)
    paypal = create_integration(
        IntegrationType.PAYPAL_EXPRESS, name="PayPal", actor=admin_user, is_active=False
    )
    card, check, invoice = method(stripe), method(checks), method(terms)
    wholesale = CustomerGroupFactory(name="Wholesale", payment_term=PaymentTermFactory())
    government = CustomerGroupFactory(name="Government")
    customer = CustomerFactory(name="Northwind", group=wholesale)
    eu_site = WebsiteFactory(name="EU Store", code="eu")

    def rule(name: str, sort_order: int, methods: list[PaymentMethod], **fields: Any):
        return create_rule(name, methods=methods, sort_order=sort_order, actor=admin_user, **fields)

    rules = {
        "government": rule(
            "Government invoices",
            10,
            [invoice],
            customer_groups=(government,),
            stop_processing=True,
        ),
        "off": rule("Switched off", 20, [card], enabled=False),
        "california": rule("California cards", 30, [card], destinations=[("US", "US-CA", "941*")]),
        "new_york": rule("New York checks", 40, [check], destinations=[("US", "US-NY", "")]),
        "eu_site": rule("EU store checks", 50, [check], websites=(eu_site,)),
        "big": rule("Big orders: checks", 60, [check], expression="total >= 100.0"),
        "huge": rule("Huge orders: invoice", 70, [invoice], expression="total > 1000.0"),
        "broken": rule("Four lines", 80, [invoice], expression="lineItems[3].quantity > 1"),
        "minimum": rule("Over 500", 90, [invoice], min_total=Decimal("500")),
        "paypal": rule("PayPal", 100, [method(paypal)]),
        "stop": rule("Cards, then stop", 110, [card, invoice], stop_processing=True),
        "late": rule("Too late", 120, [check]),
        "euro": rule("Euro cards", 5, [card], currency="EUR"),
    }
    return {
        "rules": rules,
        "customer": customer,
        "methods": {"card": card, "check": check, "invoice": invoice},
    }


def test_the_scenario_shows_the_right_methods_and_outcomes(
    admin_client: Client, scenario: dict[str, Any]
):
    rules, methods = scenario["rules"], scenario["methods"]
    response = admin_client.get(URL, {**SF_CHECKOUT, "customer": scenario["customer"].pk})
    assert response.status_code == 200

    # Cards from "California cards", checks from "Big orders", the invoice from the stop rule.
    expected = [methods["card"].pk, methods["check"].pk, methods["invoice"].pk]
    assert shown_method_ids(response) == expected
    simulation = response.context["simulation"]
    assert [m.pk for m in resolve_methods(simulation.checkout).methods] == expected

    assert trace_outcomes(response) == {
        "Government invoices": "customer group",
        "Switched off": "disabled",
        "California cards": "matched",
        "New York checks": "destination",
        "EU store checks": "website",
        "Big orders: checks": "matched",
        "Huge orders: invoice": "expression false",
        "Four lines": "expression error",
        "Over 500": "total",
        "PayPal": "no usable method",
        "Cards, then stop": "matched",
        "Too late": "skipped after stop",
    }
    assert "Only for Government; the checkout's group is Wholesale" in row_text(
        response, rules["government"]
    )
    assert "outside the rule's destinations" in row_text(response, rules["new_york"])
    assert "New York (US-NY)" in row_text(response, rules["new_york"])
    assert "total > 1000.0" in row_text(response, rules["huge"])
    broken = row_text(response, rules["broken"])
    assert "could not be evaluated" in broken
    assert "index" in broken.lower()
    assert "total below 500" in row_text(response, rules["minimum"])
    assert "integration inactive" in row_text(response, rules["paypal"])
    stop_row = row_text(response, rules["stop"])
    assert "Stops further rule processing" in stop_row
    assert "already offered by an earlier rule" in stop_row  # the card, a duplicate
    assert "Cards, then stop matched and stops further rule processing" in row_text(
        response, rules["late"]
    )
    text = " ".join(page_of(response).text_content().split())
    assert "1 rule is for other currencies and cannot match (EUR 1)" in text
    assert "12 rules in USD" in text


def test_rule_names_link_to_their_edit_page_for_administrators(
    admin_client: Client, sales_client: Client, scenario: dict[str, Any]
):
    rule = scenario["rules"]["california"]
    edit_url = f"/admin/payment-rules/{rule.pk}/edit/"
    admin_page = page_of(admin_client.get(URL, SF_CHECKOUT))
    assert admin_page.xpath(f"//tr[@data-rule='{rule.pk}']//a[@href='{edit_url}']")
    # Sales staff cannot edit rules: the name is shown without a link that would answer 403.
    sales_page = page_of(sales_client.get(URL, SF_CHECKOUT))
    assert not sales_page.xpath(f"//a[@href='{edit_url}']")
    assert "California cards" in sales_page.text_content()


def test_a_checkout_no_rule_matches_says_no_method_is_available(
    admin_client: Client, scenario: dict[str, Any]
):
    response = admin_client.get(URL, {**SF_CHECKOUT, "currency": "JPY"})
    assert response.status_code == 200
    assert shown_method_ids(response) == []
    text = " ".join(page_of(response).text_content().split())
    assert "No payment methods are available" in text
    assert "No rule is for JPY" in text
    assert "13 rules are for other currencies" in text


def test_a_zero_total_explains_each_unusable_method(admin_client: Client, scenario: dict[str, Any]):
    rules = scenario["rules"]
    response = admin_client.get(URL, {**SF_CHECKOUT, "total": "0"})
    outcomes = trace_outcomes(response)
    assert outcomes["California cards"] == "no usable method"
    assert "the provider needs a non-zero total" in row_text(response, rules["california"])
    # A guest has no payment term: the stop rule's invoice is refused too, so it does not stop.
    assert outcomes["Cards, then stop"] == "no usable method"
    assert "the customer has no payment term" in row_text(response, rules["stop"])
    assert outcomes["Too late"] == "matched"


def test_a_customer_brings_its_group_and_payment_term(admin_client: Client, db: None):
    net60 = PaymentTermFactory(label="Net 60")
    group = CustomerGroupFactory(name="Government", payment_term=net60)
    other = CustomerGroupFactory(name="Retail")
    customer = CustomerFactory(name="City", group=group)
    response = admin_client.get(
        URL, {**SF_CHECKOUT, "customer": customer.pk, "customer_group": other.pk}
    )
    checkout = response.context["simulation"].checkout
    assert (checkout.customer_id, checkout.customer_group_id) == (customer.pk, group.pk)
    assert checkout.payment_term == "Net 60"

    response = admin_client.get(URL, {**SF_CHECKOUT, "customer_group": group.pk})
    checkout = response.context["simulation"].checkout
    assert (checkout.customer_id, checkout.customer_group_id) == (None, group.pk)
    assert checkout.payment_term == "Net 60"


def test_the_form_builds_the_checkout(db: None):
    website = WebsiteFactory(name="US Store", code="us")
    form = SimulationForm(
        {
            **SF_CHECKOUT,
            "website": website.pk,
            "subtotal": "240",
            "billing_region": "us-ca",
            "shipping_country": "US",
            "shipping_region": "NY",
            "shipping_postal_code": "10001",
        }
    )
    assert form.is_valid(), form.errors
    checkout = form.checkout()
    assert checkout.billing_address == Address("US", "US-CA", "94107", "San Francisco")
    assert checkout.shipping_address == Address("US", "US-NY", "10001", "")
    assert (checkout.website_id, checkout.website_code) == (website.pk, "us")
    assert (checkout.total, checkout.subtotal) == (Decimal("250.00"), Decimal("240"))
    assert checkout.line_items == (
        LineItem("SKU-1", 2, Decimal("100")),
        LineItem("SKU-2", 1, Decimal("50")),
    )


def test_an_empty_shipping_address_is_the_billing_address(db: None):
    form = SimulationForm(SF_CHECKOUT)
    assert form.is_valid(), form.errors
    checkout = form.checkout()
    assert checkout.shipping_address == checkout.billing_address


def test_many_rules_list_what_matters_and_count_the_rest(
    admin_client: Client, admin_user: User, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(simulator, "TRACE_ROW_LIMIT", 3)
    card = method(create_integration(IntegrationType.STRIPE, name="Stripe", actor=admin_user))
    for number in range(6):
        create_rule(
            f"New York {number}",
            methods=[card],
            sort_order=number,
            destinations=[("US", "US-NY", "")],
            actor=admin_user,
        )
    matched = create_rule("Everywhere", methods=[card], sort_order=99, actor=admin_user)
    for number in range(4):
        create_rule(f"Pounds {number}", methods=[card], currency="GBP", actor=admin_user)

    response = admin_client.get(URL, SF_CHECKOUT)
    assert list(trace_outcomes(response)) == [
        "New York 0",
        "New York 1",
        "New York 2",
        matched.name,
    ]
    text = " ".join(page_of(response).text_content().split())
    assert "Also 3 later rules in USD not listed, as none of them matched: Destination 3" in text
    assert "4 rules are for other currencies and cannot match (GBP 4)" in text
    assert shown_method_ids(response) == [card.pk]


def test_a_disagreement_with_checkout_is_reported(
    admin_client: Client, scenario: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(simulator, "resolve_methods", lambda checkout: Resolution([], []))
    response = admin_client.get(URL, SF_CHECKOUT)
    assert response.context["simulation"].disagrees
    assert b"disagrees with the methods checkout selects" in response.content
    assert shown_method_ids(response) == []  # what checkout (here: the patched one) offers


# --- the methods are exactly what checkout resolves ---------------------------------------------


def _random_rules(admin_user: User, rng: random.Random) -> None:
    stripe = create_integration(IntegrationType.STRIPE, name="Stripe", actor=admin_user)
    checks = create_integration(IntegrationType.MONEY_ORDER, name="Checks", actor=admin_user)
    terms = create_integration(IntegrationType.PAYMENT_TERM, name="Terms", actor=admin_user)
    paypal = create_integration(
        IntegrationType.PAYPAL_EXPRESS, name="PayPal", actor=admin_user, is_active=False
    )
    methods = [method(stripe), method(checks), method(terms), method(paypal)]
    websites = [WebsiteFactory(), WebsiteFactory()]
    groups = [CustomerGroupFactory(), CustomerGroupFactory()]
    destinations = [
        ("US", "", ""),
        ("US", "US-CA", ""),
        ("US", "US-NY", "100*"),
        ("DE", "", "10115"),
        ("GB", "", "SW1A*"),
    ]
    expressions = [
        "",
        "",
        "total >= 100.0",
        "subtotal < 50.0",
        "lineItems.size() > 1",
        "lineItems[2].quantity > 1",
        'shippingAddress.countryIso2 == "US"',
        'customer.group.name != ""',
    ]
    for number in range(40):
        minimum = rng.choice([None, None, Decimal("10"), Decimal("99.99")])
        create_rule(
            f"Rule {number}",
            methods=rng.sample(methods, rng.randint(1, 3)),
            sort_order=rng.randint(0, 15),
            currency=rng.choice(["USD", "USD", "EUR"]),
            enabled=rng.random() > 0.1,
            stop_processing=rng.random() < 0.1,
            expression=rng.choice(expressions),
            websites=tuple(rng.sample(websites, rng.choice([0, 0, 1]))),
            customer_groups=tuple(rng.sample(groups, rng.choice([0, 0, 1, 2]))),
            min_total=minimum,
            max_total=rng.choice([None, None, Decimal("500")]),
            destinations=rng.sample(destinations, rng.choice([0, 0, 1, 2])),
            actor=admin_user,
        )


ADDRESSES = [
    Address(),
    Address("US", "US-CA", "94107", "San Francisco"),
    Address("US", "US-NY", "10001", "New York"),
    Address("US", "US-TX", "73301", "Austin"),
    Address("DE", "DE-BE", "10115", "Berlin"),
    Address("GB", "GB-LND", "SW1A 1AA", "London"),
]


def _random_checkout(rng: random.Random) -> Checkout:
    website = rng.choice([None, *Website.objects.all()])
    group = rng.choice([None, *CustomerGroup.objects.all()])
    billing = rng.choice(ADDRESSES)
    return Checkout(
        currency=rng.choice(["USD", "USD", "EUR", "GBP"]),
        total=rng.choice(
            [Decimal("0"), Decimal("10"), Decimal("99.99"), Decimal("250"), Decimal("600")]
        ),
        subtotal=rng.choice([None, Decimal("20")]),
        website_id=website.pk if website else None,
        website_code=website.code if website else "",
        customer_group_id=group.pk if group else None,
        customer_group_name=group.name if group else "",
        payment_term=rng.choice(["", "Net 30"]),
        billing_address=billing,
        shipping_address=rng.choice([billing, *ADDRESSES]),
        line_items=tuple(
            LineItem(f"SKU-{n}", rng.randint(1, 3), Decimal("9.99"))
            for n in range(rng.randint(0, 3))
        ),
    )


def test_the_methods_are_those_checkout_resolves_for_random_checkouts(admin_user: User):
    rng = random.Random(20261127)
    _random_rules(admin_user, rng)
    seen_outcomes: set[Outcome] = set()
    for _ in range(300):
        checkout = _random_checkout(rng)
        simulation = simulate(checkout)
        expected = [m.pk for m in resolve_methods(checkout).methods]
        assert [offered.method.pk for offered in simulation.methods] == expected
        assert not simulation.disagrees
        assert all(offered.rule is not None for offered in simulation.methods)
        seen_outcomes.update(row.outcome for row in simulation.rows)
    # The random rules exercise the trace well enough to mean something.
    assert seen_outcomes >= set(Outcome) - {Outcome.CURRENCY}


def test_the_page_shows_the_methods_checkout_resolves_for_random_forms(
    admin_client: Client, admin_user: User
):
    rng = random.Random(7)
    _random_rules(admin_user, rng)
    customers = [None, CustomerFactory(group=CustomerGroup.objects.first()), CustomerFactory()]
    for _ in range(25):
        billing = rng.choice(ADDRESSES)
        customer = rng.choice(customers)
        website = rng.choice([None, *Website.objects.all()])
        query = {
            "currency": rng.choice(["USD", "EUR"]),
            "total": rng.choice(["0", "10", "99.99", "250", "600"]),
            "website": website.pk if website else "",
            "customer": customer.pk if customer else "",
            "billing_country": billing.country,
            "billing_region": billing.region,
            "billing_postal_code": billing.postal_code,
            "line_items": rng.choice(["", "A, 1, 5", "A, 1, 5\nB, 2, 7.5\nC, 3, 1"]),
        }
        response = admin_client.get(URL, query)
        assert response.status_code == 200, response.context["form"].errors
        checkout = response.context["simulation"].checkout
        assert shown_method_ids(response) == [m.pk for m in resolve_methods(checkout).methods]


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"currency": "XYZ"}, "currency", "“XYZ” is not an ISO 4217 currency code."),
        ({"currency": ""}, "currency", "This field is required."),
        ({"total": ""}, "total", "This field is required."),
        ({"total": "-0.01"}, "total", "An amount cannot be negative."),
        ({"total": "1.23456"}, "total", "Use at most 4 decimal places."),
        ({"total": "abc"}, "total", "Enter a number."),
        ({"total": "NaN"}, "total", "Enter a number."),
        ({"total": "Infinity"}, "total", "Enter a number."),
        ({"total": "1e400"}, "total", "This amount is too large."),
        ({"total": "1\x00"}, "total", "Enter a number."),
        ({"subtotal": "-5"}, "subtotal", "An amount cannot be negative."),
        ({"website": "999999"}, "website", "Pick a website from the list."),
        ({"website": "abc"}, "website", "Pick a website from the list."),
        ({"customer": "9" * 30}, "customer", "Pick a customer from the list."),
        ({"customer_group": "-1"}, "customer_group", "Pick a customer group from the list."),
        ({"billing_country": "ZZ"}, "billing_country", "Pick a country from the list."),
        (
            {"billing_country": "CA", "billing_region": "US-CA"},
            "billing_region",
            "US-CA (California) is in United States of America, not Canada.",
        ),
        ({"billing_region": "XX"}, "billing_region", "“XX” is not a region of United States"),
        (
            {"billing_country": "", "billing_region": "CA"},
            "billing_region",
            "Choose the country this region belongs to.",
        ),
        ({"billing_region": "US-CALIFORNIA"}, "billing_region", "at most 10 characters"),
        ({"billing_postal_code": "941;07"}, "billing_postal_code", "letters, digits, spaces"),
        ({"shipping_city": "x\x00y"}, "shipping_city", "Null characters are not allowed."),
        ({"shipping_region": "NY"}, "shipping_region", "Choose the country"),
        ({"line_items": "SKU-1, 2"}, "line_items", "Line 1: write “SKU, quantity, price”"),
        ({"line_items": "A, 1, 1\n\nB, two, 1"}, "line_items", "Line 3: the quantity must be"),
        ({"line_items": "A, 0, 1"}, "line_items", "Line 1: the quantity must be"),
        ({"line_items": "A, ², 1"}, "line_items", "Line 1: the quantity must be"),
        ({"line_items": "A, 1, -1"}, "line_items", "Line 1: “-1” is not a price"),
        ({"line_items": "A, 1, 1.00001"}, "line_items", "use at most 4 decimal places"),
        ({"line_items": ", 1, 1"}, "line_items", "Line 1: the SKU is empty or too long"),
        ({"line_items": "A, 1, 1\n" * 201}, "line_items", "at most 200 line items"),
    ],
)
def test_bad_input_is_explained_next_to_its_field(
    admin_client: Client, changes: dict[str, str], field: str, message: str
):
    response = admin_client.get(URL, {**SF_CHECKOUT, **changes})
    assert response.status_code == 400
    page = page_of(response)
    errors = page.xpath(f"//*[@id='id_{field}_error']")
    assert errors, f"no error next to {field}"
    assert message in " ".join(errors[0].text_content().split())
    assert page.xpath(f"//*[@id='id_{field}'][@aria-invalid='true']")
    assert not page.xpath("//section[@id='result']")


@pytest.mark.parametrize(
    "query",
    [
        "total=%ff%fe&currency=%00",
        "currency=USD&total=1&billing_country[]=US",
        "currency=USD&currency=EUR&total=1&total=2",
        "total=" + "9" * 5000,
        "line_items=" + "%0A" * 5000,
        "customer=1e3&website=0x1&customer_group=%20",
        "billing_region=%E2%80%AE&billing_country=US&currency=USD&total=1",
    ],
)
def test_odd_query_strings_never_fail(admin_client: Client, query: str):
    response = admin_client.get(f"{URL}?{query}")
    assert response.status_code in (200, 400)


FIELD_NAMES = list(SimulationForm.base_fields)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.dictionaries(
        st.sampled_from([*FIELD_NAMES, "junk"]),
        st.one_of(
            st.text(max_size=40),
            st.sampled_from(["US", "US-CA", "USD", "0", "-1", "1e9", "1.5", "1,2,3", "a,1,1"]),
        ),
        max_size=8,
    )
)
def test_any_query_answers_200_or_400(admin_client: Client, query: dict[str, str]):
    response = admin_client.get(f"{URL}?{urlencode(query)}")
    assert response.status_code in (200, 400)


# --- speed --------------------------------------------------------------------------------------


def _count_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, {**SF_CHECKOUT, "customer": Customer.objects.get().pk})
    assert response.status_code == 200
    return len(queries)


def _add_rules(count: int, start: int, admin_user: User, methods: list[PaymentMethod]) -> None:
    website = Website.objects.get()
    group = CustomerGroup.objects.get()
    for number in range(start, start + count):
        create_rule(
            f"Rule {number}",
            methods=methods,
            sort_order=number,
            currency=["USD", "EUR"][number % 2],
            websites=(website,) if number % 3 == 0 else (),
            customer_groups=(group,) if number % 4 == 0 else (),
            destinations=[("US", "US-CA", "941*"), ("US", "US-NY", "")] if number % 5 else [],
            expression="total > 10.0" if number % 7 == 0 else "",
            stop_processing=number == 57,
            actor=admin_user,
        )


def test_the_page_takes_a_fixed_number_of_queries(admin_client: Client, admin_user: User):
    WebsiteFactory()
    CustomerFactory()
    methods = [
        method(create_integration(IntegrationType.STRIPE, name="Stripe", actor=admin_user)),
        method(create_integration(IntegrationType.MONEY_ORDER, name="Checks", actor=admin_user)),
    ]
    _add_rules(5, 0, admin_user, methods)
    admin_client.get(URL)  # the first request of a session may do one-off work
    few = _count_queries(admin_client)

    _add_rules(55, 5, admin_user, methods)
    many = _count_queries(admin_client)

    assert many == few
    assert few <= 25


# --- starting from an existing order ----------------------------------------------------------


def test_an_existing_order_fills_the_simulator_with_what_checkout_would_see(admin_client):
    from payments.checkout_services import checkout_for_order
    from rules.evaluation import resolve_methods
    from tests.payments.support import make_order, offered_method

    method = offered_method("money_order")
    order = make_order(total="250.00", country="US")
    response = admin_client.get(f"/admin/payment-rules/simulate/?order={order.number}")
    assert response.status_code == 302
    page = admin_client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "SKU-1, 1, 250" in html  # the order's line, ready to edit
    expected = resolve_methods(checkout_for_order(order)).methods
    assert expected == [method]
    assert method.admin_label in html


def test_an_unknown_order_number_is_explained(admin_client):
    response = admin_client.get("/admin/payment-rules/simulate/?order=NOPE-1")
    assert response.status_code == 400
    assert "No order has the number “NOPE-1”." in response.content.decode()
