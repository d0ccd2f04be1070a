"""Card checkouts in a real browser, each against its provider's simulator: the buyer types the
card into the provider's fields (Stripe.js's element, our unnamed Accept.js fields, the form that
posts straight to Payflow Link), pays and lands on the confirmation page; a declined card lets
them try again with nothing charged; then Sales capture (and refund) in the back-office."""

from __future__ import annotations

import re
from decimal import Decimal

from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from backoffice.models import Order
from integrations.models import PaymentMethod
from integrations.types import IntegrationType
from payments.models import PaymentTransaction, State
from simulators.authorize_net import AuthorizeNetSimulator
from simulators.payflow import PayflowSimulator
from simulators.stripe import StripeSimulator
from tests.e2e.conftest import login, shot
from tests.factories import CustomerUserFactory, create_integration, create_rule_with_methods
from tests.payments.support import make_order, offered_method, staff

CARD = "Credit Card"


def _buyer_order(live_server: LiveServer, page: Page, total: str) -> Order:
    buyer = CustomerUserFactory()
    order = make_order(customer_user=buyer, total=total)
    login(page, live_server, buyer.user.username)
    return order


def _to_payment_page(page: Page, order: Order, method_label: str = CARD) -> None:
    """From the buyer's orders ("/"), choose the method and reach the provider's step."""
    page.locator(f'tr[data-order="{order.number}"]').get_by_role(
        "link", name=f"Pay order {order.number}"
    ).click()
    page.get_by_label(method_label).check()
    page.get_by_role("button", name="Pay").click()


def _expect_payment_page(page: Page, order: Order) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pay order {order.number}")
    expect(page.get_by_role("button", name=re.compile(r"^Pay "))).to_be_enabled()


def _row(order: Order) -> PaymentTransaction:
    return PaymentTransaction.objects.get(order=order)


def _open_order_as_sales(page: Page, live_server: LiveServer, order: Order) -> None:
    page.context.clear_cookies()
    login(page, live_server, staff("Sales").username)
    page.goto(f"{live_server.url}/")
    page.locator("nav.mainnav summary", has_text="Sales").click()
    page.get_by_role("link", name="Orders", exact=True).click()
    page.get_by_role("link", name=order.number, exact=True).click()


def _capture(page: Page, amount: str, name: str) -> None:
    row = page.locator("tbody tr[data-transaction]").filter(has_text="Authorize")
    row.get_by_title("Actions").click()
    row.get_by_role("link", name="Capture").click()
    page.get_by_label("Amount").fill(amount)
    page.get_by_role("button", name="Capture…").click()
    expect(page.locator("#payment-action")).to_contain_text(
        f"The customer will be charged {amount} USD."
    )
    page.get_by_role("button", name="Yes, capture").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"The payment of {amount} USD has been captured successfully."
    )
    shot(page, name)


# --- Stripe ---------------------------------------------------------------------------------------


def _stripe_card(page: Page, number: str) -> None:
    card = page.locator("#card-element")
    card.get_by_label("Card number").fill(number)
    card.get_by_label("Expiry").fill("12 / 34")
    card.get_by_label("CVC").fill("123")


