"""PayPal Express (REST v1 through paypalrestsdk) over real HTTP to the PayPal simulator.

The buyer's part is played with plain HTTP against the simulator's approval page, as a browser
would: open the approval URL, post its form, follow the redirect's query back to `complete`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from integrations.adapters import adapter_for
from integrations.adapters.base import (
    AdapterConfig,
    CheckoutUrls,
    InvalidWebhook,
    Operation,
    PaymentRequest,
    PaymentStep,
    ProviderError,
    ResultState,
    StepKind,
)
from integrations.adapters.paypal_express import PayPalExpressAdapter
from integrations.types import IntegrationType
from simulators.base import Fault
from simulators.paypal import PayPalSimulator
from tests.factories import VALID_SETTINGS, create_integration

SETTINGS = VALID_SETTINGS[IntegrationType.PAYPAL_EXPRESS]
WEBHOOK_ID = "8PT597110X687430LKGECATA"
URLS = CheckoutUrls(
    return_url="http://shop.test/checkout/7/return/?step=1",
    cancel_url="http://shop.test/checkout/7/cancel/",
    notify_url="http://shop.test/webhooks/paypal/",
)


def _adapter(
    simulator: PayPalSimulator, *, timeout: float = 5.0, **settings: Any
) -> PayPalExpressAdapter:
    return PayPalExpressAdapter(
        AdapterConfig(
            settings={"client_id": SETTINGS["client_id"], "webhook_id": WEBHOOK_ID, **settings},
            secrets={"client_secret": SETTINGS["client_secret"]},
            sandbox=True,
            timeout_seconds=timeout,
            api_base_url=simulator.url,
        )
    )


def _request(
    action: str = Operation.AUTHORIZE,
    amount: str = "25.00",
    currency: str = "USD",
    key: str = "order-1001-pay-1",
) -> PaymentRequest:
    return PaymentRequest(
        order_number="1001",
        amount=Decimal(amount),
        currency=currency,
        idempotency_key=key,
        method_identifier="paypal_express",
        payment_action=action,
    )


def _browser(step: PaymentStep, choice: str = "approve", *, decline: bool = False) -> str:
    """Open the approval page, press a button; answer where PayPal sends the browser."""
    page = requests.get(step.url, timeout=5)
    assert page.status_code == 200
    assert "PayPal sandbox stand-in" in page.text and "local simulator" in page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert action and token
    form = {"token": token.group(1), "action": choice}
    if decline:
        form["decline"] = "on"
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(step.url))
    answer = requests.post(origin + action.group(1), data=form, allow_redirects=False, timeout=5)
    assert answer.status_code == 303
    return answer.headers["Location"]


def _approved(step: PaymentStep, *, decline: bool = False) -> dict[str, str]:
    location = _browser(step, decline=decline)
    assert location.startswith(URLS.return_url + "&")
    return dict(parse_qsl(urlsplit(location).query))


def _resources(simulator: PayPalSimulator, kind: str) -> list[dict[str, Any]]:
    return [r for r in simulator.resources.values() if r["_kind"] == kind]


def _paid(
    simulator: PayPalSimulator, action: str = Operation.AUTHORIZE, **request: str
) -> tuple[PayPalExpressAdapter, str]:
    """A completed checkout; answers the adapter and the authorization or sale id."""
    adapter = _adapter(simulator)
    payment = _request(action, **request)
    step = adapter.begin(payment, URLS)
    result = adapter.complete(payment, reference=step.reference, params=_approved(step))
    assert result.state == ResultState.SUCCEEDED, result
    return adapter, result.reference


# --- connection and declared operations --------------------------------------------------------


@pytest.mark.django_db
def test_check_credentials_and_webhook_id_come_from_the_integration(
    paypal_simulator: PayPalSimulator,
) -> None:
    integration = create_integration(
        IntegrationType.PAYPAL_EXPRESS, api_base_url=paypal_simulator.url, webhook_id=WEBHOOK_ID
    )
    adapter = adapter_for(integration)
    assert adapter.check_credentials().ok
    assert integration.settings["webhook_id"] == WEBHOOK_ID
    assert {Operation.AUTHORIZE, Operation.CHARGE, Operation.CAPTURE} <= adapter.supports
    assert {Operation.CANCEL, Operation.REFUND, Operation.CHECK_CREDENTIALS} <= adapter.supports
    assert adapter.multiple_captures and adapter.browser_step


# --- the browser step --------------------------------------------------------------------------


def test_authorize_redirects_to_the_approval_page_and_executes_on_return(
    paypal_simulator: PayPalSimulator,
) -> None:
    adapter = _adapter(paypal_simulator)
    payment = _request(Operation.AUTHORIZE)
    step = adapter.begin(payment, URLS)
    assert step.kind == StepKind.REDIRECT
    assert step.reference.startswith("PAY-")
    assert step.url.startswith(f"{paypal_simulator.url}/checkoutnow?token=EC-")
    page = requests.get(step.url, timeout=5).text
    assert "25.00" in page and "USD" in page and "Order 1001" in page
    assert "Pay with PayPal" in page and "Cancel and return" in page

    params = _approved(step)
    assert params["paymentId"] == step.reference and params["PayerID"]
    result = adapter.complete(payment, reference=step.reference, params=params)
    assert result.ok and result.state == ResultState.SUCCEEDED
    authorization = paypal_simulator.resources[result.reference]
    assert authorization["_kind"] == "authorization"
    assert authorization["state"] == "authorized"
    assert authorization["amount"] == {"total": "25.00", "currency": "USD"}
    assert paypal_simulator.payments[step.reference].request["intent"] == "authorize"
    assert "links" not in result.raw


def test_charge_executes_a_sale(paypal_simulator: PayPalSimulator) -> None:
    _, sale_id = _paid(paypal_simulator, Operation.CHARGE, amount="12.34")
    sale = paypal_simulator.resources[sale_id]
    assert sale["_kind"] == "sale" and sale["state"] == "completed"
    assert sale["amount"]["total"] == "12.34"


def test_the_request_ids_follow_our_idempotency_key(paypal_simulator: PayPalSimulator) -> None:
    _paid(paypal_simulator, key="order-1001-pay-7")
    sent = [r.headers.get("PayPal-Request-Id") for r in paypal_simulator.received]
    assert "order-1001-pay-7-create" in sent and "order-1001-pay-7-execute" in sent


def test_begin_again_with_the_same_key_answers_the_same_payment(
    paypal_simulator: PayPalSimulator,
) -> None:
    adapter = _adapter(paypal_simulator)
    first = adapter.begin(_request(), URLS)
    again = adapter.begin(_request(), URLS)
    assert (again.reference, again.url) == (first.reference, first.url)
    assert len(paypal_simulator.payments) == 1
    assert adapter.begin(_request(key="order-1001-pay-2"), URLS).reference != first.reference


def test_complete_twice_records_one_authorization(paypal_simulator: PayPalSimulator) -> None:
    adapter = _adapter(paypal_simulator)
    payment = _request()
    step = adapter.begin(payment, URLS)
    params = _approved(step)
    first = adapter.complete(payment, reference=step.reference, params=params)
    again = adapter.complete(payment, reference=step.reference, params=params)
    assert again.state == first.state == ResultState.SUCCEEDED
    assert again.reference == first.reference
    # A retry under another key finds the payment already executed and reads it back.
    retried = adapter.complete(_request(key="other-key"), reference=step.reference, params=params)
    assert retried.reference == first.reference
    assert len(_resources(paypal_simulator, "authorization")) == 1


def test_a_return_without_approval_is_pending(paypal_simulator: PayPalSimulator) -> None:
    adapter = _adapter(paypal_simulator)
    payment = _request()
    step = adapter.begin(payment, URLS)
    token = step.url.rpartition("=")[2]
    faked = {"paymentId": step.reference, "token": token, "PayerID": "FORGEDPAYER01"}
    result = adapter.complete(payment, reference=step.reference, params=faked)
    assert result.state == ResultState.PENDING and result.ok  # accepted, not settled
    assert adapter.complete(payment, reference=step.reference, params={}).state == (
        ResultState.PENDING
    )
    assert not _resources(paypal_simulator, "authorization")


def test_a_return_for_another_payment_is_not_trusted(paypal_simulator: PayPalSimulator) -> None:
    adapter = _adapter(paypal_simulator)
    mine = adapter.begin(_request(key="a"), URLS)
    other = adapter.begin(_request(key="b"), URLS)
    params = _approved(other)
    result = adapter.complete(_request(key="a"), reference=mine.reference, params=params)
    assert result.state == ResultState.PENDING
    assert not _resources(paypal_simulator, "authorization")


def test_a_declined_funding_source_fails_with_a_message(paypal_simulator: PayPalSimulator) -> None:
    adapter = _adapter(paypal_simulator)
    payment = _request(Operation.CHARGE)
    step = adapter.begin(payment, URLS)
    result = adapter.complete(
        payment, reference=step.reference, params=_approved(step, decline=True)
    )
    assert not result.ok and result.state == ResultState.FAILED
    assert "declined" in result.message
    assert result.raw["error"]["name"] == "INSTRUMENT_DECLINED"
    assert not _resources(paypal_simulator, "sale")
    # Asked again, PayPal's record of the payment still says it failed.
    again = adapter.complete(payment, reference=step.reference, params={})
    assert again.state == ResultState.FAILED


def test_the_buyer_cancels_at_paypal_and_abandons(paypal_simulator: PayPalSimulator) -> None:
    adapter = _adapter(paypal_simulator)
    payment = _request()
    step = adapter.begin(payment, URLS)
    location = _browser(step, "cancel")
    assert location == f"{URLS.cancel_url}?token={step.url.rpartition('=')[2]}"
    result = adapter.abandon(payment, reference=step.reference)
    assert not result.ok and result.state == ResultState.FAILED
    assert result.message == "The buyer left PayPal; nothing was charged."


def test_abandon_after_the_payment_went_through_reports_it(
    paypal_simulator: PayPalSimulator,
) -> None:
    adapter = _adapter(paypal_simulator)
    payment = _request(Operation.CHARGE)
    step = adapter.begin(payment, URLS)
    sale = adapter.complete(payment, reference=step.reference, params=_approved(step))
    result = adapter.abandon(payment, reference=step.reference)
    assert result.state == ResultState.SUCCEEDED and result.reference == sale.reference


# --- staff operations --------------------------------------------------------------------------


def test_partial_captures_then_partial_refunds(paypal_simulator: PayPalSimulator) -> None:
    adapter, authorization_id = _paid(paypal_simulator, amount="100.00")
    first = adapter.capture(
        reference=authorization_id, amount=Decimal("30.00"), currency="USD", idempotency_key="c1"
    )
    second = adapter.capture(
        reference=authorization_id, amount=Decimal("50.00"), currency="USD", idempotency_key="c2"
    )
    assert first.ok and second.ok and first.reference != second.reference
    assert paypal_simulator.resources[authorization_id]["state"] == "partially_captured"
    # PayPal honours up to 115% of the authorization (at most 75 more) over all captures.
    too_much = adapter.capture(
        reference=authorization_id, amount=Decimal("35.01"), currency="USD", idempotency_key="c3"
    )
    assert too_much.state == ResultState.FAILED
    assert too_much.message.startswith("The amount is more than PayPal lets you capture")
    assert paypal_simulator.resources[authorization_id]["state"] == "partially_captured"

    refund = adapter.refund(
        reference=first.reference, amount=Decimal("10.00"), currency="USD", idempotency_key="r1"
    )
    again = adapter.refund(
        reference=first.reference, amount=Decimal("15.00"), currency="USD", idempotency_key="r2"
    )
    assert refund.ok and again.ok and refund.reference != again.reference
    assert paypal_simulator.resources[refund.reference]["capture_id"] == first.reference
    over = adapter.refund(
        reference=first.reference, amount=Decimal("5.01"), currency="USD", idempotency_key="r3"
    )
    assert over.state == ResultState.FAILED and not over.ok
    assert over.raw["error"]["name"] == "REFUND_EXCEEDED_TRANSACTION_AMOUNT"
    assert paypal_simulator.resources[first.reference]["state"] == "partially_refunded"


def test_paypal_honours_a_capture_over_the_authorization_up_to_its_limit(
    paypal_simulator: PayPalSimulator,
) -> None:
    adapter, authorization_id = _paid(paypal_simulator, amount="100.00")
    over = adapter.capture(
        reference=authorization_id, amount=Decimal("110.00"), currency="USD", idempotency_key="c1"
    )
    assert over.ok and paypal_simulator.resources[authorization_id]["state"] == "captured"
    more = adapter.capture(
        reference=authorization_id, amount=Decimal("1.00"), currency="USD", idempotency_key="c2"
    )
    assert more.raw["error"]["name"] == "AUTHORIZATION_ALREADY_COMPLETED"


def test_voiding_a_partly_captured_authorization_releases_the_rest(
    paypal_simulator: PayPalSimulator,
) -> None:
    adapter, authorization_id = _paid(paypal_simulator)
    adapter.capture(
        reference=authorization_id, amount=Decimal("5.00"), currency="USD", idempotency_key="c1"
    )
    void = adapter.cancel(
        reference=authorization_id, amount=Decimal("20.00"), currency="USD", idempotency_key="v1"
    )
    assert void.ok and paypal_simulator.resources[authorization_id]["state"] == "voided"
    again = adapter.cancel(
        reference=authorization_id, amount=Decimal("20.00"), currency="USD", idempotency_key="v2"
    )
    assert again.state == ResultState.FAILED


def test_a_sale_is_refunded_through_the_sale(paypal_simulator: PayPalSimulator) -> None:
    adapter, sale_id = _paid(paypal_simulator, Operation.CHARGE, amount="40.00")
    refund = adapter.refund(
        reference=sale_id, amount=Decimal("40.00"), currency="USD", idempotency_key="r1"
    )
    assert refund.ok and paypal_simulator.resources[refund.reference]["sale_id"] == sale_id
    assert paypal_simulator.resources[sale_id]["state"] == "refunded"
    more = adapter.refund(
        reference=sale_id, amount=Decimal("1.00"), currency="USD", idempotency_key="r2"
    )
    assert more.state == ResultState.FAILED
    assert more.message == "The payment was already fully refunded."


def test_a_replayed_capture_key_captures_once(paypal_simulator: PayPalSimulator) -> None:
    adapter, authorization_id = _paid(paypal_simulator)
    first = adapter.capture(
        reference=authorization_id, amount=Decimal("5.00"), currency="USD", idempotency_key="cap"
    )
    again = adapter.capture(
        reference=authorization_id, amount=Decimal("5.00"), currency="USD", idempotency_key="cap"
    )
    assert again.reference == first.reference
    assert len(_resources(paypal_simulator, "capture")) == 1
    refund = adapter.refund(
        reference=first.reference, amount=Decimal("1.00"), currency="USD", idempotency_key="ref"
    )
    refund_again = adapter.refund(
        reference=first.reference, amount=Decimal("1.00"), currency="USD", idempotency_key="ref"
    )
    assert refund_again.reference == refund.reference
    assert len(_resources(paypal_simulator, "refund")) == 1


def test_authorize_then_cancel_voids(paypal_simulator: PayPalSimulator) -> None:
    adapter, authorization_id = _paid(paypal_simulator)
    result = adapter.cancel(
        reference=authorization_id, amount=Decimal("25.00"), currency="USD", idempotency_key="v1"
    )
    assert result.ok and result.reference == authorization_id
    assert paypal_simulator.resources[authorization_id]["state"] == "voided"
    late = adapter.capture(
        reference=authorization_id, amount=Decimal("1.00"), currency="USD", idempotency_key="c1"
    )
    assert late.state == ResultState.FAILED
    assert late.raw["error"]["name"] == "AUTHORIZATION_ALREADY_COMPLETED"


def test_a_final_capture_releases_the_rest(paypal_simulator: PayPalSimulator) -> None:
    _, authorization_id = _paid(paypal_simulator)
    token = requests.post(
        f"{paypal_simulator.url}/v1/oauth2/token",
        auth=(SETTINGS["client_id"], SETTINGS["client_secret"]),
        data={"grant_type": "client_credentials"},
        timeout=5,
    ).json()["access_token"]
    url = f"{paypal_simulator.url}/v1/payments/authorization/{authorization_id}/capture"
    body = {"amount": {"total": "10.00", "currency": "USD"}, "is_final_capture": True}
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.post(url, json=body, headers=headers, timeout=5).status_code == 200
    refused = requests.post(url, json=body, headers=headers, timeout=5)
    assert refused.status_code == 400
    assert refused.json()["name"] == "AUTHORIZATION_ALREADY_COMPLETED"


def test_jpy_amounts_reach_paypal_without_decimals(paypal_simulator: PayPalSimulator) -> None:
    adapter, authorization_id = _paid(paypal_simulator, amount="1500", currency="JPY")
    (payment,) = paypal_simulator.payments.values()
    assert payment.request["transactions"][0]["amount"] == {"total": "1500", "currency": "JPY"}
    capture = adapter.capture(
        reference=authorization_id, amount=Decimal("500"), currency="JPY", idempotency_key="c1"
    )
    assert paypal_simulator.resources[capture.reference]["amount"]["total"] == "500"


def test_huf_goes_to_paypal_as_a_whole_amount(paypal_simulator: PayPalSimulator) -> None:
    _paid(paypal_simulator, amount="1000.00", currency="HUF")
    (payment,) = paypal_simulator.payments.values()
    assert payment.request["transactions"][0]["amount"] == {"total": "1000", "currency": "HUF"}


def test_paypal_refuses_decimals_in_jpy(paypal_simulator: PayPalSimulator) -> None:
    token = requests.post(
        f"{paypal_simulator.url}/v1/oauth2/token",
        auth=(SETTINGS["client_id"], SETTINGS["client_secret"]),
        data={"grant_type": "client_credentials"},
        timeout=5,
    ).json()["access_token"]
    body = {
        "intent": "sale",
        "payer": {"payment_method": "paypal"},
        "redirect_urls": {"return_url": URLS.return_url, "cancel_url": URLS.cancel_url},
        "transactions": [{"amount": {"total": "1500.00", "currency": "JPY"}}],
    }
    answer = requests.post(
        f"{paypal_simulator.url}/v1/payments/payment",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["name"] == "VALIDATION_ERROR"
    assert answer.json()["details"] == [
        {"field": "transactions[0].amount.total", "issue": "Currency does not support decimals."}
    ]


# --- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [Fault.HTTP_500, Fault.GARBAGE], ids=str)
def test_a_failing_paypal_raises_provider_error(
    paypal_simulator: PayPalSimulator, fault: Fault
) -> None:
    adapter, authorization_id = _paid(paypal_simulator)
    paypal_simulator.fault = fault
    with pytest.raises(ProviderError):
        adapter.begin(_request(key="another"), URLS)
    with pytest.raises(ProviderError):
        adapter.capture(
            reference=authorization_id, amount=Decimal("1.00"), currency="USD", idempotency_key="c"
        )


def test_a_slow_paypal_times_out(paypal_simulator: PayPalSimulator) -> None:
    paypal_simulator.fault = Fault.SLOW
    paypal_simulator.slow_seconds = 1.0
    started = time.monotonic()
    with pytest.raises(ProviderError):
        _adapter(paypal_simulator, timeout=0.2).begin(_request(), URLS)
    assert time.monotonic() - started < 0.9


# --- webhooks ----------------------------------------------------------------------------------


def test_a_signed_webhook_is_verified_by_paypal(paypal_simulator: PayPalSimulator) -> None:
    adapter = _adapter(paypal_simulator)
    payment = _request()
    step = adapter.begin(payment, URLS)
    authorization = adapter.complete(payment, reference=step.reference, params=_approved(step))
    resource = paypal_simulator.resources[authorization.reference]
    body, headers = paypal_simulator.webhook("PAYMENT.AUTHORIZATION.CREATED", resource, WEBHOOK_ID)
    event = adapter.parse_webhook(body, headers)
    assert event.type == "PAYMENT.AUTHORIZATION.CREATED"
    assert event.id == json.loads(body)["id"]
    # Our ledger row holds the PAYMENT id until the payment is settled.
    assert event.reference == step.reference
    assert event.settled_reference == authorization.reference
    assert event.state == ResultState.SUCCEEDED
    assert event.raw["parent_payment"] == step.reference
    assert event.raw["resource_id"] == authorization.reference
    verify = [r for r in paypal_simulator.received if r.path.endswith("verify-webhook-signature")]
    assert json.loads(verify[0].body)["webhook_id"] == WEBHOOK_ID
    # PayPal retries with the same event id: the receiver applies each id once.
    assert adapter.parse_webhook(body, headers).id == event.id


def test_capture_and_refund_webhooks_name_their_own_resource(
    paypal_simulator: PayPalSimulator,
) -> None:
    adapter, sale_id = _paid(paypal_simulator, Operation.CHARGE)
    refund = adapter.refund(
        reference=sale_id, amount=Decimal("1.00"), currency="USD", idempotency_key="r1"
    )
    resource = paypal_simulator.resources[refund.reference]
    event = adapter.parse_webhook(
        *paypal_simulator.webhook("PAYMENT.SALE.REFUNDED", resource, WEBHOOK_ID)
    )
    assert (event.reference, event.settled_reference) == (refund.reference, "")
    assert event.state == ResultState.SUCCEEDED


def test_a_tampered_webhook_is_refused(paypal_simulator: PayPalSimulator) -> None:
    adapter, sale_id = _paid(paypal_simulator, Operation.CHARGE)
    resource = paypal_simulator.resources[sale_id]
    body, headers = paypal_simulator.webhook("PAYMENT.SALE.COMPLETED", resource, WEBHOOK_ID)
    tampered = body.replace(b'"total":"25.00"', b'"total":"2500.00"')
    assert tampered != body
    with pytest.raises(InvalidWebhook):
        adapter.parse_webhook(tampered, headers)
    with pytest.raises(InvalidWebhook):
        adapter.parse_webhook(body, {**headers, "PAYPAL-TRANSMISSION-ID": "another-id"})
    other_hook = _adapter(paypal_simulator, webhook_id="5GP028458E2496506")
    with pytest.raises(InvalidWebhook):
        other_hook.parse_webhook(body, headers)


def test_a_webhook_without_signature_or_json_is_refused_unasked(
    paypal_simulator: PayPalSimulator,
) -> None:
    adapter, sale_id = _paid(paypal_simulator, Operation.CHARGE)
    body, headers = paypal_simulator.webhook(
        "PAYMENT.SALE.COMPLETED", paypal_simulator.resources[sale_id], WEBHOOK_ID
    )
    asked_before = len(paypal_simulator.received)
    unsigned = {k: v for k, v in headers.items() if k != "PAYPAL-TRANSMISSION-SIG"}
    with pytest.raises(InvalidWebhook, match="paypal-transmission-sig"):
        adapter.parse_webhook(body, unsigned)
    with pytest.raises(InvalidWebhook):
        adapter.parse_webhook(b"\xff not json", headers)
    with pytest.raises(InvalidWebhook, match="webhook ID"):
        _adapter(paypal_simulator, webhook_id="").parse_webhook(body, headers)
    assert len(paypal_simulator.received) == asked_before


# --- through our checkout pages ---------------------------------------------------------------


def _paypal_checkout(simulator: PayPalSimulator, **settings: str) -> tuple[Any, Any, Any]:
    from django.test import Client

    from tests.factories import CustomerUserFactory
    from tests.payments.support import make_order, offered_method

    customer_user = CustomerUserFactory()
    order = make_order(customer_user=customer_user, total="80.00")
    method = offered_method(
        IntegrationType.PAYPAL_EXPRESS,
        api_base_url=simulator.url,
        webhook_id=WEBHOOK_ID,
        **settings,
    )
    client = Client()
    client.force_login(customer_user.user)
    return order, method, client


@pytest.mark.django_db
def test_a_buyer_pays_with_paypal_through_our_pages(paypal_simulator: PayPalSimulator) -> None:
    from django.urls import reverse

    from payments.models import PaymentTransaction, State

    order, method, client = _paypal_checkout(paypal_simulator, payment_action="authorize")
    submitted = client.post(
        reverse("payments:checkout", args=[order.number]),
        {"method": method.pk, "idempotency_key": "key-1"},
    )
    row = PaymentTransaction.objects.get(order=order)
    assert row.provider_reference.startswith("PAY-") and row.state == State.PENDING
    to_paypal = client.get(submitted["Location"])
    assert to_paypal.status_code == 302
    step = PaymentStep(
        kind=StepKind.REDIRECT, reference=row.provider_reference, url=to_paypal["Location"]
    )
    back = _browser(step)
    assert back.startswith("http://testserver/payment/return/")
    landed = client.get(back.removeprefix("http://testserver"))
    assert landed["Location"] == reverse("payments:checkout_done", args=[order.number])
    row.refresh_from_db()
    assert row.state == State.SUCCEEDED
    assert paypal_simulator.resources[row.provider_reference]["state"] == "authorized"
    assert paypal_simulator.resources[row.provider_reference]["amount"]["total"] == "80.00"
    assert len(paypal_simulator.payments) == 1  # the pay page asked PayPal again, idempotently


@pytest.mark.django_db
def test_a_webhook_settles_a_payment_whose_answer_was_lost(
    paypal_simulator: PayPalSimulator,
) -> None:
    from django.test import Client
    from django.urls import reverse

    from payments.checkout_services import request_of
    from payments.models import PaymentTransaction, State

    order, method, client = _paypal_checkout(paypal_simulator, payment_action="charge")
    client.post(
        reverse("payments:checkout", args=[order.number]),
        {"method": method.pk, "idempotency_key": "key-1"},
    )
    row = PaymentTransaction.objects.get(order=order)
    # Execute reached PayPal but its answer never reached our ledger (a timeout, a closed tab).
    params = paypal_simulator.approve(row.provider_reference)
    sale = adapter_for(method.integration).complete(
        request_of(row), reference=row.provider_reference, params=params
    )
    body, headers = paypal_simulator.webhook(
        "PAYMENT.SALE.COMPLETED", paypal_simulator.resources[sale.reference], WEBHOOK_ID
    )
    meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    url = reverse("payments:webhook", args=[method.integration.webhook_token])
    answer = Client().post(url, body, content_type="application/json", **meta)
    assert answer.status_code == 200, answer.content
    row.refresh_from_db()
    assert (row.state, row.provider_reference) == (State.SUCCEEDED, sale.reference)
    tampered = body.replace(b'"80.00"', b'"8.00"')
    assert Client().post(url, tampered, content_type="application/json", **meta).status_code == 400


@pytest.mark.django_db
def test_staff_capture_twice_refund_twice_and_cancel_through_our_services(
    paypal_simulator: PayPalSimulator,
) -> None:
    from django.urls import reverse

    from payments.models import PaymentTransaction, State
    from payments.services import payment_cancel, payment_capture, payment_refund
    from tests.payments.support import staff

    def checkout(order: Any, method: Any, client: Any) -> PaymentTransaction:
        submitted = client.post(
            reverse("payments:checkout", args=[order.number]),
            {"method": method.pk, "idempotency_key": f"key-{order.number}"},
        )
        approval_url = client.get(submitted["Location"])["Location"]
        back = _browser(PaymentStep(kind=StepKind.REDIRECT, url=approval_url))
        client.get(back.removeprefix("http://testserver"))
        row = PaymentTransaction.objects.get(order=order)
        assert row.state == State.SUCCEEDED
        return row

    actor = staff("Administrators")
    order, method, client = _paypal_checkout(paypal_simulator, payment_action="authorize")
    authorization = checkout(order, method, client)
    first = payment_capture(
        transaction=authorization, amount="30.00", actor=actor, idempotency_key="cap-1"
    )
    second = payment_capture(
        transaction=authorization, amount="50.00", actor=actor, idempotency_key="cap-2"
    )
    assert first.state == second.state == State.SUCCEEDED
    authorization.refresh_from_db()
    assert not authorization.is_open  # 80.00 of 80.00 captured
    refunds = [
        payment_refund(
            transaction=first, amount=amount, note="damaged", actor=actor, idempotency_key=key
        )
        for amount, key in (("10.00", "ref-1"), ("5.00", "ref-2"))
    ]
    assert [r.state for r in refunds] == [State.SUCCEEDED, State.SUCCEEDED]
    assert paypal_simulator.resources[first.provider_reference]["state"] == "partially_refunded"
    assert len(_resources(paypal_simulator, "refund")) == 2

    other, method, client = _paypal_checkout(paypal_simulator, payment_action="authorize")
    held = checkout(other, method, client)
    void = payment_cancel(transaction=held, note="out of stock", actor=actor, idempotency_key="v-1")
    assert void.state == State.SUCCEEDED
    assert paypal_simulator.resources[held.provider_reference]["state"] == "voided"


# --- webhooks PayPal sends by itself ----------------------------------------------------------


class _Receiver(ThreadingHTTPServer):
    """Our webhook endpoint, as far as PayPal can tell: records each call, answers 200."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.calls: list[tuple[bytes, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/webhooks/paypal/"


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.calls.append((body, dict(self.headers.items())))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_paypal_notifies_a_registered_webhook_after_the_payment(
    paypal_simulator: PayPalSimulator,
) -> None:
    receiver = _Receiver()
    thread = threading.Thread(target=receiver.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        paypal_simulator.webhook_delay_seconds = 0
        paypal_simulator.register_webhook(
            SETTINGS["client_id"], receiver.url, webhook_id=WEBHOOK_ID
        )
        adapter, sale_id = _paid(paypal_simulator, Operation.CHARGE)
        deadline = time.monotonic() + 2
        while not paypal_simulator.deliveries and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        receiver.shutdown()
        receiver.server_close()
        thread.join()
    assert paypal_simulator.deliveries == [
        {
            "webhook_id": WEBHOOK_ID,
            "event_type": "PAYMENT.SALE.COMPLETED",
            "url": receiver.url,
            "status": 200,
        }
    ]
    body, headers = receiver.calls[0]
    event = adapter.parse_webhook(body, headers)
    assert (event.type, event.settled_reference) == ("PAYMENT.SALE.COMPLETED", sale_id)


def test_webhooks_register_only_on_this_machine(paypal_simulator: PayPalSimulator) -> None:
    token = requests.post(
        f"{paypal_simulator.url}/v1/oauth2/token",
        auth=(SETTINGS["client_id"], SETTINGS["client_secret"]),
        data={"grant_type": "client_credentials"},
        timeout=5,
    ).json()["access_token"]
    url = f"{paypal_simulator.url}/v1/notifications/webhooks"
    headers = {"Authorization": f"Bearer {token}"}
    hook = {"url": "http://127.0.0.1:9/hook", "event_types": [{"name": "*"}]}
    created = requests.post(url, json=hook, headers=headers, timeout=5)
    assert created.status_code == 201 and created.json()["url"] == hook["url"]
    again = requests.post(url, json=hook, headers=headers, timeout=5)
    assert again.json()["name"] == "WEBHOOK_URL_ALREADY_EXISTS"
    remote = requests.post(
        url, json={**hook, "url": "https://shop.example/hook"}, headers=headers, timeout=5
    )
    assert remote.json()["name"] == "VALIDATION_ERROR"
    listed = requests.get(url, headers=headers, timeout=5).json()["webhooks"]
    assert [w["id"] for w in listed] == [created.json()["id"]]
