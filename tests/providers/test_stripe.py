"""The Stripe adapter over real HTTP against its simulator; requests plays the browser."""

from __future__ import annotations

import json
import logging
import pickle
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from integrations.adapters import adapter_for
from integrations.adapters.base import (
    CheckoutUrls,
    InvalidWebhook,
    Operation,
    PaymentAdapter,
    PaymentRequest,
    PaymentStep,
    ProviderError,
    ResultState,
    StepKind,
)
from integrations.adapters.stripe_adapter import StripeAdapter
from integrations.types import IntegrationType
from payments.models import Operation as PaymentOperation
from payments.models import State
from payments.services import payment_refund
from simulators.base import Fault
from simulators.stripe import StripeSimulator
from simulators.stripe.wire import signature_header
from tests.factories import VALID_SETTINGS, create_integration
from tests.payments.support import make_order, recorded_row

pytestmark = pytest.mark.django_db

SETTINGS = VALID_SETTINGS[IntegrationType.STRIPE]
SECRET_KEY = SETTINGS["secret_key"]
PUBLISHABLE_KEY = SETTINGS["publishable_key"]
SIGNING_SECRET = SETTINGS["webhook_signing_secret"]
URLS = CheckoutUrls(
    return_url="http://shop.test/checkout/return/t0k3n/",
    cancel_url="http://shop.test/checkout/cancel/t0k3n/",
    notify_url="http://shop.test/checkout/notify/t0k3n/",
)
GOOD_CARD = "4242424242424242"


@pytest.fixture
def adapter(stripe_simulator: StripeSimulator) -> PaymentAdapter:
    return adapter_for(
        create_integration(IntegrationType.STRIPE, api_base_url=stripe_simulator.url)
    )


def _request(
    action: str = Operation.AUTHORIZE,
    amount: str = "10.50",
    currency: str = "USD",
    key: str = "order-1001-checkout-1",
) -> PaymentRequest:
    return PaymentRequest(
        order_number="1001",
        amount=Decimal(amount),
        currency=currency,
        idempotency_key=key,
        method_identifier="stripe_card",
        payment_action=action,
        customer_name="Ada Lovelace",
    )


def _pay_in_browser(
    simulator: StripeSimulator, step: PaymentStep, number: str = GOOD_CARD
) -> requests.Response:
    """What the stand-in Stripe.js (simulators/stripe/stripe_js.py) posts to confirm a payment."""
    return requests.post(
        f"{simulator.url}/v1/payment_intents/{step.reference}/confirm",
        data={
            "key": step.data["publishable_key"],
            "client_secret": step.data["client_secret"],
            "payment_method_data[type]": "card",
            "payment_method_data[card][number]": number,
            "payment_method_data[card][exp_month]": "12",
            "payment_method_data[card][exp_year]": str(time.gmtime().tm_year + 2),
            "payment_method_data[card][cvc]": "123",
            "payment_method_data[billing_details][name]": "Ada Lovelace",
        },
        headers={"Origin": "http://shop.test"},
        timeout=5,
    )


def _paid(
    adapter: PaymentAdapter,
    simulator: StripeSimulator,
    request: PaymentRequest,
) -> str:
    step = adapter.begin(request, URLS)
    assert _pay_in_browser(simulator, step).status_code == 200
    result = adapter.complete(request, reference=step.reference, params={})
    assert result.state is ResultState.SUCCEEDED, result
    return result.reference


def _staff(reference: str, amount: str, key: str) -> dict[str, Any]:
    return {
        "reference": reference,
        "amount": Decimal(amount),
        "currency": "USD",
        "idempotency_key": key,
    }


# --- the adapter's declaration and credentials -----------------------------------------------


def test_declares_a_browser_step_and_one_capture() -> None:
    assert StripeAdapter.browser_step is True
    assert StripeAdapter.multiple_captures is False
    assert {
        Operation.CHECK_CREDENTIALS,
        Operation.AUTHORIZE,
        Operation.CHARGE,
        Operation.CAPTURE,
        Operation.CANCEL,
        Operation.REFUND,
    } == StripeAdapter.supports


def test_check_credentials_still_works(adapter: PaymentAdapter) -> None:
    check = adapter.check_credentials()
    assert check.ok, check.message


# --- begin and complete ----------------------------------------------------------------------