def test_buyer_pays_by_card_with_stripe_then_sales_capture_part(
    page: Page, live_server: LiveServer, stripe_simulator: StripeSimulator
) -> None:
    offered_method(IntegrationType.STRIPE, api_base_url=stripe_simulator.url)
    order = _buyer_order(live_server, page, "80.00")

    _to_payment_page(page, order)
    _expect_payment_page(page, order)
    # The card fields are Stripe.js's: inside its element, and never named (nothing is posted).
    expect(page.locator("#card-element input")).to_have_count(3)
    expect(page.locator("#card-element input[name]")).to_have_count(0)
    shot(page, "stripe-01-payment-page")
    _stripe_card(page, "4242 4242 4242 4242")
    shot(page, "stripe-02-card-typed")
    page.get_by_role("button", name="Pay 80.00 USD").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("authorized")
    expect(page.get_by_test_id("payment-status")).to_have_text("Payment authorized")
    shot(page, "stripe-03-done")
    row = _row(order)
    assert (row.state, row.operation, row.amount) == (State.SUCCEEDED, "authorize", Decimal(80))
    intent = stripe_simulator.payment_intents[row.provider_reference]
    assert (intent["status"], intent["amount"]) == ("requires_capture", 8000)

    _open_order_as_sales(page, live_server, order)
    status = page.get_by_test_id("payment-status")
    history = page.locator("tbody tr[data-transaction]")
    expect(status).to_have_text("Payment authorized")
    shot(page, "stripe-04-order")
    _capture(page, "50.00", "stripe-05-captured")
    # Stripe captures once: the rest of the hold is released and the order is paid in part.
    expect(status).to_have_text("Paid partially")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("Capture")
    expect(history.first).to_contain_text("50.00 USD")
    expect(history.last).to_contain_text("Authorize")
    expect(history.last).to_contain_text("80.00 USD")
    expect(history.last).to_contain_text("No")  # nothing more can be captured
    intent = stripe_simulator.payment_intents[row.provider_reference]
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 5000)


def test_a_declined_stripe_card_can_be_corrected_on_the_same_page(
    page: Page, live_server: LiveServer, stripe_simulator: StripeSimulator
) -> None:
    offered_method(IntegrationType.STRIPE, api_base_url=stripe_simulator.url)
    order = _buyer_order(live_server, page, "25.00")

    _to_payment_page(page, order)
    _expect_payment_page(page, order)
    _stripe_card(page, "4000 0000 0000 0002")
    page.get_by_role("button", name="Pay 25.00 USD").click()
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    expect(page.get_by_role("button", name="Pay 25.00 USD")).to_be_enabled()
    shot(page, "stripe-06-declined")
    row = _row(order)
    assert row.state == State.PENDING
    intent = stripe_simulator.payment_intents[row.provider_reference]
    assert intent["status"] == "requires_payment_method"
    assert not stripe_simulator.charges or all(
        charge["status"] == "failed" for charge in stripe_simulator.charges.values()
    )

    _stripe_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay 25.00 USD").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("authorized")
    assert _row(order).state == State.SUCCEEDED


def test_stripe_3d_secure_is_completed_in_the_dialog(
    page: Page, live_server: LiveServer, stripe_simulator: StripeSimulator
) -> None:
    offered_method(IntegrationType.STRIPE, api_base_url=stripe_simulator.url)
    order = _buyer_order(live_server, page, "42.00")

    _to_payment_page(page, order)
    _stripe_card(page, "4000 0025 0000 3155")
    page.get_by_role("button", name="Pay 42.00 USD").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("3D Secure")
    shot(page, "stripe-07-3ds-dialog")
    dialog.get_by_role("button", name="Complete authentication").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("authorized")
    shot(page, "stripe-08-3ds-done")
    row = _row(order)
    assert row.state == State.SUCCEEDED
    assert stripe_simulator.payment_intents[row.provider_reference]["status"] == (
        "requires_capture"
    )


def test_the_buyer_leaves_a_started_stripe_payment_for_another_method(
    page: Page, live_server: LiveServer, stripe_simulator: StripeSimulator
) -> None:
    offered_method(IntegrationType.STRIPE, api_base_url=stripe_simulator.url)
    offered_method(IntegrationType.MONEY_ORDER)
    order = _buyer_order(live_server, page, "18.00")

    _to_payment_page(page, order)
    _expect_payment_page(page, order)
    page.get_by_role("button", name="Choose a different payment method").click()

    expect(page.get_by_role("status")).to_contain_text(
        "The payment you started was cancelled; nothing was charged."
    )
    expect(page.get_by_role("heading", name="Payment method")).to_be_visible()
    shot(page, "stripe-09-chose-another-method")
    row = _row(order)
    assert row.state == State.FAILED
    assert stripe_simulator.payment_intents[row.provider_reference]["status"] == "canceled"
    page.get_by_label("Check/Money Order").check()
    page.get_by_role("button", name="Pay").click()
    expect(page.get_by_test_id("pay-to")).to_be_visible()


