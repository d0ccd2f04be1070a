"""The Authorize.Net adapter over real HTTP against the simulator; Accept.js played by hand."""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
import re
import shutil
import subprocess
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
import requests

from integrations.adapters import adapter_for
from integrations.adapters.authorize_net import AuthorizeNetAdapter
from integrations.adapters.base import (
    AdapterConfig,
    BillingData,
    CheckoutUrls,
    InvalidWebhook,
    Operation,
    PaymentNotTaken,
    PaymentRequest,
    ProviderError,
    ResultState,
    StepKind,
)
from integrations.types import IntegrationType
from simulators.authorize_net import PATH, AuthorizeNetSimulator
from simulators.base import Fault
from tests.factories import VALID_SETTINGS, create_integration

pytestmark = pytest.mark.django_db

SETTINGS = VALID_SETTINGS[IntegrationType.AUTHORIZE_NET]
LOGIN = SETTINGS["api_login_id"]
CLIENT_KEY = SETTINGS["client_key"]
SIGNATURE_KEY = "A1B2C3D4E5F6" * 10 + "0A1B2C3D"
URLS = CheckoutUrls(
    return_url="http://127.0.0.1:8000/checkout/return",
    cancel_url="http://127.0.0.1:8000/checkout/cancel",
    notify_url="http://127.0.0.1:8000/checkout/notify",
)
APPROVED_CARD = "4111111111111111"
DECLINED_CARD = "4222222222222"
REVIEW_CARD = "4012888818888"


@pytest.fixture
def simulator(authorize_net_simulator: AuthorizeNetSimulator) -> AuthorizeNetSimulator:
    return authorize_net_simulator


@pytest.fixture
def adapter(simulator: AuthorizeNetSimulator) -> AuthorizeNetAdapter:
    integration = create_integration(
        IntegrationType.AUTHORIZE_NET, api_base_url=simulator.url, signature_key=SIGNATURE_KEY
    )
    built = adapter_for(integration)
    assert isinstance(built, AuthorizeNetAdapter)
    return built


def payment(
    action: str = "authorize",
    amount: str = "10.00",
    currency: str = "USD",
    key: str = "pay-1",
    order: str = "ORD-1001",
) -> PaymentRequest:
    return PaymentRequest(
        order_number=order,
        amount=Decimal(amount),
        currency=currency,
        idempotency_key=key,
        method_identifier="authorize_net_credit_card",
        payment_action=action,
        method_kind="credit_card",
        customer_name="Ada Lovelace",
        billing=BillingData(
            name="Ada Lovelace",
            email="ada@example.com",
            street="1 Main St",
            city="Springfield",
            postal_code="12345",
            region="IL",
            country="US",
        ),
    )


def accept_js(
    simulator: AuthorizeNetSimulator,
    card: str = APPROVED_CARD,
    *,
    month: str = "12",
    year: str = "2035",
    cvv: str = "123",
    client_key: str = CLIENT_KEY,
    login: str = LOGIN,
) -> dict[str, Any]:
    """What the stand-in Accept.js does in the buyer's browser, as plain HTTP."""
    script = requests.get(f"{simulator.url}/v1/Accept.js", timeout=5)
    assert script.status_code == 200
    assert "dispatchData" in script.text
    body = {
        "securePaymentContainerRequest": {
            "merchantAuthentication": {"name": login, "clientKey": client_key},
            "data": {
                "type": "TOKEN",
                "token": {"cardNumber": card, "month": month, "year": year, "cardCode": cvv},
            },
        }
    }
    answer = requests.post(
        f"{simulator.url}/v1/accept/token",
        data=json.dumps(body),
        headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://127.0.0.1:8000"},
        timeout=5,
    )
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    result: dict[str, Any] = answer.json()
    return result


def opaque_params(simulator: AuthorizeNetSimulator, card: str = APPROVED_CARD) -> dict[str, str]:
    """The form fields the checkout page posts to return_url after Accept.js answered."""
    answer = accept_js(simulator, card)
    assert answer["messages"]["resultCode"] == "Ok", answer
    return dict(answer["opaqueData"])


def paid(
    adapter: AuthorizeNetAdapter,
    simulator: AuthorizeNetSimulator,
    request: PaymentRequest,
    card: str = APPROVED_CARD,
) -> str:
    step = adapter.begin(request, URLS)
    result = adapter.complete(
        request, reference=step.reference, params=opaque_params(simulator, card)
    )
    assert result.ok, result
    return result.reference


def api_calls(simulator: AuthorizeNetSimulator) -> list[str]:
    return [r.body.decode() for r in simulator.received if r.path == PATH]


