"""The documented deletion flow, in a real browser, on the demo data."""

from __future__ import annotations

import io
import re

from django.core.management import call_command
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from rules.models import PaymentRule, PaymentRuleMethod
from tests.e2e.conftest import login, shot

AFFECTED = ["US cards", "Wholesale: terms, checks and cards"]


def test_administrator_deletes_demo_stripe_after_reviewing_the_affected_rules(
    page: Page, live_server: LiveServer
) -> None:
    call_command("seed_demo", stdout=io.StringIO())
    login(page, live_server, "admin", "admin-demo")
    page.goto(f"{live_server.url}/admin/integrations/")

    # System › Integrations › Manage Integrations: the ⋯ menu at the end of Demo Stripe's row.
    row = page.locator("tbody tr").filter(
        has=page.get_by_role("link", name="Demo Stripe", exact=True)
    )
    row.get_by_title("More options").click()
    row.get_by_role("link", name="Delete").click()

    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("Delete integration “Demo Stripe”?")
    expect(dialog).to_contain_text("2 payment rules")
    for name in AFFECTED:
        expect(dialog.locator(".rule-names").first).to_contain_text(name)
    expect(dialog).to_contain_text("Rules that will be disabled")
    shot(page, "delete-01-dialog")

    # The review link opens exactly the affected rules in a new tab.
    review = dialog.get_by_role("link", name="Review the affected payment rules")
    expect(review).to_have_attribute("target", "_blank")
    with page.context.expect_page() as new_tab_info:
        review.click()
    new_tab = new_tab_info.value
    new_tab.wait_for_load_state()
    expect(new_tab).to_have_url(re.compile(r"/admin/payment-rules/\?ids=\d+,\d+$"))
    listed = new_tab.locator("tbody tr[data-rule]")
    expect(listed).to_have_count(2)
    for name in AFFECTED:
        expect(new_tab.locator("tbody")).to_contain_text(name)
    shot(new_tab, "delete-02-review-tab")
    new_tab.close()

    dialog.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Deleted Demo Stripe. Disabled 2 payment methods in 2 rules; 1 rule disabled."
    )
    expect(page.locator("tbody")).not_to_contain_text("Demo Stripe")
    shot(page, "delete-03-flash")

    # The rule pages show the disabled method with its reason, and the rule left empty disabled.
    us_cards = PaymentRule.objects.get(name="US cards")
    assert us_cards.enabled is False
    assert PaymentRule.objects.get(name=AFFECTED[1]).enabled is True
    reason = PaymentRuleMethod.objects.filter(rule=us_cards).get().disabled_reason
    assert reason.startswith("integration Demo Stripe deleted on")
    page.goto(f"{live_server.url}/admin/payment-rules/{us_cards.pk}/edit/")
    expect(page.get_by_label("Enabled", exact=True)).not_to_be_checked()
    expect(page.locator("body")).to_contain_text("cannot be enabled")
    expect(page.locator("body")).to_contain_text("Demo Stripe deleted on")
    shot(page, "delete-04-rule")
    page.goto(f"{live_server.url}/admin/payment-rules/?ids={us_cards.pk}")
    expect(page.locator("tbody tr[data-rule]")).to_contain_text("Disabled")


def test_cancel_leaves_everything_as_it_was(page: Page, live_server: LiveServer) -> None:
    call_command("seed_demo", stdout=io.StringIO())
    login(page, live_server, "admin", "admin-demo")
    page.goto(f"{live_server.url}/admin/integrations/")
    row = page.locator("tbody tr").filter(
        has=page.get_by_role("link", name="Demo Stripe", exact=True)
    )
    row.get_by_title("More options").click()
    row.get_by_role("link", name="Delete").click()
    page.locator("dialog[open]").get_by_role("link", name="Cancel").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page.locator("tbody")).to_contain_text("Demo Stripe")
    assert PaymentRule.objects.filter(enabled=True).count() == 7


def test_without_javascript_the_confirmation_is_a_page(
    browser, live_server: LiveServer, backoffice_roles
) -> None:
    call_command("seed_demo", stdout=io.StringIO())
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    login(page, live_server, "admin", "admin-demo")
    page.goto(f"{live_server.url}/admin/integrations/")
    row = page.locator("tbody tr").filter(
        has=page.get_by_role("link", name="Demo Stripe", exact=True)
    )
    row.get_by_title("More options").click()
    row.get_by_role("link", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/admin/integrations/\d+/delete/$"))
    expect(page.locator("main")).to_contain_text("2 payment rules")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted Demo Stripe.")
    context.close()