# --- Authorize.Net --------------------------------------------------------------------------------


def _accept_card(page: Page, number: str) -> None:
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry").fill("12/34")
    page.get_by_label("Security code").fill("123")


def test_buyer_pays_by_card_with_authorize_net(
    page: Page, live_server: LiveServer, authorize_net_simulator: AuthorizeNetSimulator
) -> None:
    offered_method(IntegrationType.AUTHORIZE_NET, api_base_url=authorize_net_simulator.url)
    order = _buyer_order(live_server, page, "64.50")

    _to_payment_page(page, order)
    _expect_payment_page(page, order)
    # Our fields, unnamed: only Accept.js's one-time token is posted to our server.
    expect(page.locator("#card-step input[name]:not([type=hidden])")).to_have_count(0)
    shot(page, "authnet-01-payment-page")
    _accept_card(page, "4111 1111 1111 1111")
    shot(page, "authnet-02-card-typed")
    page.get_by_role("button", name="Pay 64.50 USD").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("went through")
    expect(page.get_by_test_id("payment-status")).to_have_text("Paid in full")
    shot(page, "authnet-03-done")
    row = _row(order)
    assert (row.state, row.operation) == (State.SUCCEEDED, "charge")
    transaction = authorize_net_simulator.transactions[row.provider_reference]
    assert (transaction.amount, transaction.card_number[-4:]) == (Decimal("64.50"), "1111")


def test_a_declined_authorize_net_card_lets_the_buyer_try_another_method(
    page: Page, live_server: LiveServer, authorize_net_simulator: AuthorizeNetSimulator
) -> None:
    offered_method(IntegrationType.AUTHORIZE_NET, api_base_url=authorize_net_simulator.url)
    order = _buyer_order(live_server, page, "30.00")

    _to_payment_page(page, order)
    _accept_card(page, "4222222222222")
    page.get_by_role("button", name="Pay 30.00 USD").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your payment was declined")
    expect(page.locator(".result-card")).to_contain_text("This transaction has been declined.")
    shot(page, "authnet-04-declined")
    assert _row(order).state == State.FAILED
    assert all(t.status == "declined" for t in authorize_net_simulator.transactions.values())

    page.get_by_role("link", name="Try another payment method").click()
    _to_payment_page_again(page, order)
    _accept_card(page, "4111111111111111")
    page.get_by_role("button", name="Pay 30.00 USD").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("went through")


def test_authorize_net_card_without_cvv_when_the_integration_does_not_require_it(
    page: Page, live_server: LiveServer, authorize_net_simulator: AuthorizeNetSimulator
) -> None:
    offered_method(
        IntegrationType.AUTHORIZE_NET, api_base_url=authorize_net_simulator.url, require_cvv=False
    )
    order = _buyer_order(live_server, page, "15.00")

    _to_payment_page(page, order)
    expect(page.get_by_label("Security code (optional)")).not_to_have_attribute("required", "")
    page.get_by_label("Card number").fill("4111111111111111")
    page.get_by_label("Expiry").fill("12/34")
    page.get_by_role("button", name="Pay 15.00 USD").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("went through")


def _to_payment_page_again(page: Page, order: Order, method_label: str = CARD) -> None:
    expect(page.get_by_role("heading", name="Order summary")).to_be_visible()
    page.get_by_label(method_label).check()
    page.get_by_role("button", name="Pay").click()
    _expect_payment_page(page, order)


# --- Payflow --------------------------------------------------------------------------------------