def test_authorize_in_the_browser(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    request = _request(Operation.AUTHORIZE)
    step = adapter.begin(request, URLS)
    assert step.kind is StepKind.STRIPE_JS
    assert step.reference.startswith("pi_")
    assert step.data["script_url"] == f"{stripe_simulator.url}/v3/"
    assert step.data["publishable_key"] == PUBLISHABLE_KEY
    assert step.data["client_secret"].startswith(f"{step.reference}_secret_")
    assert "client_secret" not in json.dumps(step.raw)
    intent = stripe_simulator.payment_intents[step.reference]
    assert (intent["amount"], intent["currency"], intent["capture_method"]) == (
        1050,
        "usd",
        "manual",
    )
    assert intent["metadata"] == {"order_number": "1001"}
    create = next(r for r in stripe_simulator.received if r.path == "/v1/payment_intents")
    assert create.headers["Idempotency-Key"] == "order-1001-checkout-1"

    # The buyer has not paid yet: pending, which the ledger must not read as a failure.
    unpaid = adapter.complete(request, reference=step.reference, params={})
    assert (unpaid.ok, unpaid.state) == (True, ResultState.PENDING)

    answer = _pay_in_browser(stripe_simulator, step)
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.json()["status"] == "requires_capture"
    assert "metadata" not in answer.json()  # a publishable key sees the public fields only

    result = adapter.complete(
        request, reference=step.reference, params={"payment_intent": step.reference}
    )
    assert result.ok and result.state is ResultState.SUCCEEDED
    assert result.reference == step.reference
    assert result.raw["status"] == "requires_capture"
    assert result.raw["amount_capturable"] == 1050
    assert "client_secret" not in json.dumps(result.raw)
    assert GOOD_CARD not in json.dumps(result.raw)


def test_charge_in_the_browser(adapter: PaymentAdapter, stripe_simulator: StripeSimulator) -> None:
    request = _request(Operation.CHARGE)
    reference = _paid(adapter, stripe_simulator, request)
    intent = stripe_simulator.payment_intents[reference]
    assert (intent["capture_method"], intent["status"]) == ("automatic", "succeeded")
    assert intent["amount_received"] == 1050


def test_complete_ignores_what_the_browser_claims(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    request = _request()
    step = adapter.begin(request, URLS)
    other = adapter.begin(_request(key="order-1002-checkout-1"), URLS)
    _pay_in_browser(stripe_simulator, other)
    params = {"payment_intent": other.reference, "redirect_status": "succeeded"}
    result = adapter.complete(request, reference=step.reference, params=params)
    assert (result.ok, result.state) == (True, ResultState.PENDING)
    assert result.reference == step.reference


def test_complete_twice_records_once(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    request = _request(Operation.CHARGE)
    step = adapter.begin(request, URLS)
    _pay_in_browser(stripe_simulator, step)
    first = adapter.complete(request, reference=step.reference, params={})
    again = adapter.complete(request, reference=step.reference, params={})
    assert first == again
    assert len(stripe_simulator.payment_intents) == 1
    assert len(stripe_simulator.charges) == 1


@pytest.mark.parametrize(
    ("number", "message", "decline_code"),
    [
        ("4000000000000002", "Your card was declined.", "generic_decline"),
        ("4000000000009995", "Your card has insufficient funds.", "insufficient_funds"),
        ("4000000000000069", "Your card has expired.", "expired_card"),
    ],
)
def test_a_declined_card_fails_with_stripes_message(
    adapter: PaymentAdapter,
    stripe_simulator: StripeSimulator,
    number: str,
    message: str,
    decline_code: str,
) -> None:
    request = _request()
    step = adapter.begin(request, URLS)
    answer = _pay_in_browser(stripe_simulator, step, number)
    assert answer.status_code == 402
    error = answer.json()["error"]
    assert (error["type"], error["message"], error["decline_code"]) == (
        "card_error",
        message,
        decline_code,
    )
    result = adapter.complete(request, reference=step.reference, params={})
    assert not result.ok and result.state is ResultState.FAILED
    assert result.message == message
    assert result.raw["last_payment_error"]["decline_code"] == decline_code

    # The buyer may try another card on the same PaymentIntent.
    assert _pay_in_browser(stripe_simulator, step).status_code == 200
    assert adapter.complete(request, reference=step.reference, params={}).ok


def test_abandon_cancels_an_unpaid_payment(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    request = _request()
    step = adapter.begin(request, URLS)
    result = adapter.abandon(request, reference=step.reference)
    assert result.state is ResultState.FAILED
    intent = stripe_simulator.payment_intents[step.reference]
    assert (intent["status"], intent["cancellation_reason"]) == ("canceled", "abandoned")
    # Too late for the browser now.
    assert _pay_in_browser(stripe_simulator, step).status_code == 400
    assert (
        adapter.complete(request, reference=step.reference, params={}).state is ResultState.FAILED
    )


@pytest.mark.parametrize("action", [Operation.AUTHORIZE, Operation.CHARGE])
def test_abandon_after_paying_reports_the_payment(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator, action: str
) -> None:
    """The buyer paid, the return never reached us, and the buyer then chose another method."""
    request = _request(action)
    step = adapter.begin(request, URLS)
    _pay_in_browser(stripe_simulator, step)
    result = adapter.abandon(request, reference=step.reference)
    assert result.ok and result.state is ResultState.SUCCEEDED
    assert result.reference == step.reference
    assert stripe_simulator.payment_intents[step.reference]["status"] in (
        "requires_capture",
        "succeeded",
    )


def test_abandon_twice_cancels_once(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    request = _request()
    step = adapter.begin(request, URLS)
    first = adapter.abandon(request, reference=step.reference)
    again = adapter.abandon(request, reference=step.reference)
    assert first.state is again.state is ResultState.FAILED
    cancels = [r for r in stripe_simulator.received if r.path.endswith("/cancel")]
    assert len(cancels) == 1


# --- staff operations ------------------------------------------------------------------------


def test_partial_capture_releases_the_rest(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    reference = _paid(adapter, stripe_simulator, _request(amount="100.00"))
    captured = adapter.capture(**_staff(reference, "60.00", "order-1001-capture-1"))
    assert captured.ok and captured.reference == reference
    intent = stripe_simulator.payment_intents[reference]
    assert (intent["amount_received"], intent["amount_capturable"]) == (6000, 0)
    second = adapter.capture(**_staff(reference, "10.00", "order-1001-capture-2"))
    assert not second.ok and second.state is ResultState.FAILED
    assert "status of succeeded" in second.message
    assert intent["amount_received"] == 6000


def test_capturing_more_than_authorized_is_refused(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    reference = _paid(adapter, stripe_simulator, _request(amount="100.00"))
    result = adapter.capture(**_staff(reference, "100.01", "order-1001-capture-1"))
    assert not result.ok and result.state is ResultState.FAILED
    assert "greater than the amount you can capture" in result.message
    assert result.raw["error"]["code"] == "amount_too_large"
    assert stripe_simulator.payment_intents[reference]["status"] == "requires_capture"


def test_refunds_up_to_what_was_captured(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    reference = _paid(adapter, stripe_simulator, _request(amount="100.00"))
    adapter.capture(**_staff(reference, "60.00", "order-1001-capture-1"))
    first = adapter.refund(**_staff(reference, "25.00", "order-1001-refund-1"))
    assert first.ok and first.reference.startswith("re_")
    second = adapter.refund(**_staff(reference, "30.00", "order-1001-refund-2"))
    assert second.ok and second.reference != first.reference
    too_much = adapter.refund(**_staff(reference, "5.01", "order-1001-refund-3"))
    assert not too_much.ok and too_much.state is ResultState.FAILED
    assert too_much.message == (
        "Refund amount ($5.01) is greater than unrefunded amount on charge ($5.00)"
    )
    last = adapter.refund(**_staff(reference, "5.00", "order-1001-refund-4"))
    assert last.ok
    again = adapter.refund(**_staff(reference, "1.00", "order-1001-refund-5"))
    assert again.raw["error"]["code"] == "charge_already_refunded"
    charge = stripe_simulator.charges[stripe_simulator.payment_intents[reference]["latest_charge"]]
    assert (charge["amount_refunded"], charge["refunded"]) == (6000, True)
    assert len(stripe_simulator.refunds) == 3


def test_authorize_then_cancel(adapter: PaymentAdapter, stripe_simulator: StripeSimulator) -> None:
    reference = _paid(adapter, stripe_simulator, _request())
    result = adapter.cancel(**_staff(reference, "10.50", "order-1001-cancel-1"))
    assert result.ok and result.state is ResultState.SUCCEEDED
    intent = stripe_simulator.payment_intents[reference]
    assert (intent["status"], intent["amount_capturable"]) == ("canceled", 0)
    refused = adapter.capture(**_staff(reference, "10.50", "order-1001-capture-1"))
    assert refused.state is ResultState.FAILED


def test_a_cancelled_payment_cannot_be_refunded(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    reference = _paid(adapter, stripe_simulator, _request())
    adapter.cancel(**_staff(reference, "10.50", "order-1001-cancel-1"))
    result = adapter.refund(**_staff(reference, "1.00", "order-1001-refund-1"))
    assert result.state is ResultState.FAILED
    assert not stripe_simulator.refunds


# --- idempotency ----------------------------------------------------------------------------


def test_begin_again_answers_the_same_payment(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    request = _request()
    first = adapter.begin(request, URLS)
    again = adapter.begin(request, URLS)
    assert first == again
    assert len(stripe_simulator.payment_intents) == 1
    replayed = [r for r in stripe_simulator.received if r.path == "/v1/payment_intents"]
    assert len(replayed) == 2


def test_a_reused_key_with_other_parameters_is_refused(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    adapter.begin(_request(amount="10.50"), URLS)
    with pytest.raises(ProviderError, match="idempotent requests can only be used with the same"):
        adapter.begin(_request(amount="11.00"), URLS)
    assert len(stripe_simulator.payment_intents) == 1


def test_a_replayed_capture_and_refund_happen_once(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    reference = _paid(adapter, stripe_simulator, _request(Operation.AUTHORIZE, amount="100.00"))
    capture = _staff(reference, "60.00", "order-1001-capture-1")
    assert adapter.capture(**capture) == adapter.capture(**capture)
    refund = _staff(reference, "20.00", "order-1001-refund-1")
    first, again = adapter.refund(**refund), adapter.refund(**refund)
    assert first == again and first.ok
    assert len(stripe_simulator.refunds) == 1
    charge = stripe_simulator.charges[stripe_simulator.payment_intents[reference]["latest_charge"]]
    assert (charge["amount_captured"], charge["amount_refunded"]) == (6000, 2000)


def test_the_simulator_replays_with_stripes_header(stripe_simulator: StripeSimulator) -> None:
    def create() -> requests.Response:
        return requests.post(
            f"{stripe_simulator.url}/v1/payment_intents",
            data={"amount": "2000", "currency": "usd"},
            headers={"Authorization": f"Bearer {SECRET_KEY}", "Idempotency-Key": "k-1"},
            timeout=5,
        )

    first, again = create(), create()
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


# --- what Stripe refuses --------------------------------------------------------------------


def test_a_publishable_key_may_only_confirm_with_the_client_secret(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    step = adapter.begin(_request(), URLS)
    wrong_secret = requests.post(
        f"{stripe_simulator.url}/v1/payment_intents/{step.reference}/confirm",
        data={"key": PUBLISHABLE_KEY, "client_secret": f"{step.reference}_secret_nope"},
        timeout=5,
    )
    assert wrong_secret.status_code == 400
    assert wrong_secret.json()["error"]["param"] == "client_secret"
    capture = requests.post(
        f"{stripe_simulator.url}/v1/payment_intents/{step.reference}/capture",
        headers={"Authorization": f"Bearer {PUBLISHABLE_KEY}"},
        timeout=5,
    )
    assert capture.status_code == 401
    assert "cannot be made with a publishable API key" in capture.json()["error"]["message"]


def test_the_simulator_refuses_unknown_parameters(stripe_simulator: StripeSimulator) -> None:
    response = requests.post(
        f"{stripe_simulator.url}/v1/payment_intents",
        data={"amount": "2000", "currency": "usd", "colour": "blue"},
        auth=(SECRET_KEY, ""),
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "message": "Received unknown parameter: colour",
        "code": "parameter_unknown",
        "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
        "param": "colour",
    }


def test_an_amount_below_stripes_minimum_is_refused(adapter: PaymentAdapter) -> None:
    with pytest.raises(ProviderError, match="Amount must be at least") as raised:
        adapter.begin(_request(amount="0.49"), URLS)
    assert raised.value.permanent


# --- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [Fault.HTTP_500, Fault.GARBAGE, Fault.SLOW])
def test_a_broken_answer_is_a_provider_error(
    stripe_simulator: StripeSimulator, settings: Any, fault: Fault
) -> None:
    settings.PROVIDER_TIMEOUT_SECONDS = 0.3
    adapter = adapter_for(
        create_integration(IntegrationType.STRIPE, api_base_url=stripe_simulator.url)
    )
    request = _request()
    step = adapter.begin(request, URLS)
    stripe_simulator.fault = fault
    stripe_simulator.slow_seconds = 1.0
    with pytest.raises(ProviderError):
        adapter.complete(request, reference=step.reference, params={})
    if fault is Fault.SLOW:
        # A slow answer still arrives once the next test has reset the simulator: only reads
        # may be left behind.
        return
    with pytest.raises(ProviderError):
        adapter.capture(**_staff(step.reference, "1.00", "order-1001-capture-1"))
    with pytest.raises(ProviderError):
        adapter.begin(_request(key="order-1001-checkout-2"), URLS)


def test_an_unreachable_stripe_is_a_provider_error(unreachable_url: str) -> None:
    adapter = adapter_for(create_integration(IntegrationType.STRIPE, api_base_url=unreachable_url))
    with pytest.raises(ProviderError, match="Could not reach Stripe"):
        adapter.begin(_request(), URLS)


# --- webhooks -------------------------------------------------------------------------------


def _webhook(
    simulator: StripeSimulator, adapter: PaymentAdapter, event_type: str
) -> tuple[bytes, dict[str, str], str]:
    reference = _paid(adapter, simulator, _request())
    body, headers = simulator.signed_webhook(event_type, reference, SIGNING_SECRET)
    return body, headers, reference


def test_a_signed_webhook_is_read(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    body, headers, reference = _webhook(
        stripe_simulator, adapter, "payment_intent.amount_capturable_updated"
    )
    event = adapter.parse_webhook(body, headers)
    assert event.id.startswith("evt_")
    assert event.type == "payment_intent.amount_capturable_updated"
    assert (event.reference, event.state) == (reference, ResultState.SUCCEEDED)
    assert "client_secret" not in json.dumps(event.raw)
    # A replayed delivery reads the same: the event id lets the ledger apply it once.
    assert adapter.parse_webhook(body, headers) == event


def test_webhook_events_map_to_states(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    request = _request(Operation.CHARGE, key="order-1001-checkout-9")
    step = adapter.begin(request, URLS)
    _pay_in_browser(stripe_simulator, step, "4000000000000002")
    body, headers = stripe_simulator.signed_webhook(
        "payment_intent.payment_failed", step.reference, SIGNING_SECRET
    )
    failed = adapter.parse_webhook(body, headers)
    assert (failed.state, failed.message) == (ResultState.FAILED, "Your card was declined.")

    reference = _paid(adapter, stripe_simulator, _request(Operation.CHARGE))
    adapter.refund(**_staff(reference, "2.50", "order-1001-refund-1"))
    body, headers = stripe_simulator.signed_webhook("charge.refunded", reference, SIGNING_SECRET)
    refunded = adapter.parse_webhook(body, headers)
    assert (refunded.reference, refunded.state) == (reference, ResultState.SUCCEEDED)
    assert refunded.message == "2.50 USD refunded in all."

    body, headers = stripe_simulator.signed_webhook(
        "payment_intent.created", reference, SIGNING_SECRET
    )
    other = adapter.parse_webhook(body, headers)
    assert (other.reference, other.state) == (reference, None)


def test_a_tampered_webhook_is_refused(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    body, headers, _ = _webhook(stripe_simulator, adapter, "payment_intent.succeeded")
    with pytest.raises(InvalidWebhook):
        tampered = body.replace(b'"amount": 1050', b'"amount": 105000', 1)
        assert tampered != body
        adapter.parse_webhook(tampered, headers)
    with pytest.raises(InvalidWebhook):
        adapter.parse_webhook(
            body, {**headers, "Stripe-Signature": headers["Stripe-Signature"][:-2]}
        )
    wrong_secret, wrong_headers = stripe_simulator.signed_webhook(
        "payment_intent.succeeded", json.loads(body)["data"]["object"]["id"], "whsec_Other0001"
    )
    with pytest.raises(InvalidWebhook):
        adapter.parse_webhook(wrong_secret, wrong_headers)


def test_a_webhook_without_signature_is_refused(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    body, headers, _ = _webhook(stripe_simulator, adapter, "payment_intent.succeeded")
    del headers["Stripe-Signature"]
    with pytest.raises(InvalidWebhook, match="missing"):
        adapter.parse_webhook(body, headers)
    with pytest.raises(InvalidWebhook):
        adapter.parse_webhook(b"\xff\xfe not json", {"Stripe-Signature": "t=1,v1=00"})


def test_an_old_webhook_replayed_is_refused(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    reference = _paid(adapter, stripe_simulator, _request())
    body, headers = stripe_simulator.signed_webhook(
        "payment_intent.succeeded", reference, SIGNING_SECRET, timestamp=int(time.time()) - 301
    )
    with pytest.raises(InvalidWebhook, match="tolerance"):
        adapter.parse_webhook(body, headers)


@pytest.mark.parametrize("event_id", [None, "", " ", 42])
def test_a_signed_event_without_an_id_is_refused_and_not_recorded(
    stripe_simulator: StripeSimulator, event_id: object
) -> None:
    from django.test import Client
    from django.urls import reverse

    from payments.models import WebhookEvent as WebhookEventRow

    integration = create_integration(IntegrationType.STRIPE, api_base_url=stripe_simulator.url)
    adapter = adapter_for(integration)
    reference = _paid(adapter, stripe_simulator, _request())
    body, headers = stripe_simulator.signed_webhook(
        "payment_intent.succeeded", reference, SIGNING_SECRET
    )
    event = json.loads(body)
    if event_id is None:
        del event["id"]
    else:
        event["id"] = event_id
    unnamed = json.dumps(event).encode()
    signature = signature_header(unnamed, SIGNING_SECRET, int(time.time()))
    # Signed correctly, so only the missing id can be refused: events are applied once per id.
    with pytest.raises(InvalidWebhook, match="no id"):
        adapter.parse_webhook(unnamed, {"Stripe-Signature": signature})
    url = reverse("payments:webhook", args=[integration.webhook_token])
    refused = Client().post(
        url, unnamed, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    assert refused.status_code == 400
    assert not WebhookEventRow.objects.exists()
    accepted = Client().post(
        url,
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"],
    )
    assert accepted.status_code == 200
    assert WebhookEventRow.objects.get().event_id == json.loads(body)["id"]


def test_a_webhook_needs_the_signing_secret(stripe_simulator: StripeSimulator) -> None:
    integration = create_integration(
        IntegrationType.STRIPE, api_base_url=stripe_simulator.url, webhook_signing_secret=None
    )
    adapter = adapter_for(integration)
    reference = _paid(adapter, stripe_simulator, _request())
    body, headers = stripe_simulator.signed_webhook(
        "payment_intent.succeeded", reference, SIGNING_SECRET
    )
    with pytest.raises(InvalidWebhook, match="signing secret"):
        adapter.parse_webhook(body, headers)


# --- currencies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "amount", "minor", "capture", "captured"),
    [("JPY", "1500", 1500, "1000", 1000), ("BHD", "12.340", 12340, "10.010", 10010)],
)
def test_amounts_reach_stripe_in_minor_units(
    adapter: PaymentAdapter,
    stripe_simulator: StripeSimulator,
    currency: str,
    amount: str,
    minor: int,
    capture: str,
    captured: int,
) -> None:
    request = _request(amount=amount, currency=currency)
    reference = _paid(adapter, stripe_simulator, request)
    intent = stripe_simulator.payment_intents[reference]
    assert (intent["amount"], intent["currency"]) == (minor, currency.lower())
    result = adapter.capture(
        reference=reference,
        amount=Decimal(capture),
        currency=currency,
        idempotency_key="order-1001-capture-1",
    )
    assert result.ok
    assert intent["amount_received"] == captured


# --- the browser-facing part ----------------------------------------------------------------


def test_the_simulator_serves_a_stand_in_stripe_js(stripe_simulator: StripeSimulator) -> None:
    response = requests.get(f"{stripe_simulator.url}/v3/", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")
    script = response.text
    assert "local Stripe simulator" in script
    for name in (
        "confirmCardPayment",
        "elements",
        "mount",
        "/confirm",
        "payment_method_data[type]",
    ):
        assert name in script
    assert ".name =" not in script  # card inputs carry no name: nothing posts to our server


# A DOM just large enough for the stand-in Stripe.js; the test fills the inputs it renders.
NODE_HARNESS = r"""
const [scriptUrl, publishableKey, clientSecret, number, choice] = process.argv.slice(1);
const inputs = [];
const buttons = [];
function element(tag) {
  const node = {
    tag, style: {}, children: [], listeners: {}, textContent: "", value: "", removed: false,
    appendChild(child) { this.children.push(child); return child; },
    setAttribute(name, value) { this[name] = value; },
    addEventListener(type, listener) { this.listeners[type] = listener; },
    remove() { this.removed = true; },
  };
  if (tag === "input") inputs.push(node);
  if (tag === "button") buttons.push(node);
  return node;
}
const host = element("div");
globalThis.window = globalThis;
globalThis.document = {
  currentScript: { src: scriptUrl },
  body: element("body"),
  createElement: element,
  createTextNode: (text) => ({ text }),
  querySelector: (selector) => (selector === "#card-element" ? host : null),
};
// The buyer answers a 3D Secure challenge as soon as one shows.
const buyer = setInterval(() => {
  const button = buttons.find((b) => b.textContent === choice);
  if (button) { clearInterval(buyer); button.listeners.click(); }
}, 10);
(async () => {
  const source = await (await fetch(scriptUrl)).text();
  eval(source);
  const stripe = Stripe(publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const byPlaceholder = (p) => inputs.find((input) => input.placeholder === p);
  byPlaceholder("4242 4242 4242 4242").value = number;
  byPlaceholder("MM / YY").value = "12 / 40";
  byPlaceholder("123").value = "123";
  const names = inputs.filter((input) => input.name !== undefined && input.name !== "");
  const result = await stripe.confirmCardPayment(clientSecret, {
    payment_method: { card, billing_details: { name: "Ada Lovelace" } },
  });
  clearInterval(buyer);
  const challenged = buttons.length > 0;
  const dialogs = document.body.children.filter((child) => !child.removed).length;
  console.log(JSON.stringify({
    result, inputs: inputs.length, named: names.length, challenged, dialogs,
  }));
})();
"""
AUTHENTICATION_CARD = "4000002500003155"
AUTHENTICATION_FAILED = (
    "We are unable to authenticate your payment method. Please choose a different payment "
    "method and try again."
)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
@pytest.mark.parametrize(
    ("number", "choice", "outcome"),
    [
        (GOOD_CARD, "", "requires_capture"),
        ("4000000000000002", "", "Your card was declined."),
        (AUTHENTICATION_CARD, "Complete authentication", "requires_capture"),
        (AUTHENTICATION_CARD, "Fail authentication", AUTHENTICATION_FAILED),
    ],
)
def test_the_stand_in_stripe_js_confirms_the_payment(
    adapter: PaymentAdapter,
    stripe_simulator: StripeSimulator,
    number: str,
    choice: str,
    outcome: str,
) -> None:
    request = _request()
    step = adapter.begin(request, URLS)
    page = [step.data[name] for name in ("script_url", "publishable_key", "client_secret")]
    run = subprocess.run(
        ["node", "-e", NODE_HARNESS, *page, number, choice],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert (answer["inputs"], answer["named"]) == (3, 0)
    assert answer["challenged"] == bool(choice)
    assert answer["dialogs"] == 0  # the challenge closed
    result = answer["result"]
    if "paymentIntent" in result:
        assert result["paymentIntent"]["id"] == step.reference
        assert result["paymentIntent"]["status"] == outcome
        assert adapter.complete(request, reference=step.reference, params={}).ok
    else:
        assert result["error"]["message"] == outcome
        failed = adapter.complete(request, reference=step.reference, params={})
        assert (failed.state, failed.message) == (ResultState.FAILED, outcome)
    confirm = next(r for r in stripe_simulator.received if r.path.endswith("/confirm"))
    assert b"payment_method_data%5Bbilling_details%5D%5Bname%5D=Ada+Lovelace" in confirm.body
    intent = stripe_simulator.payment_intents[step.reference]
    assert stripe_simulator.payment_methods[intent["payment_method"]]["card"]["exp_year"] == 2040


def test_3d_secure_leaves_the_payment_pending_until_the_buyer_answers(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    request = _request(Operation.CHARGE)
    step = adapter.begin(request, URLS)
    confirmed = _pay_in_browser(stripe_simulator, step, AUTHENTICATION_CARD)
    assert confirmed.json()["status"] == "requires_action"
    assert confirmed.json()["next_action"]["type"] == "use_stripe_sdk"
    waiting = adapter.complete(request, reference=step.reference, params={})
    assert (waiting.ok, waiting.state) == (True, ResultState.PENDING)
    assert not stripe_simulator.charges
    answered = requests.post(
        f"{stripe_simulator.url}/v1/payment_intents/{step.reference}/authenticate",
        data={
            "key": PUBLISHABLE_KEY,
            "client_secret": step.data["client_secret"],
            "outcome": "complete",
        },
        timeout=5,
    )
    assert answered.json()["status"] == "succeeded"
    assert adapter.complete(request, reference=step.reference, params={}).ok


def test_the_simulator_state_survives_a_restart(
    adapter: PaymentAdapter, stripe_simulator: StripeSimulator
) -> None:
    """The demo runner pickles `provider_state()` and loads it into a new simulator."""
    reference = _paid(adapter, stripe_simulator, _request())
    state = pickle.loads(pickle.dumps(stripe_simulator.provider_state()))
    assert "_state_lock" not in state
    assert GOOD_CARD not in repr(state)  # the demo writes it to disk: no card numbers in it
    restarted = StripeSimulator()
    try:
        restarted.__dict__.update(state)
        assert restarted.payment_intents[reference]["status"] == "requires_capture"
        restarted.payment_intents[reference]["amount"] = 1
        assert stripe_simulator.payment_intents[reference]["amount"] == 1050  # a copy
    finally:
        restarted.server_close()


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, list[tuple[bytes, dict[str, str]]]]]:
    """A loopback URL that records what is posted to it, as our webhook view would get it."""
    received: list[tuple[bytes, dict[str, str]]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, dict(self.headers)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/webhooks/t0k3n/", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _wait_for(count: int, simulator: StripeSimulator) -> None:
    deadline = time.monotonic() + 3
    while len(simulator.deliveries) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_registered_endpoints_get_the_events_of_a_payment(
    adapter: PaymentAdapter,
    stripe_simulator: StripeSimulator,
    webhook_receiver: tuple[str, list[tuple[bytes, dict[str, str]]]],
) -> None:
    url, received = webhook_receiver
    stripe_simulator.register_webhook(url, secret=SIGNING_SECRET)
    stripe_simulator.webhook_delay_seconds = 0
    reference = _paid(adapter, stripe_simulator, _request(amount="100.00"))
    capture = _staff(reference, "60.00", "order-1001-capture-1")
    adapter.capture(**capture)
    adapter.capture(**capture)  # a replay changes nothing, so it tells nobody
    adapter.refund(**_staff(reference, "10.00", "order-1001-refund-1"))
    _wait_for(3, stripe_simulator)
    assert [d["status"] for d in stripe_simulator.deliveries] == [200, 200, 200]
    events = sorted(
        (adapter.parse_webhook(body, headers) for body, headers in received),
        key=lambda event: event.raw["created"],
    )
    assert {event.type for event in events} == {
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "charge.refunded",
    }
    assert {event.reference for event in events} == {reference}
    assert all(event.state is ResultState.SUCCEEDED for event in events)


def test_a_declined_payment_is_announced(
    adapter: PaymentAdapter,
    stripe_simulator: StripeSimulator,
    webhook_receiver: tuple[str, list[tuple[bytes, dict[str, str]]]],
) -> None:
    url, received = webhook_receiver
    stripe_simulator.register_webhook(
        url, secret=SIGNING_SECRET, enabled_events=("payment_intent.payment_failed",)
    )
    stripe_simulator.webhook_delay_seconds = 0
    step = adapter.begin(_request(), URLS)
    _pay_in_browser(stripe_simulator, step, "4000000000009995")
    _pay_in_browser(stripe_simulator, step)  # succeeds, but nobody listens for that
    _wait_for(1, stripe_simulator)
    time.sleep(0.1)
    assert len(received) == 1
    event = adapter.parse_webhook(*received[0])
    assert (event.type, event.state) == ("payment_intent.payment_failed", ResultState.FAILED)
    assert event.message == "Your card has insufficient funds."


def test_webhook_endpoints_are_created_over_the_api(stripe_simulator: StripeSimulator) -> None:
    def create(url: str) -> requests.Response:
        return requests.post(
            f"{stripe_simulator.url}/v1/webhook_endpoints",
            data={"url": url, "enabled_events[]": "*"},
            auth=(SECRET_KEY, ""),
            timeout=5,
        )

    created = create("http://127.0.0.1:8000/webhooks/t0k3n/")
    assert created.status_code == 200
    assert created.json()["secret"].startswith("whsec_")
    assert created.json()["enabled_events"] == ["*"]
    refused = create("https://example.com/webhooks/")
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "url"


def test_three_decimal_amounts_must_end_in_zero(adapter: PaymentAdapter) -> None:
    """Stripe takes BHD, KWD… only in multiples of ten fils: an exact 12.345 BHD is refused."""
    with pytest.raises(ProviderError, match="must end in 0") as raised:
        adapter.begin(_request(amount="12.345", currency="BHD"), URLS)
    assert raised.value.permanent


def test_a_replayed_answer_that_is_no_refund_leaves_the_refund_unknown_without_a_traceback(
    stripe_simulator: StripeSimulator, sales_user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by the fault sequences: a proxy replaying the PaymentIntent read just before, in
    answer to a refund, was recorded unknown (right) through a traceback (noise in the logs)."""
    integration = create_integration(IntegrationType.STRIPE, api_base_url=stripe_simulator.url)
    reference = _paid(adapter_for(integration), stripe_simulator, _request(Operation.CHARGE))
    method = integration.methods.get()
    charge = recorded_row(method, make_order(), PaymentOperation.CHARGE, reference=reference)
    stripe_simulator.fault = Fault.REPLAY  # the last answer was the PaymentIntent, read back
    with caplog.at_level(logging.WARNING):
        refund = payment_refund(
            transaction=charge,
            amount="5.00",
            note="replayed",
            actor=sales_user,
            idempotency_key="order-1001-refund-replayed",
        )
    assert refund.state == State.UNKNOWN
    assert not stripe_simulator.refunds
    assert [r.exc_info for r in caplog.records] == [None]
    assert "answered a refund with a payment_intent" in caplog.records[0].getMessage()
