"""The storefront in a real browser: a buyer pays one order by money order, one on terms."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from integrations.types import IntegrationType
from tests.e2e.conftest import login, shot
from tests.factories import CustomerUserFactory
from tests.payments.support import make_order, offered_method, payment_term


def _row(page: Page, number: str):
    return page.locator(f'tr[data-order="{number}"]')


def _checkout(page: Page, number: str, method_label: str) -> None:
    _row(page, number).get_by_role("link", name=f"Pay order {number}").click()
    expect(page.get_by_role("heading", name="Order summary")).to_be_visible()
    shot(page, f"checkout-{method_label.replace('/', '-')}")
    page.get_by_label(method_label).check()
    page.get_by_role("button", name="Pay").click()


def test_buyer_checks_out_with_money_order_and_payment_terms(
    page: Page, live_server: LiveServer
) -> None:
    buyer = CustomerUserFactory()
    buyer.customer.payment_term = payment_term("Net 30")
    buyer.customer.save()
    offered_method(IntegrationType.MONEY_ORDER)
    offered_method(IntegrationType.PAYMENT_TERM)
    by_check = make_order(customer_user=buyer, total="45.00")
    on_terms = make_order(customer_user=buyer, total="1250.00")

    login(page, live_server, buyer.user.username)
    expect(page.get_by_role("heading", name="Your orders")).to_be_visible()
    shot(page, "storefront-01-home")

    _checkout(page, by_check.number, "Check/Money Order")
    expect(page.get_by_test_id("pay-to")).to_have_text("Acme Inc.")
    expect(page.get_by_test_id("send-to")).to_contain_text("1 Main St")
    expect(page.get_by_test_id("send-to")).to_contain_text("Springfield")
    shot(page, "storefront-02-money-order-done")
    page.get_by_role("link", name="Back to your orders").click()

    _checkout(page, on_terms.number, "Payment Terms")
    expect(page.get_by_test_id("payment-term")).to_have_text("Net 30")
    expect(page.get_by_role("heading", level=1)).to_contain_text("invoiced")
    shot(page, "storefront-03-terms-done")
    page.get_by_role("link", name="Back to your orders").click()

    expect(_row(page, by_check.number).get_by_test_id("order-status")).to_have_text(
        "Pending payment"
    )
    expect(_row(page, on_terms.number).get_by_test_id("order-status")).to_have_text("Invoiced")
    expect(_row(page, by_check.number).get_by_role("link", name="Pay")).to_have_count(0)
    shot(page, "storefront-04-home-after")