def _payflow_methods(simulator: PayflowSimulator, **settings: object) -> list[PaymentMethod]:
    integration = create_integration(
        IntegrationType.PAYFLOW_GATEWAY, name="Payflow", api_base_url=simulator.url, **settings
    )
    methods = list(integration.methods.all())
    create_rule_with_methods("Payflow rule", methods, currency="USD")
    return methods


def _payflow_card(page: Page, number: str, cvv: str = "123") -> None:
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry").fill("1234")
    page.get_by_label("Security code").fill(cvv)


def test_buyer_pays_by_card_with_payflow_then_sales_capture_twice_and_refund(
    page: Page, live_server: LiveServer, payflow_simulator: PayflowSimulator
) -> None:
    _payflow_methods(payflow_simulator)
    order = _buyer_order(live_server, page, "100.00")

    _to_payment_page(page, order)
    _expect_payment_page(page, order)
    form = page.locator("#card-step")
    expect(form).to_have_attribute("action", f"{payflow_simulator.url}/payflowlink")
    expect(form.locator("input[name=csrfmiddlewaretoken]")).to_have_count(0)
    shot(page, "payflow-01-payment-page")
    _payflow_card(page, "4111 1111 1111 1111")
    shot(page, "payflow-02-card-typed")
    page.get_by_role("button", name="Pay 100.00 USD").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("authorized")
    shot(page, "payflow-03-done")
    row = _row(order)
    assert (row.state, row.operation) == (State.SUCCEEDED, "authorize")
    authorization = payflow_simulator.transactions[row.provider_reference]
    assert (authorization.trxtype, authorization.amount, authorization.acct_last4) == (
        "A",
        10000,
        "1111",
    )

    _open_order_as_sales(page, live_server, order)
    status = page.get_by_test_id("payment-status")
    history = page.locator("tbody tr[data-transaction]")
    expect(status).to_have_text("Payment authorized")
    shot(page, "payflow-04-order")
    _capture(page, "30.00", "payflow-05-captured-once")
    expect(status).to_have_text("Paid partially")
    _capture(page, "50.00", "payflow-06-captured-twice")
    expect(status).to_have_text("Paid partially")
    expect(history).to_have_count(3)
    # Payflow captures many times: the authorization stays open for the remaining 20.00.
    expect(history.last).to_contain_text("Yes")

    captured = history.filter(has_text="50.00 USD").filter(has_text="Capture")
    captured.get_by_title("Actions").click()
    captured.get_by_role("link", name="Refund").click()
    page.get_by_label("Amount").fill("20.00")
    page.get_by_label("Note").fill("One widget returned")
    page.get_by_role("button", name="Refund").click()
    expect(page.get_by_role("status")).to_contain_text(
        "The payment of 20.00 USD has been refunded successfully."
    )
    expect(status).to_have_text("Refunded partially")
    expect(history).to_have_count(4)
    expect(history.first).to_contain_text("Refund")
    expect(history.first).to_contain_text("20.00 USD")
    expect(history.first).to_contain_text("One widget returned")
    shot(page, "payflow-07-refunded")
    authorization = payflow_simulator.transactions[row.provider_reference]
    assert (authorization.captured, authorization.closed) == (8000, False)
    by_type = sorted(
        (t.trxtype, t.amount) for t in payflow_simulator.transactions.values() if t.origid
    )
    assert by_type == [("C", 2000), ("D", 3000), ("D", 5000)]


