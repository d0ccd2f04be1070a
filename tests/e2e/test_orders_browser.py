"""Sales › Orders in a real browser: mark a money order received; capture twice, then refund."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from integrations.types import IntegrationType
from payments import services
from tests.e2e.conftest import login, shot
from tests.payments.support import (
    FakeCardAdapter,
    fake_card,
    key,
    make_order,
    offered_method,
    staff,
)

__all__ = ["fake_card"]


def _submit(order, method):
    return services.checkout_submit(
        order=order, method=method, customer_user=order.customer_user, idempotency_key=key("co")
    )


def _open_order(page: Page, live_server: LiveServer, number: str) -> None:
    page.goto(f"{live_server.url}/")
    page.locator("nav.mainnav summary", has_text="Sales").click()
    page.get_by_role("link", name="Orders", exact=True).click()
    shot(page, f"orders-list-{number}")
    page.get_by_role("link", name=number, exact=True).click()


def test_sales_marks_a_money_order_received(page: Page, live_server: LiveServer) -> None:
    method = offered_method(IntegrationType.MONEY_ORDER)
    order = make_order(total="45.00")
    _submit(order, method)
    sales = staff("Sales")
    login(page, live_server, sales.username)
    _open_order(page, live_server, order.number)

    status = page.get_by_test_id("payment-status")
    expect(status).to_have_text("Pending payment")
    shot(page, "orders-01-money-order")
    page.get_by_title("Actions").click()
    page.get_by_role("button", name="Mark received").click()

    expect(page.get_by_role("status")).to_contain_text(
        "The payment of 45.00 USD has been marked received successfully."
    )
    expect(status).to_have_text("Paid in full")
    expect(page.locator("tbody tr[data-transaction]")).to_have_count(2)
    expect(page.locator("tbody tr[data-transaction]").first).to_contain_text(sales.username)
    shot(page, "orders-02-received")


def _capture(page: Page, amount: str) -> None:
    row = page.locator("tbody tr[data-transaction]").filter(has_text="Authorize")
    row.get_by_title("Actions").click()
    row.get_by_role("link", name="Capture").click()
    field = page.get_by_label("Amount")
    field.fill(amount)
    page.get_by_role("button", name="Capture…").click()
    expect(page.locator("#payment-action")).to_contain_text(
        f"The customer will be charged {amount} USD."
    )
    shot(page, f"orders-capture-confirm-{amount}")
    page.get_by_role("button", name="Yes, capture").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"The payment of {amount} USD has been captured successfully."
    )


def test_sales_captures_an_authorization_twice_then_refunds_part(
    page: Page, live_server: LiveServer, fake_card: type[FakeCardAdapter]
) -> None:
    method = offered_method(IntegrationType.STRIPE, payment_action="manual")
    order = make_order(total="100.00")
    _submit(order, method)
    sales = staff("Sales")
    login(page, live_server, sales.username)
    _open_order(page, live_server, order.number)
    status = page.get_by_test_id("payment-status")
    history = page.locator("tbody tr[data-transaction]")
    expect(status).to_have_text("Payment authorized")
    expect(history).to_have_count(1)

    # The capture form starts at what remains capturable.
    row = history.filter(has_text="Authorize")
    row.get_by_title("Actions").click()
    row.get_by_role("link", name="Capture").click()
    expect(page.get_by_label("Amount")).to_have_value("100.00")
    shot(page, "orders-03-capture-form")
    # Too much is refused next to the field once confirmed, and nothing is captured.
    page.get_by_label("Amount").fill("100.01")
    page.get_by_role("button", name="Capture…").click()
    page.get_by_role("button", name="Yes, capture").click()
    expect(page.locator(".field-error")).to_contain_text("You can capture at most 100.00 USD")
    expect(status).to_have_text("Payment authorized")
    expect(history).to_have_count(1)
    shot(page, "orders-03b-capture-refused")

    _capture(page, "30.00")
    expect(status).to_have_text("Paid partially")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("Capture")
    expect(history.first).to_contain_text("30.00 USD")

    row = history.filter(has_text="Authorize")
    row.get_by_title("Actions").click()
    row.get_by_role("link", name="Capture").click()
    expect(page.get_by_label("Amount")).to_have_value("70.00")
    page.get_by_role("link", name="Cancel", exact=True).click()
    _capture(page, "70.00")
    expect(status).to_have_text("Paid in full")
    expect(history).to_have_count(3)
    # The authorization is closed: no more Capture on it.
    expect(history.last).to_contain_text("No")
    shot(page, "orders-04-captured")

    second_capture = history.first
    second_capture.get_by_title("Actions").click()
    second_capture.get_by_role("link", name="Refund").click()
    expect(page.get_by_label("Amount")).to_have_value("70.00")
    page.get_by_label("Amount").fill("20.00")
    page.get_by_label("Note").fill("One widget returned")
    shot(page, "orders-05-refund-form")
    page.get_by_role("button", name="Refund").click()
    expect(page.get_by_role("status")).to_contain_text(
        "The payment of 20.00 USD has been refunded successfully."
    )
    expect(status).to_have_text("Refunded partially")
    expect(history).to_have_count(4)
    expect(history.first).to_contain_text("Refund")
    expect(history.first).to_contain_text("20.00 USD")
    expect(history.first).to_contain_text("One widget returned")
    expect(history.first).to_contain_text(sales.username)
    shot(page, "orders-06-refunded")
    assert [call[:2] for call in fake_card.calls][1:] == [
        ("capture", 30),
        ("capture", 70),
        ("refund", 20),
    ]
