"""The Content-Security-Policy in a real browser: it blocks inline code, and our pages, the
providers' stand-in scripts (served from loopback simulators in the sandbox) and the redirects to
their pages run without a single violation."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from integrations.types import IntegrationType
from simulators.paypal import PayPalSimulator
from simulators.stripe import StripeSimulator
from tests.e2e.conftest import login
from tests.factories import CustomerUserFactory
from tests.payments.support import make_order, offered_method


@pytest.fixture
def violations(page: Page) -> Iterator[list[str]]:
    """Chromium's console reports of what the policy refused, for the test to assert on."""
    found: list[str] = []
    page.on(
        "console",
        lambda message: (
            found.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield found


def test_the_policy_refuses_an_inline_script(
    page: Page, live_server: LiveServer, violations: list[str]
) -> None:
    page.goto(f"{live_server.url}/login/")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.inlineRan = true";
            document.body.appendChild(script);
        }"""
    )
    assert page.evaluate("() => window.inlineRan") is None
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert any("inline script" in text for text in violations), violations


def test_back_office_pages_run_without_a_violation(
    page: Page, live_server: LiveServer, violations: list[str]
) -> None:
    call_command("seed_demo", stdout=io.StringIO())
    login(page, live_server, "admin", "admin-demo")

    page.goto(f"{live_server.url}/admin/integrations/")
    row = page.locator("tbody tr").filter(
        has=page.get_by_role("link", name="Demo Stripe", exact=True)
    )
    row.get_by_title("More options").click()
    row.get_by_role("link", name="Delete").click()
    expect(page.locator("dialog[open]")).to_contain_text("Delete integration “Demo Stripe”?")
    page.locator("dialog[open]").get_by_role("link", name="Cancel").click()

    for path in [
        "/admin/integrations/new/?type=stripe",
        "/admin/payment-rules/",
        "/admin/payment-rules/new/",
        "/admin/payment-rules/simulate/",
        "/admin/orders/",
        "/admin/payment-terms/",
    ]:
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, path
        assert response.headers.get("content-security-policy"), path
    assert violations == []


def test_a_stripe_card_payment_runs_without_a_violation(
    page: Page, live_server: LiveServer, stripe_simulator: StripeSimulator, violations: list[str]
) -> None:
    offered_method(IntegrationType.STRIPE, api_base_url=stripe_simulator.url)
    buyer = CustomerUserFactory()
    order = make_order(customer_user=buyer, total="42.00")
    login(page, live_server, buyer.user.username)

    page.goto(f"{live_server.url}/checkout/{order.number}/")
    page.get_by_label("Credit Card").check()
    page.get_by_role("button", name="Pay").click()
    # The stand-in Stripe.js, loaded from the loopback simulator, builds its card fields...
    card = page.locator("#card-element")
    card.get_by_label("Card number").fill("4242 4242 4242 4242")
    card.get_by_label("Expiry").fill("12 / 34")
    card.get_by_label("CVC").fill("123")
    # ...and confirms with the simulator's API from the browser.
    page.get_by_role("button", name="Pay 42.00 USD").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("authorized")
    assert violations == []


def test_the_redirect_to_paypal_after_the_checkout_form_is_allowed(
    page: Page, live_server: LiveServer, paypal_simulator: PayPalSimulator, violations: list[str]
) -> None:
    offered_method(
        IntegrationType.PAYPAL_EXPRESS, api_base_url=paypal_simulator.url, payment_action="charge"
    )
    buyer = CustomerUserFactory()
    order = make_order(customer_user=buyer, total="18.00")
    login(page, live_server, buyer.user.username)

    page.goto(f"{live_server.url}/checkout/{order.number}/")
    page.get_by_label("PayPal").check()
    # The form posts to us, and our answer redirects to PayPal: form-action covers the redirect.
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_title(re.compile("PayPal sandbox stand-in"))
    page.get_by_role("button", name="Pay with PayPal").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("your payment went through")
    assert violations == []
