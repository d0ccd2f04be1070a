"""PayPal Express in a real browser: the buyer leaves for PayPal's page (the simulator's stand-in)
and comes back to a paid order; a declined PayPal account lets them choose again."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from integrations.types import IntegrationType
from payments.models import PaymentTransaction, State
from simulators.paypal import PayPalSimulator
from tests.e2e.conftest import login, shot
from tests.factories import CustomerUserFactory
from tests.payments.support import make_order, offered_method


def _to_paypal(page: Page, number: str) -> None:
    page.locator(f'tr[data-order="{number}"]').get_by_role(
        "link", name=f"Pay order {number}"
    ).click()
    page.get_by_label("PayPal").check()
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_title(re.compile("PayPal sandbox stand-in"))


def test_buyer_pays_with_paypal_and_comes_back_authorized(
    page: Page, live_server: LiveServer, paypal_simulator: PayPalSimulator
) -> None:
    buyer = CustomerUserFactory()
    offered_method(
        IntegrationType.PAYPAL_EXPRESS,
        api_base_url=paypal_simulator.url,
        payment_action="authorize",
    )
    order = make_order(customer_user=buyer, total="64.50")
    login(page, live_server, buyer.user.username)

    _to_paypal(page, order.number)
    expect(page.locator(".amount")).to_contain_text("64.50 USD")
    shot(page, "paypal-01-approval")
    page.get_by_role("button", name="Pay with PayPal").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("authorized")
    shot(page, "paypal-02-done")
    row = PaymentTransaction.objects.get(order=order)
    assert row.state == State.SUCCEEDED
    assert paypal_simulator.resources[row.provider_reference]["state"] == "authorized"


def test_a_declined_paypal_account_lets_the_buyer_choose_again(
    page: Page, live_server: LiveServer, paypal_simulator: PayPalSimulator
) -> None:
    buyer = CustomerUserFactory()
    offered_method(IntegrationType.PAYPAL_EXPRESS, api_base_url=paypal_simulator.url)
    order = make_order(customer_user=buyer, total="20.00")
    login(page, live_server, buyer.user.username)

    _to_paypal(page, order.number)
    page.get_by_label("Simulate a declined funding source").check()
    page.get_by_role("button", name="Pay with PayPal").click()
    expect(page.get_by_text("PayPal declined the payment")).to_be_visible()
    shot(page, "paypal-03-declined")
    assert PaymentTransaction.objects.get(order=order).state == State.FAILED
    assert not [r for r in paypal_simulator.resources.values() if r["_kind"] == "sale"]