def test_a_declined_payflow_card_lets_the_buyer_try_another_method(
    page: Page, live_server: LiveServer, payflow_simulator: PayflowSimulator
) -> None:
    _payflow_methods(payflow_simulator)
    # Payflow's pilot server declines 1012.00.
    order = _buyer_order(live_server, page, "1012.00")

    _to_payment_page(page, order)
    _payflow_card(page, "4111111111111111")
    page.get_by_role("button", name="Pay 1,012.00 USD").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your payment was declined")
    expect(page.locator(".result-card")).to_contain_text(
        "The card was declined. Please use another card or payment method."
    )
    shot(page, "payflow-08-declined")
    assert _row(order).state == State.FAILED
    assert [t.result for t in payflow_simulator.transactions.values()] == [12]

    page.get_by_role("link", name="Try another payment method").click()
    expect(page.get_by_role("heading", name="Order summary")).to_be_visible()
    shot(page, "payflow-09-choose-again")
    # PayPal (Express Checkout over Payflow) knows nothing of the card triggers.
    page.get_by_label("PayPal").check()
    page.get_by_role("button", name="Pay").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("went through")
    assert [row.state for row in PaymentTransaction.objects.filter(order=order).order_by("pk")] == [
        State.FAILED,
        State.SUCCEEDED,
    ]


def test_the_payflow_card_form_works_without_javascript(
    browser: Browser,
    live_server: LiveServer,
    backoffice_roles: None,
    payflow_simulator: PayflowSimulator,
) -> None:
    """Payflow Link's answer posts the result back by script; without one, the buyer presses
    Continue (and the page is left on screen long enough to look at)."""
    _payflow_methods(payflow_simulator)
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(5_000)
    page = context.new_page()
    try:
        order = _buyer_order(live_server, page, "12.00")
        _to_payment_page(page, order)
        _payflow_card(page, "4111111111111111")
        page.get_by_role("button", name="Pay 12.00 USD").click()
        expect(page).to_have_title(re.compile("Payflow Link"))
        shot(page, "payflow-12-link-return-page")
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("authorized")
    finally:
        context.close()
    assert _row(order).state == State.SUCCEEDED


def test_payflow_card_without_cvv_when_the_integration_does_not_require_it(
    page: Page, live_server: LiveServer, payflow_simulator: PayflowSimulator
) -> None:
    _payflow_methods(payflow_simulator, require_cvv=False)
    order = _buyer_order(live_server, page, "15.00")

    _to_payment_page(page, order)
    expect(page.get_by_label("Security code (optional)")).not_to_have_attribute("required", "")
    _payflow_card(page, "4111111111111111", cvv="")
    shot(page, "payflow-13-cvv-optional")
    page.get_by_role("button", name="Pay 15.00 USD").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("authorized")
    assert payflow_simulator.transactions[_row(order).provider_reference].extra["CVV2MATCH"] == "X"


def test_buyer_pays_with_payflow_express_checkout(
    page: Page, live_server: LiveServer, payflow_simulator: PayflowSimulator
) -> None:
    _card, express = _payflow_methods(payflow_simulator)
    order = _buyer_order(live_server, page, "64.50")

    _to_payment_page(page, order, express.label)
    expect(page).to_have_title(re.compile("PayPal"))
    expect(page.get_by_text("64.50 USD")).to_be_visible()
    shot(page, "payflow-10-paypal-page")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("went through")
    shot(page, "payflow-11-express-done")
    row = _row(order)
    assert row.state == State.SUCCEEDED
    sale = payflow_simulator.transactions[row.provider_reference.removeprefix("P:")]
    assert (sale.tender, sale.trxtype, sale.amount) == ("P", "S", 6450)


def test_the_buyer_cancels_on_the_paypal_page_of_payflow_express(
    page: Page, live_server: LiveServer, payflow_simulator: PayflowSimulator
) -> None:
    _payflow_methods(payflow_simulator)
    order = _buyer_order(live_server, page, "64.50")

    _to_payment_page(page, order, "PayPal")
    page.get_by_role("button", name="Cancel and return to the store").click()

    expect(page.get_by_role("status")).to_contain_text(
        "You cancelled the payment; nothing was charged."
    )
    expect(page.get_by_role("heading", name="Payment method")).to_be_visible()
    shot(page, "payflow-14-express-cancelled")
    assert _row(order).state == State.FAILED
    assert not payflow_simulator.transactions
