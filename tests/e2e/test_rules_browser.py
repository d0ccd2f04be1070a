"""Payment rules in a real browser: create a rule through its form, then try it in the simulator."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from integrations.types import IntegrationType
from rules.models import PaymentRule
from rules.presentation import method_label
from tests.e2e.conftest import login, shot
from tests.factories import UserFactory, create_integration

RULE = "Bay Area cards"


def trace_row(page: Page, rule_name: str) -> Locator:
    return page.locator("table.sim-trace-table tbody tr").filter(
        has=page.get_by_text(rule_name, exact=True)
    )


def simulate(page: Page, *, postal_code: str) -> None:
    """Fill the simulator with a USD 120 checkout billed to `postal_code`, California."""
    page.get_by_label("Currency").select_option("USD")
    page.get_by_role("textbox", name="Total", exact=True).fill("120.00")
    page.get_by_label("Billing country").select_option("US")
    page.get_by_label("Billing region").fill("CA")
    page.get_by_label("Billing postal code").fill(postal_code)
    page.get_by_label("Line items").fill("SKU-100, 2, 60")
    page.get_by_role("button", name="Simulate").click()
    expect(page.get_by_role("heading", name="Rule trace")).to_be_visible()


def test_administrator_creates_a_destination_rule_and_sees_it_in_the_simulator(
    page: Page, live_server: LiveServer
) -> None:
    admin = UserFactory(username="ada", groups=["Administrators"])
    stripe = create_integration(IntegrationType.STRIPE, name="Stripe E2E", actor=admin)
    card = stripe.methods.get()
    login(page, live_server, "ada")

    # The rule form: a destination (country, region, postal pattern) and an expression.
    page.goto(f"{live_server.url}/admin/payment-rules/new/")
    page.get_by_role("textbox", name="Name", exact=True).fill(RULE)
    page.get_by_label("Sort order").fill("10")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_label("Country (destination 1)").select_option("US")
    # The region list is refilled for the chosen country by the page's script.
    page.get_by_label("Region (destination 1)").select_option("US-CA")
    page.get_by_label("Postal codes (destination 1)").fill("941*")
    page.get_by_label("Expression", exact=True).fill("total >= 50.0 && lineItems.size() > 0")
    page.get_by_label(method_label(card), exact=True).check()
    shot(page, "rules-01-form-filled")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_contain_text(f"Created the payment rule “{RULE}”.")
    rule = PaymentRule.objects.get(name=RULE)
    assert [str(d) for d in rule.destinations.all()] == ["US-CA, US 941*"]

    # The simulator, from the main menu.
    main_menu = page.get_by_role("navigation", name="Main")
    main_menu.get_by_text("System", exact=True).click()
    main_menu.get_by_role("link", name="Simulate checkout").click()
    expect(page.get_by_role("heading", name="Payment Rule Simulator")).to_be_visible()

    # Billed to 94107 (matches 941*): the rule's card is offered.
    simulate(page, postal_code="94107")
    shot(page, "rules-02-simulator-match")
    methods = page.locator("table.sim-methods tbody tr")
    expect(methods).to_have_count(1)
    expect(methods.first).to_contain_text(card.admin_label)
    expect(methods.first).to_contain_text("Stripe E2E")
    expect(trace_row(page, RULE)).to_have_attribute("data-outcome", "matched")
    expect(trace_row(page, RULE).locator(".badge")).to_have_text("Matched")
    # The page is a plain GET: its address is the simulated checkout, to share.
    expect(page).to_have_url(re.compile(r"billing_postal_code=94107"))

    # Billed to 90210 (still California, another postal code): nothing, because of the destination.
    page.get_by_label("Billing postal code").fill("90210")
    page.get_by_role("button", name="Simulate").click()
    expect(page).to_have_url(re.compile(r"billing_postal_code=90210"))
    shot(page, "rules-03-simulator-no-match")
    expect(page.get_by_text("No payment methods are available")).to_be_visible()
    row = trace_row(page, RULE)
    expect(row).to_have_attribute("data-outcome", "destination")
    expect(row.locator(".badge")).to_have_text("Destination")
    expect(row).to_contain_text("The billing address is outside the rule's destinations")
    expect(row).to_contain_text("postal codes 941*")

    # The rule's name leads back to its form.
    row.get_by_role("link", name=RULE).click()
    expect(page).to_have_url(re.compile(rf"/admin/payment-rules/{rule.pk}/edit/$"))