# --- configuration and the browser step ---------------------------------------------------------


def test_declares_what_authorize_net_allows() -> None:
    assert AuthorizeNetAdapter.supports == {
        Operation.CHECK_CREDENTIALS,
        Operation.AUTHORIZE,
        Operation.CHARGE,
        Operation.CAPTURE,
        Operation.CANCEL,
        Operation.REFUND,
    }
    assert AuthorizeNetAdapter.multiple_captures is False
    assert AuthorizeNetAdapter.browser_step is True


def test_check_credentials_still_works(adapter: AuthorizeNetAdapter) -> None:
    check = adapter.check_credentials()
    assert check.ok, check.message


def test_begin_answers_the_accept_js_step_without_calling_the_gateway(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    step = adapter.begin(payment(), URLS)
    assert step.kind is StepKind.ACCEPT_JS
    assert step.reference == ""
    assert step.data == {
        "script_url": f"{simulator.url}/v1/Accept.js",
        "api_login_id": LOGIN,
        "client_key": CLIENT_KEY,
    }
    assert simulator.received == []
    assert "transaction_key" not in json.dumps(step.data)


@pytest.mark.parametrize(("currency", "amount"), [("BHD", "12.345"), ("kwd", "12.340")])
def test_a_three_decimal_currency_is_refused_before_the_buyer_types_the_card(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator, currency: str, amount: str
) -> None:
    with pytest.raises(PaymentNotTaken) as refused:
        adapter.begin(payment(currency=currency, amount=amount), URLS)
    assert refused.value.permanent
    assert str(refused.value) == (
        f"Authorize.Net cannot take payments in {currency.upper()}: "
        "it takes no currency with three decimals."
    )
    assert simulator.received == []


def test_the_gateway_refuses_a_three_decimal_currency_too(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    """A payment begun before begin() refused them still cannot go through at complete()."""
    result = adapter.complete(
        payment(currency="BHD", amount="12.340"), reference="", params=opaque_params(simulator)
    )
    assert result.state is ResultState.FAILED
    assert "currency code" in result.message and result.raw["errorCode"] == "39"
    assert simulator.transactions == {}


@pytest.mark.parametrize(
    ("sandbox", "script_url"),
    [
        (True, "https://jstest.authorize.net/v1/Accept.js"),
        (False, "https://js.authorize.net/v1/Accept.js"),
    ],
)
def test_begin_points_at_authorize_nets_own_accept_js(sandbox: bool, script_url: str) -> None:
    config = AdapterConfig(
        settings={"api_login_id": LOGIN, "client_key": CLIENT_KEY},
        secrets={"transaction_key": SETTINGS["transaction_key"]},
        sandbox=sandbox,
        timeout_seconds=5,
    )
    assert AuthorizeNetAdapter(config).begin(payment(), URLS).data["script_url"] == script_url


def test_accept_js_validates_the_card_and_the_keys_like_the_real_library(
    simulator: AuthorizeNetSimulator,
) -> None:
    def codes(answer: dict[str, Any]) -> list[str]:
        assert answer["messages"]["resultCode"] == "Error"
        return [m["code"] for m in answer["messages"]["message"]]

    assert codes(accept_js(simulator, "4111111111111112")) == ["E_WC_05"]
    assert codes(accept_js(simulator, year="2020")) == ["E_WC_08"]
    assert codes(accept_js(simulator, month="13")) == ["E_WC_06"]
    assert codes(accept_js(simulator, cvv="12")) == ["E_WC_15"]
    assert codes(accept_js(simulator, client_key="WrongKey")) == ["E_WC_21"]
    good = accept_js(simulator, "4007000000027")
    assert good["opaqueData"]["dataDescriptor"] == "COMMON.ACCEPT.INAPP.PAYMENT"
    assert good["messages"]["message"][0]["code"] == "I_WC_01"


def test_the_tokenize_helper_stands_in_for_accept_js(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    descriptor, value = simulator.tokenize(APPROVED_CARD, "12", "2035", "123", CLIENT_KEY, LOGIN)
    result = adapter.complete(
        payment(), reference="", params={"dataDescriptor": descriptor, "dataValue": value}
    )
    assert result.ok
    with pytest.raises(ValueError, match="E_WC_21"):
        simulator.tokenize(APPROVED_CARD, "12", "2035", "123", "NotTheKey", LOGIN)


def test_the_simulator_serves_a_labelled_demo_page(simulator: AuthorizeNetSimulator) -> None:
    page = requests.get(f"{simulator.url}/v1/accept/demo", timeout=5)
    assert page.status_code == 200
    assert "Local simulator" in page.text
    assert 'src="/v1/Accept.js"' in page.text
    assert "http" not in page.text.split("<script", 1)[1].split(">", 1)[0]


# Just enough browser for the stand-in Accept.js: its own <script> element and XMLHttpRequest.
NODE_HARNESS = r"""
const [scriptUrl, login, clientKey, cardNumber, month, year, cardCode] = process.argv.slice(1);
globalThis.window = globalThis;
globalThis.document = { currentScript: { src: scriptUrl } };
globalThis.XMLHttpRequest = class {
  open(method, url) { this.method = method; this.url = url; this.headers = {}; }
  setRequestHeader(name, value) { this.headers[name] = value; }
  send(body) {
    fetch(this.url, { method: this.method, headers: this.headers, body })
      .then((response) => response.text())
      .then((text) => { this.responseText = text; this.onload(); }, () => this.onerror());
  }
};
(async () => {
  eval(await (await fetch(scriptUrl)).text());
  window.Accept.dispatchData(
    { authData: { apiLoginID: login, clientKey },
      cardData: { cardNumber, month, year, cardCode } },
    (response) => console.log(JSON.stringify(response)));
})();
"""


def run_accept_js(script_url: str, card: str, month: str = "12", year: str = "35") -> Any:
    run = subprocess.run(
        ["node", "-e", NODE_HARNESS, script_url, LOGIN, CLIENT_KEY, card, month, year, "123"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_the_stand_in_accept_js_hands_the_page_opaque_data(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    request = payment("charge")
    step = adapter.begin(request, URLS)
    answer = run_accept_js(step.data["script_url"], "4111 1111 1111 1111")
    assert answer["messages"]["resultCode"] == "Ok", answer
    result = adapter.complete(request, reference="", params=answer["opaqueData"])
    assert result.ok and simulator.transactions[result.reference].amount == Decimal("10.00")
    refused = run_accept_js(step.data["script_url"], "4111111111111112", month="1", year="2001")
    assert [m["code"] for m in refused["messages"]["message"]] == ["E_WC_05", "E_WC_08"]


# --- complete -------------------------------------------------------------------------------------


def test_authorize_through_the_browser(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    request = payment("authorize")
    step = adapter.begin(request, URLS)
    result = adapter.complete(request, reference=step.reference, params=opaque_params(simulator))
    assert result.ok and result.state is ResultState.SUCCEEDED
    transaction = simulator.transactions[result.reference]
    assert transaction.type == "authOnlyTransaction"
    assert transaction.status == "authorizedPendingCapture"
    assert transaction.amount == Decimal("10.00")
    assert transaction.invoice_number == "ORD-1001"
    assert transaction.bill_to["lastName"] == "Lovelace"
    assert result.raw["accountNumber"] == "XXXX1111"
    assert APPROVED_CARD not in json.dumps(result.raw)
    assert "<refId>pay-1</refId>" in api_calls(simulator)[-1]


def test_charge_through_the_browser(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    reference = paid(adapter, simulator, payment("charge"))
    transaction = simulator.transactions[reference]
    assert transaction.type == "authCaptureTransaction"
    assert transaction.status == "capturedPendingSettlement"


def test_a_declined_card_fails_with_a_message(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    request = payment("charge")
    result = adapter.complete(request, reference="", params=opaque_params(simulator, DECLINED_CARD))
    assert not result.ok and result.state is ResultState.FAILED
    assert result.message == "This transaction has been declined."
    assert result.raw["errorCode"] == "2"


def test_a_payment_held_for_review_is_pending(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    result = adapter.complete(payment(), reference="", params=opaque_params(simulator, REVIEW_CARD))
    assert result.ok and result.state is ResultState.PENDING  # ok: not a failure, not yet paid
    assert simulator.transactions[result.reference].status == "FDSPendingReview"


def test_completing_a_held_payment_again_never_pays_twice(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    held = adapter.complete(payment(), reference="", params=opaque_params(simulator, REVIEW_CARD))
    again = adapter.complete(
        payment(), reference=held.reference, params=opaque_params(simulator, "4007000000027")
    )
    assert again.state is ResultState.PENDING and again.reference == held.reference
    assert len(simulator.transactions) == 1


def test_forged_opaque_data_fails_cleanly(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    for value in ("x" * 9000, "\x00<not-a-token>"):
        params = {"dataDescriptor": "COMMON.ACCEPT.INAPP.PAYMENT", "dataValue": value}
        result = adapter.complete(payment(), reference="", params=params)
        assert result.state is ResultState.FAILED, result
    assert simulator.transactions == {}


def test_without_opaque_data_the_buyer_has_not_finished(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    result = adapter.complete(payment(), reference="", params={"dataDescriptor": ""})
    assert result.ok and result.state is ResultState.PENDING
    assert simulator.received == []


def test_complete_called_twice_pays_once(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    request = payment("charge")
    params = opaque_params(simulator)
    first = adapter.complete(request, reference="", params=params)
    again = adapter.complete(request, reference="", params=params)
    assert again.ok and again.reference == first.reference
    assert len(simulator.transactions) == 1


def test_a_declined_payment_completed_again_stays_declined(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    params = opaque_params(simulator, DECLINED_CARD)
    first = adapter.complete(payment(), reference="", params=params)
    again = adapter.complete(payment(), reference="", params=params)
    assert again.state is ResultState.FAILED
    assert len(simulator.transactions) == 1
    # Both answers name the declined transaction, the second read back from the gateway.
    assert first.reference == again.reference == next(iter(simulator.transactions))


def test_a_replayed_key_with_fresh_opaque_data_answers_the_original(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    """The buyer submits the same card twice: the gateway's duplicate check stops the second."""
    request = payment("charge")
    first = adapter.complete(request, reference="", params=opaque_params(simulator))
    again = adapter.complete(request, reference="", params=opaque_params(simulator))
    assert again.ok and again.reference == first.reference
    assert len(simulator.transactions) == 1
    other_attempt = adapter.complete(
        replace(request, idempotency_key="pay-2"), reference="", params=opaque_params(simulator)
    )
    assert other_attempt.ok and other_attempt.reference != first.reference


def test_expired_opaque_data_asks_for_the_card_again(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    params = opaque_params(simulator)
    simulator.nonce_lifetime_seconds = 0
    result = adapter.complete(payment(), reference="", params=params)
    assert result.state is ResultState.FAILED
    assert "expired or were already used" in result.message
    assert simulator.transactions == {}


def test_abandon_when_nothing_was_paid(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    result = adapter.abandon(payment(), reference="")
    assert result.state is ResultState.FAILED


def test_abandon_voids_a_payment_held_for_review(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    held = adapter.complete(payment(), reference="", params=opaque_params(simulator, REVIEW_CARD))
    result = adapter.abandon(payment(), reference=held.reference)
    assert result.state is ResultState.FAILED and result.reference == held.reference
    assert simulator.transactions[held.reference].status == "voided"


def test_abandon_reports_a_payment_that_went_through(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    reference = paid(adapter, simulator, payment("charge"))
    result = adapter.abandon(payment("charge"), reference=reference)
    assert result.ok and result.state is ResultState.SUCCEEDED and result.reference == reference


def test_an_outcome_that_cannot_be_read_back_stays_unknown(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    """Without the Transaction Details API (E00011) a reused token cannot be settled: unknown."""
    params = opaque_params(simulator)
    adapter.complete(payment(), reference="", params=params)
    simulator.reporting_enabled = False
    with pytest.raises(ProviderError, match="E00011"):
        adapter.complete(payment(), reference="", params=params)


# --- capture, cancel, refund ---------------------------------------------------------------------


def test_partial_capture_then_a_second_capture_is_refused(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    reference = paid(adapter, simulator, payment("authorize"))
    capture = adapter.capture(
        reference=reference, amount=Decimal("6.00"), currency="USD", idempotency_key="cap-1"
    )
    assert capture.ok and capture.reference == reference
    assert simulator.transactions[reference].settle_amount == Decimal("6.00")
    second = adapter.capture(
        reference=reference, amount=Decimal("4.00"), currency="USD", idempotency_key="cap-2"
    )
    assert not second.ok and second.state is ResultState.FAILED
    assert second.message == "This transaction has already been captured."
    assert simulator.transactions[reference].settle_amount == Decimal("6.00")


def test_a_replayed_capture_answers_the_same(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    reference = paid(adapter, simulator, payment("authorize"))
    first = adapter.capture(
        reference=reference, amount=Decimal("6.00"), currency="USD", idempotency_key="cap-1"
    )
    again = adapter.capture(
        reference=reference, amount=Decimal("6.00"), currency="USD", idempotency_key="cap-1"
    )
    assert first.ok and again.ok and again.reference == first.reference
    assert simulator.transactions[reference].settle_amount == Decimal("6.00")


def test_capturing_more_than_authorized_is_refused(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    reference = paid(adapter, simulator, payment("authorize"))
    result = adapter.capture(
        reference=reference, amount=Decimal("10.01"), currency="USD", idempotency_key="cap-1"
    )
    assert result.state is ResultState.FAILED
    assert "cannot be greater than the original amount" in result.message


def test_authorize_then_cancel(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    reference = paid(adapter, simulator, payment("authorize"))
    result = adapter.cancel(
        reference=reference, amount=Decimal("10.00"), currency="USD", idempotency_key="void-1"
    )
    assert result.ok and result.reference == reference
    assert simulator.transactions[reference].status == "voided"
    again = adapter.cancel(
        reference=reference, amount=Decimal("10.00"), currency="USD", idempotency_key="void-1"
    )
    assert again.ok
    capture = adapter.capture(
        reference=reference, amount=Decimal("10.00"), currency="USD", idempotency_key="cap-1"
    )
    assert capture.state is ResultState.FAILED


def test_partial_refunds_up_to_what_was_captured(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    reference = paid(adapter, simulator, payment("charge"))
    first = adapter.refund(
        reference=reference, amount=Decimal("3.00"), currency="USD", idempotency_key="ref-1"
    )
    second = adapter.refund(
        reference=reference, amount=Decimal("3.00"), currency="USD", idempotency_key="ref-2"
    )
    assert first.ok and second.ok and first.reference != second.reference
    assert simulator.transactions[first.reference].ref_trans_id == reference
    over = adapter.refund(
        reference=reference, amount=Decimal("4.01"), currency="USD", idempotency_key="ref-3"
    )
    assert over.state is ResultState.FAILED
    assert "would exceed original debit amount" in over.message
    assert simulator.transactions[reference].refunded == Decimal("6.00")
    refund_call = api_calls(simulator)[-1]
    assert "<cardNumber>1111</cardNumber>" in refund_call
    assert "<expirationDate>XXXX</expirationDate>" in refund_call


def test_a_replayed_refund_answers_the_same_refund(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    reference = paid(adapter, simulator, payment("charge"))
    first = adapter.refund(
        reference=reference, amount=Decimal("3.00"), currency="USD", idempotency_key="ref-1"
    )
    again = adapter.refund(
        reference=reference, amount=Decimal("3.00"), currency="USD", idempotency_key="ref-1"
    )
    assert again.ok and again.reference == first.reference
    assert simulator.transactions[reference].refunded == Decimal("3.00")
    assert len(simulator.transactions) == 2


def test_refunding_a_partial_capture_is_limited_to_the_capture(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    reference = paid(adapter, simulator, payment("authorize"))
    adapter.capture(
        reference=reference, amount=Decimal("6.00"), currency="USD", idempotency_key="cap-1"
    )
    over = adapter.refund(
        reference=reference, amount=Decimal("7.00"), currency="USD", idempotency_key="ref-1"
    )
    assert over.state is ResultState.FAILED


def test_an_uncaptured_authorization_cannot_be_refunded(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    reference = paid(adapter, simulator, payment("authorize"))
    result = adapter.refund(
        reference=reference, amount=Decimal("1.00"), currency="USD", idempotency_key="ref-1"
    )
    assert result.state is ResultState.FAILED
    assert "does not meet the criteria for issuing a credit" in result.message


def test_refunds_wait_for_settlement_when_the_simulator_models_it(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    simulator.refunds_need_settlement = True
    reference = paid(adapter, simulator, payment("charge"))
    early = adapter.refund(
        reference=reference, amount=Decimal("1.00"), currency="USD", idempotency_key="ref-1"
    )
    assert early.state is ResultState.FAILED
    simulator.settle()
    late = adapter.refund(
        reference=reference, amount=Decimal("1.00"), currency="USD", idempotency_key="ref-2"
    )
    assert late.ok


def test_a_refund_that_cannot_read_the_card_is_refused_not_unknown(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    reference = paid(adapter, simulator, payment("charge"))
    simulator.reporting_enabled = False
    result = adapter.refund(
        reference=reference, amount=Decimal("1.00"), currency="USD", idempotency_key="ref-1"
    )
    assert result.state is ResultState.FAILED
    assert "Transaction Details API" in result.message and "Nothing was refunded" in result.message
    assert simulator.transactions[reference].refunded == 0


def test_yen_amounts_reach_the_gateway_without_decimals(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    reference = paid(adapter, simulator, payment("authorize", amount="1500", currency="JPY"))
    transaction = simulator.transactions[reference]
    assert transaction.amount == Decimal(1500) and transaction.currency == "JPY"
    assert "<currencyCode>JPY</currencyCode>" in api_calls(simulator)[-1]
    capture = adapter.capture(
        reference=reference, amount=Decimal("999"), currency="JPY", idempotency_key="cap-1"
    )
    assert capture.ok
    assert simulator.transactions[reference].settle_amount == Decimal(999)


# --- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [Fault.HTTP_500, Fault.GARBAGE])
def test_a_broken_gateway_raises_provider_error(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator, fault: Fault
) -> None:
    params = opaque_params(simulator)
    simulator.fault = fault
    with pytest.raises(ProviderError):
        adapter.complete(payment(), reference="", params=params)
    with pytest.raises(ProviderError):
        adapter.capture(
            reference="60000000001", amount=Decimal(1), currency="USD", idempotency_key="c"
        )


def test_a_slow_gateway_times_out(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    quick = AuthorizeNetAdapter(replace(adapter.config, timeout_seconds=0.2))
    params = opaque_params(simulator)
    simulator.fault = Fault.SLOW
    simulator.slow_seconds = 1.0
    with pytest.raises(ProviderError):
        quick.complete(payment(), reference="", params=params)


# --- webhooks -------------------------------------------------------------------------------------


def test_a_signed_webhook_is_read(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    reference = paid(adapter, simulator, payment("charge"))
    body, headers = simulator.signed_webhook(
        "net.authorize.payment.authcapture.created", reference, SIGNATURE_KEY
    )
    event = adapter.parse_webhook(body, headers)
    assert event.type == "net.authorize.payment.authcapture.created"
    assert event.reference == reference
    assert event.state is ResultState.SUCCEEDED
    assert event.id == json.loads(body)["notificationId"]
    replayed = adapter.parse_webhook(body, {k.lower(): v for k, v in headers.items()})
    assert replayed.id == event.id  # the webhook view applies each id once


@pytest.mark.parametrize(
    ("event_type", "state"),
    [
        ("net.authorize.payment.authorization.created", ResultState.SUCCEEDED),
        ("net.authorize.payment.capture.created", ResultState.SUCCEEDED),
        ("net.authorize.payment.refund.created", ResultState.SUCCEEDED),
        ("net.authorize.payment.void.created", None),
        ("net.authorize.payment.fraud.declined", ResultState.FAILED),
    ],
)
def test_webhook_events_map_to_states(
    adapter: AuthorizeNetAdapter,
    simulator: AuthorizeNetSimulator,
    event_type: str,
    state: ResultState | None,
) -> None:
    reference = paid(adapter, simulator, payment("authorize"))
    event = adapter.parse_webhook(*simulator.signed_webhook(event_type, reference, SIGNATURE_KEY))
    assert event.state is state
    assert event.reference == reference


@pytest.mark.django_db(transaction=True)  # the live server's thread must see the integration
def test_a_delivered_webhook_settles_the_payment_once(
    simulator: AuthorizeNetSimulator, live_server: Any, backoffice_roles: None
) -> None:
    """Through our webhook view: signature first, each notification applied once."""
    from payments.models import WebhookEvent as WebhookEventRow

    integration = create_integration(
        IntegrationType.AUTHORIZE_NET, api_base_url=simulator.url, signature_key=SIGNATURE_KEY
    )
    url = f"{live_server.url}/webhooks/{integration.webhook_token}/"
    event = "net.authorize.payment.authcapture.created"
    assert simulator.deliver_webhook(url, event, "60000000001", SIGNATURE_KEY) == 200
    assert simulator.deliver_webhook(url, event, "60000000001", "WrongKey") == 400
    assert WebhookEventRow.objects.filter(integration=integration).count() == 1


def test_a_lowercase_signature_is_accepted(adapter: AuthorizeNetAdapter) -> None:
    body = b'{"notificationId":"n-1","eventType":"net.authorize.payment.void.created","payload":{}}'
    digest = hmac.new(SIGNATURE_KEY.encode(), body, hashlib.sha512).hexdigest()
    event = adapter.parse_webhook(body, {"X-Anet-Signature": f"sha512={digest}"})
    assert event.id == "n-1" and event.reference == ""


def test_tampered_missing_or_foreign_signatures_are_refused(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    body, headers = simulator.signed_webhook(
        "net.authorize.payment.authcapture.created", "60000000001", SIGNATURE_KEY
    )
    with pytest.raises(InvalidWebhook):
        adapter.parse_webhook(body.replace(b"60000000001", b"60000000002"), headers)
    with pytest.raises(InvalidWebhook):
        adapter.parse_webhook(body, {})
    with pytest.raises(InvalidWebhook):
        adapter.parse_webhook(body, {"X-ANET-Signature": "sha512="})
    foreign_body, foreign = simulator.signed_webhook(
        "net.authorize.payment.authcapture.created", "60000000001", "SomeoneElsesKey"
    )
    with pytest.raises(InvalidWebhook):
        adapter.parse_webhook(foreign_body, foreign)
    hex_key = bytes.fromhex(SIGNATURE_KEY)
    hex_signed = hmac.new(hex_key, body, hashlib.sha512).hexdigest().upper()
    with pytest.raises(InvalidWebhook):
        adapter.parse_webhook(body, {"X-ANET-Signature": f"sha512={hex_signed}"})


def test_an_unreadable_signed_body_is_refused(adapter: AuthorizeNetAdapter) -> None:
    body = b"\xff not json"
    digest = hmac.new(SIGNATURE_KEY.encode(), body, hashlib.sha512).hexdigest()
    with pytest.raises(InvalidWebhook):
        adapter.parse_webhook(body, {"X-ANET-Signature": f"sha512={digest}"})


@pytest.mark.parametrize("notification_id", [None, "", "  ", 42, "absent"])
def test_a_signed_notification_without_an_id_is_refused(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator, notification_id: object
) -> None:
    body, _ = simulator.signed_webhook(
        "net.authorize.payment.authcapture.created", "60000000001", SIGNATURE_KEY
    )
    notification = json.loads(body)
    if notification_id == "absent":
        del notification["notificationId"]
    else:
        notification["notificationId"] = notification_id
    unnamed = json.dumps(notification).encode()
    digest = hmac.new(SIGNATURE_KEY.encode(), unnamed, hashlib.sha512).hexdigest()
    with pytest.raises(InvalidWebhook):
        adapter.parse_webhook(unnamed, {"X-ANET-Signature": f"sha512={digest}"})


def test_webhooks_are_refused_without_a_signature_key(simulator: AuthorizeNetSimulator) -> None:
    integration = create_integration(IntegrationType.AUTHORIZE_NET, api_base_url=simulator.url)
    body, headers = simulator.signed_webhook(
        "net.authorize.payment.authcapture.created", "60000000001", SIGNATURE_KEY
    )
    with pytest.raises(InvalidWebhook):
        adapter_for(integration).parse_webhook(body, headers)


# --- the demo runner -----------------------------------------------------------------------------


def test_the_provider_state_survives_a_restart(
    adapter: AuthorizeNetAdapter, simulator: AuthorizeNetSimulator
) -> None:
    """`python -m simulators` pickles provider_state() after each request and restores it."""
    reference = paid(adapter, simulator, payment("authorize"))
    state = pickle.loads(pickle.dumps(simulator.provider_state()))
    restarted = AuthorizeNetSimulator()
    try:
        restarted.__dict__.update(state)
        assert restarted.transactions[reference].status == "authorizedPendingCapture"
        assert restarted.client_keys == {LOGIN: CLIENT_KEY}
    finally:
        restarted.server_close()


# --- through our checkout pages ---------------------------------------------------------------


def _checkout(simulator: AuthorizeNetSimulator, action: str) -> tuple[Any, Any, Any]:
    from django.test import Client

    from tests.factories import CustomerUserFactory
    from tests.payments.support import make_order, offered_method

    customer_user = CustomerUserFactory()
    order = make_order(customer_user=customer_user, total="80.00")
    method = offered_method(
        IntegrationType.AUTHORIZE_NET,
        api_base_url=simulator.url,
        payment_action=action,
        signature_key=SIGNATURE_KEY,
    )
    client = Client()
    client.force_login(customer_user.user)
    return order, method, client


def _data_attribute(page: str, name: str) -> str:
    match = re.search(rf'data-{name}="([^"]*)"', page)
    assert match, f"data-{name} missing from the payment page"
    return match.group(1)


def test_a_buyer_pays_by_card_through_our_pages(simulator: AuthorizeNetSimulator) -> None:
    from django.urls import reverse

    from payments.models import PaymentTransaction, State

    order, method, client = _checkout(simulator, "charge")
    submitted = client.post(
        reverse("payments:checkout", args=[order.number]),
        {"method": method.pk, "idempotency_key": "key-1"},
    )
    pay_url = submitted["Location"]
    page = client.get(pay_url).content.decode()
    assert _data_attribute(page, "script") == f"{simulator.url}/v1/Accept.js"
    assert _data_attribute(page, "login") == LOGIN
    assert _data_attribute(page, "client-key") == CLIENT_KEY
    opaque = opaque_params(simulator)  # what Accept.js puts in the form's hidden fields
    done = client.post(pay_url, opaque)
    assert done["Location"] == reverse("payments:checkout_done", args=[order.number])
    row = PaymentTransaction.objects.get(order=order)
    assert row.state == State.SUCCEEDED
    transaction = simulator.transactions[row.provider_reference]
    assert (transaction.type, transaction.amount) == ("authCaptureTransaction", Decimal("80.00"))
    assert transaction.invoice_number == order.number[:20]
    assert client.post(pay_url, opaque)["Location"] == done["Location"]  # settled once
    assert len(simulator.transactions) == 1


def test_a_three_decimal_checkout_never_offers_authorize_net(
    simulator: AuthorizeNetSimulator,
) -> None:
    from django.test import Client
    from django.urls import reverse

    from payments.checkout_services import METHOD_UNAVAILABLE
    from payments.models import PaymentTransaction
    from tests.factories import CustomerUserFactory
    from tests.payments.support import make_order, offered_method

    customer_user = CustomerUserFactory()
    order = make_order(customer_user=customer_user, currency="BHD", total="12.345")
    method = offered_method(
        IntegrationType.AUTHORIZE_NET, currency="BHD", api_base_url=simulator.url
    )
    check = offered_method(IntegrationType.MONEY_ORDER, currency="BHD")
    client = Client()
    client.force_login(customer_user.user)
    url = reverse("payments:checkout", args=[order.number])
    page = client.get(url).content.decode()
    assert f'value="{check.pk}"' in page and f'value="{method.pk}"' not in page
    # A form posted from an older page (or by hand) is refused before any row or call.
    forced = client.post(url, {"method": method.pk, "idempotency_key": "key-1"})
    assert forced.status_code == 400
    assert METHOD_UNAVAILABLE in forced.content.decode()
    assert not PaymentTransaction.objects.filter(order=order).exists()
    assert simulator.received == []


def test_staff_capture_refund_and_cancel_through_our_services(
    simulator: AuthorizeNetSimulator,
) -> None:
    from django.urls import reverse

    from payments.models import PaymentTransaction, State
    from payments.services import payment_cancel, payment_capture, payment_refund
    from tests.payments.support import staff

    def checkout() -> PaymentTransaction:
        order, method, client = _checkout(simulator, "authorize")
        pay_url = client.post(
            reverse("payments:checkout", args=[order.number]),
            {"method": method.pk, "idempotency_key": f"key-{order.number}"},
        )["Location"]
        client.post(pay_url, opaque_params(simulator))
        row = PaymentTransaction.objects.get(order=order)
        assert row.state == State.SUCCEEDED
        return row

    actor = staff("Administrators")
    authorization = checkout()
    capture = payment_capture(
        transaction=authorization, amount="30.00", actor=actor, idempotency_key="cap-1"
    )
    assert capture.state == State.SUCCEEDED
    refunds = [
        payment_refund(
            transaction=capture, amount=amount, note="damaged", actor=actor, idempotency_key=key
        )
        for amount, key in (("10.00", "ref-1"), ("5.00", "ref-2"))
    ]
    assert [r.state for r in refunds] == [State.SUCCEEDED, State.SUCCEEDED]
    assert simulator.transactions[capture.provider_reference].refunded == Decimal("15.00")

    held = checkout()
    void = payment_cancel(transaction=held, note="out of stock", actor=actor, idempotency_key="v-1")
    assert void.state == State.SUCCEEDED
    assert simulator.transactions[held.provider_reference].status == "voided"


def test_the_simulator_refuses_what_the_gateway_refuses(simulator: AuthorizeNetSimulator) -> None:
    def post(transaction: str, key: str = SETTINGS["transaction_key"]) -> str:
        body = (
            '<createTransactionRequest xmlns="AnetApi/xml/v1/schema/AnetApiSchema.xsd">'
            f"<merchantAuthentication><name>{LOGIN}</name><transactionKey>{key}</transactionKey>"
            f"</merchantAuthentication><transactionRequest>{transaction}</transactionRequest>"
            "</createTransactionRequest>"
        )
        answer = requests.post(simulator.url + PATH, data=body.encode(), timeout=5)
        return answer.content.decode("utf-8-sig")

    no_ref = post("<transactionType>priorAuthCaptureTransaction</transactionType>")
    assert "<code>E00027</code>" in no_ref and "<errorCode>33</errorCode>" in no_ref
    unknown = post("<transactionType>voidTransaction</transactionType><refTransId>1</refTransId>")
    assert "<errorCode>16</errorCode>" in unknown
    wrong_key = post("<transactionType>voidTransaction</transactionType>", key="WrongKey00000000")
    assert "<code>E00007</code>" in wrong_key
