"""Payflow Gateway / Payments Pro over real HTTP to the Payflow simulator: the card form posted
to Payflow Link, Express Checkout through the PayPal page, then capture, void and credit."""

from __future__ import annotations

import pickle
import time
import uuid
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import parse_qs, parse_qsl, urlsplit

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
from integrations.adapters.payflow import PayflowAdapter, secure_token_id
from integrations.types import IntegrationType
from simulators.base import Fault
from simulators.payflow import PayflowSimulator
from tests.factories import create_integration
from tests.simulators.fixtures import running

pytestmark = pytest.mark.django_db

URLS = CheckoutUrls(
    return_url="https://shop.example/checkout/return/t0k3n/?step=1",
    cancel_url="https://shop.example/checkout/cancel/t0k3n/",
    notify_url="https://shop.example/checkout/notify/t0k3n/",
)
VISA = "4111111111111111"


class _FormReader(HTMLParser):
    """The forms of a page, each as (action, hidden fields); `action`/`fields`: the first."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    @property
    def action(self) -> str:
        return self.forms[0][0]

    @property
    def fields(self) -> dict[str, str]:
        return self.forms[0][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append((values.get("action", ""), {}))
        elif tag == "input" and values.get("type") == "hidden" and self.forms:
            self.forms[-1][1][values["name"]] = values.get("value", "")


def _adapter(
    simulator: PayflowSimulator, type: str = IntegrationType.PAYFLOW_GATEWAY
) -> PaymentAdapter:
    return adapter_for(create_integration(type, api_base_url=simulator.url))


def _request(
    *,
    action: str = "authorize",
    amount: str = "100.00",
    currency: str = "USD",
    kind: str = "credit_card",
    key: str | None = None,
) -> PaymentRequest:
    return PaymentRequest(
        order_number="SO-1001",
        amount=Decimal(amount),
        currency=currency,
        idempotency_key=key or uuid.uuid4().hex,
        method_identifier=f"paypal_payflow_gateway_{kind}_1",
        payment_action=action,
        method_kind=kind,
        customer_name="Acme Corp",
    )


def _browser_posts_card(
    step: PaymentStep, acct: str = VISA, expdate: str = "1230", cvv2: str = "123"
) -> tuple[str, dict[str, str]]:
    """The checkout page's form posts the card straight to Payflow Link; the browser then
    follows the answer's auto-submitting form: (where it posts, what it posts)."""
    response = requests.post(
        step.url,
        data={**step.data, "ACCT": acct, "EXPDATE": expdate, "CVV2": cvv2},
        timeout=5,
    )
    assert response.status_code == 200
    assert "Local simulator" in response.text
    assert acct not in response.text or len(acct) <= 4
    reader = _FormReader()
    reader.feed(response.text)
    return reader.action, reader.fields


def _paid_card(
    adapter: PaymentAdapter, request: PaymentRequest, **card: str
) -> tuple[PaymentStep, dict[str, str]]:
    step = adapter.begin(request, URLS)
    _, fields = _browser_posts_card(step, **card)
    return step, fields


def _authorized(adapter: PaymentAdapter, amount: str = "100.00", currency: str = "USD") -> str:
    request = _request(amount=amount, currency=currency)
    step, fields = _paid_card(adapter, request)
    result = adapter.complete(request, reference=step.reference, params=fields)
    assert result.state == ResultState.SUCCEEDED, result
    return result.reference


# --- what the adapter declares, and check connection -------------------------------------------


def test_the_adapter_declares_a_browser_step_and_multiple_captures() -> None:
    assert PayflowAdapter.browser_step
    assert PayflowAdapter.multiple_captures
    assert {
        Operation.CHECK_CREDENTIALS,
        Operation.AUTHORIZE,
        Operation.CHARGE,
        Operation.CAPTURE,
        Operation.CANCEL,
        Operation.REFUND,
    } <= PayflowAdapter.supports


def test_check_credentials_still_works(payflow_simulator: PayflowSimulator) -> None:
    assert _adapter(payflow_simulator).check_credentials().ok


# --- cards: secure token, transparent redirect, inquiry -----------------------------------------


def test_begin_creates_a_secure_token_for_a_transparent_redirect(
    payflow_simulator: PayflowSimulator,
) -> None:
    request = _request(action="authorize", amount="25.50")
    step = _adapter(payflow_simulator).begin(request, URLS)
    assert step.kind == StepKind.HOSTED_FORM
    assert step.url == f"{payflow_simulator.url}/payflowlink"
    assert step.reference == secure_token_id(request.idempotency_key)
    assert len(step.reference) == 36
    assert set(step.data) == {"SECURETOKEN", "SECURETOKENID"}
    assert "SECURETOKEN" not in step.raw
    token = payflow_simulator.secure_tokens[step.reference]
    assert token.token == step.data["SECURETOKEN"]
    assert {
        name: token.fields[name]
        for name in (
            "TRXTYPE",
            "TENDER",
            "AMT",
            "CURRENCY",
            "INVNUM",
            "SILENTTRAN",
            "RETURNURL",
            "ERRORURL",
            "CANCELURL",
            "SILENTPOSTURL",
        )
    } == {
        "TRXTYPE": "A",
        "TENDER": "C",
        "AMT": "25.50",
        "CURRENCY": "USD",
        "INVNUM": "SO-1001",
        "SILENTTRAN": "TRUE",
        "RETURNURL": URLS.return_url,
        "ERRORURL": URLS.return_url,
        "CANCELURL": URLS.cancel_url,
        "SILENTPOSTURL": URLS.notify_url,
    }


def test_begin_again_answers_the_same_token(payflow_simulator: PayflowSimulator) -> None:
    adapter = _adapter(payflow_simulator)
    request = _request()
    first = adapter.begin(request, URLS)
    again = adapter.begin(request, URLS)
    assert again.data == first.data
    assert again.raw["DUPLICATE"] == "1"
    assert len(payflow_simulator.secure_tokens) == 1


@pytest.mark.parametrize(("action", "trxtype"), [("authorize", "A"), ("charge", "S")])
def test_card_payment_completes_from_the_inquiry(
    payflow_simulator: PayflowSimulator, action: str, trxtype: str
) -> None:
    adapter = _adapter(payflow_simulator)
    request = _request(action=action, amount="42.10")
    step = adapter.begin(request, URLS)
    target, fields = _browser_posts_card(step)
    assert target == URLS.return_url
    assert fields["RESULT"] == "0"
    assert fields["ACCT"] == "1111"
    assert fields["SECURETOKENID"] == step.reference
    assert (fields["AMT"], fields["TRXTYPE"]) == ("42.10", trxtype)
    assert payflow_simulator.silent_posts == [(URLS.notify_url, fields)]

    result = adapter.complete(request, reference=step.reference, params=fields)

    assert result.state == ResultState.SUCCEEDED and result.ok
    assert result.reference == fields["PNREF"]
    transaction = payflow_simulator.transactions[result.reference]
    assert (transaction.trxtype, transaction.amount, transaction.acct_last4) == (
        trxtype,
        4210,
        "1111",
    )
    assert result.raw["ACCT"] == "1111"
    assert VISA not in str(result.raw)


def test_complete_twice_records_once(payflow_simulator: PayflowSimulator) -> None:
    adapter = _adapter(payflow_simulator)
    request = _request()
    step, fields = _paid_card(adapter, request)
    # The browser's return and the silent post carry the same fields.
    first = adapter.complete(request, reference=step.reference, params=fields)
    _, silent_post = payflow_simulator.silent_posts[0]
    again = adapter.complete(request, reference=step.reference, params=silent_post)
    assert first.reference == again.reference
    assert first.state == again.state == ResultState.SUCCEEDED
    assert len(payflow_simulator.transactions) == 1


def test_complete_before_the_buyer_posts_is_pending(payflow_simulator: PayflowSimulator) -> None:
    adapter = _adapter(payflow_simulator)
    request = _request()
    step = adapter.begin(request, URLS)
    result = adapter.complete(request, reference=step.reference, params={})
    assert result.state == ResultState.PENDING
    assert result.ok  # the ledger reads ok=False as a failure


def test_complete_reads_the_outcome_from_payflow_not_the_browser(
    payflow_simulator: PayflowSimulator,
) -> None:
    adapter = _adapter(payflow_simulator)
    request = _request(amount="1012.00")  # the pilot server declines it
    step, fields = _paid_card(adapter, request)
    assert fields["RESULT"] == "12"
    forged = {**fields, "RESULT": "0", "RESPMSG": "Approved"}
    result = adapter.complete(request, reference=step.reference, params=forged)
    assert result.state == ResultState.FAILED
    other = adapter.complete(
        request, reference=step.reference, params={**fields, "SECURETOKENID": "x" * 36}
    )
    assert other.state == ResultState.PENDING


@pytest.mark.parametrize(
    ("amount", "card", "result_code", "message"),
    [
        ("1012.00", {}, "12", "The card was declined"),
        ("2500.00", {}, "12", "The card was declined"),
        ("1013.00", {}, "13", "The card issuer asks for a call"),
        ("10.00", {"acct": "4111111111111112"}, "23", "The card number is not valid"),
        ("10.00", {"expdate": "0120"}, "24", "The card's expiration date"),
    ],
)
def test_a_decline_fails_with_a_clear_message(
    payflow_simulator: PayflowSimulator,
    amount: str,
    card: dict[str, str],
    result_code: str,
    message: str,
) -> None:
    adapter = _adapter(payflow_simulator)
    request = _request(amount=amount)
    step = adapter.begin(request, URLS)
    target, fields = _browser_posts_card(step, **card)
    assert target == URLS.return_url  # the ERRORURL we set
    assert fields["RESULT"] == result_code
    result = adapter.complete(request, reference=step.reference, params=fields)
    assert result.state == ResultState.FAILED and not result.ok
    assert result.message.startswith(message)


def test_a_secure_token_is_single_use(payflow_simulator: PayflowSimulator) -> None:
    adapter = _adapter(payflow_simulator)
    request = _request()
    step, first = _paid_card(adapter, request)
    _, again = _browser_posts_card(step)  # the buyer's Back button, then Pay once more
    assert again["RESULT"] == "160" and "PNREF" not in again
    result = adapter.complete(request, reference=step.reference, params=again)
    assert result.state == ResultState.SUCCEEDED
    assert result.reference == first["PNREF"]
    assert len(payflow_simulator.transactions) == 1


def test_an_expired_secure_token_fails_the_payment(payflow_simulator: PayflowSimulator) -> None:
    adapter = _adapter(payflow_simulator)
    request = _request()
    step = adapter.begin(request, URLS)
    payflow_simulator.secure_token_lifetime_seconds = 0
    target, fields = _browser_posts_card(step)
    assert (target, fields["RESULT"]) == (URLS.return_url, "162")
    result = adapter.complete(request, reference=step.reference, params=fields)
    assert result.state == ResultState.FAILED
    assert result.message.startswith("The payment form expired")
    assert adapter.abandon(request, reference=step.reference).state == ResultState.FAILED
    assert not payflow_simulator.transactions


def test_abandon_reports_nothing_charged_or_the_payment_made_after_all(
    payflow_simulator: PayflowSimulator,
) -> None:
    adapter = _adapter(payflow_simulator)
    unpaid = _request()
    step = adapter.begin(unpaid, URLS)
    left = adapter.abandon(unpaid, reference=step.reference)
    assert left.state == ResultState.FAILED
    paid = _request()
    paid_step, fields = _paid_card(adapter, paid)
    late = adapter.abandon(paid, reference=paid_step.reference)
    assert late.state == ResultState.SUCCEEDED
    assert late.reference == fields["PNREF"]


# --- capture, void, credit ----------------------------------------------------------------------


def test_partial_captures_then_partial_refunds(payflow_simulator: PayflowSimulator) -> None:
    adapter = _adapter(payflow_simulator)
    authorization = _authorized(adapter, "100.00")
    usd = {"currency": "USD"}

    first = adapter.capture(
        reference=authorization, amount=Decimal("30.00"), idempotency_key="cap-1", **usd
    )
    second = adapter.capture(
        reference=authorization, amount=Decimal("50.00"), idempotency_key="cap-2", **usd
    )
    too_much = adapter.capture(
        reference=authorization, amount=Decimal("20.01"), idempotency_key="cap-3", **usd
    )
    assert first.state == second.state == ResultState.SUCCEEDED
    assert too_much.state == ResultState.FAILED
    assert too_much.message.startswith("Payflow refused the capture")
    captured = payflow_simulator.transactions[authorization]
    assert (captured.captured, captured.closed) == (8000, False)
    sent = payflow_simulator.received[-3].body.decode()
    assert "CAPTURECOMPLETE=N" in sent and "AMT=30.00" in sent

    refund_1 = adapter.refund(
        reference=first.reference, amount=Decimal("10.00"), idempotency_key="ref-1", **usd
    )
    refund_2 = adapter.refund(
        reference=first.reference, amount=Decimal("15.00"), idempotency_key="ref-2", **usd
    )
    over = adapter.refund(
        reference=first.reference, amount=Decimal("5.01"), idempotency_key="ref-3", **usd
    )
    assert refund_1.state == refund_2.state == ResultState.SUCCEEDED
    assert refund_1.reference != refund_2.reference
    assert over.state == ResultState.FAILED and over.raw["RESULT"] == "105"
    assert over.message.startswith("Payflow refused the refund")
    assert payflow_simulator.transactions[first.reference].refunded == 2500


def test_the_last_capture_closes_the_authorization(payflow_simulator: PayflowSimulator) -> None:
    adapter = _adapter(payflow_simulator)
    authorization = _authorized(adapter, "40.00")
    for index, amount in enumerate(("15.00", "25.00")):
        result = adapter.capture(
            reference=authorization,
            amount=Decimal(amount),
            currency="USD",
            idempotency_key=f"cap-{index}",
        )
        assert result.ok
    more = adapter.capture(
        reference=authorization, amount=Decimal("1.00"), currency="USD", idempotency_key="cap-9"
    )
    assert more.state == ResultState.FAILED and more.raw["RESULT"] == "111"
    void = adapter.cancel(
        reference=authorization, amount=Decimal("0"), currency="USD", idempotency_key="void-1"
    )
    assert void.state == ResultState.FAILED and void.raw["RESULT"] == "108"


def test_authorize_then_cancel(payflow_simulator: PayflowSimulator) -> None:
    adapter = _adapter(payflow_simulator)
    authorization = _authorized(adapter)
    usd = {"amount": Decimal("100.00"), "currency": "USD"}
    void = adapter.cancel(reference=authorization, idempotency_key="void-1", **usd)
    assert void.state == ResultState.SUCCEEDED
    assert payflow_simulator.transactions[authorization].voided
    capture = adapter.capture(reference=authorization, idempotency_key="cap-1", **usd)
    assert capture.state == ResultState.FAILED
    again = adapter.cancel(reference=authorization, idempotency_key="void-2", **usd)
    assert again.state == ResultState.FAILED and again.raw["RESULT"] == "108"


def test_a_replayed_idempotency_key_answers_the_first_capture(
    payflow_simulator: PayflowSimulator,
) -> None:
    adapter = _adapter(payflow_simulator)
    authorization = _authorized(adapter)
    key = uuid.uuid4().hex
    first = adapter.capture(
        reference=authorization, amount=Decimal("10.00"), currency="USD", idempotency_key=key
    )
    again = adapter.capture(
        reference=authorization, amount=Decimal("10.00"), currency="USD", idempotency_key=key
    )
    assert again.reference == first.reference
    assert again.raw["DUPLICATE"] == "1"
    assert payflow_simulator.received[-1].headers["X-VPS-REQUEST-ID"] == key
    captures = [t for t in payflow_simulator.transactions.values() if t.trxtype == "D"]
    assert len(captures) == 1
    assert payflow_simulator.transactions[authorization].captured == 1000


def test_a_long_idempotency_key_is_hashed_to_a_request_id(
    payflow_simulator: PayflowSimulator,
) -> None:
    adapter = _adapter(payflow_simulator)
    authorization = _authorized(adapter)
    result = adapter.capture(
        reference=authorization, amount=Decimal("1.00"), currency="USD", idempotency_key="k" * 100
    )
    assert result.ok
    assert len(payflow_simulator.received[-1].headers["X-VPS-REQUEST-ID"]) == 32


def test_jpy_amounts_reach_payflow_without_decimals(payflow_simulator: PayflowSimulator) -> None:
    adapter = _adapter(payflow_simulator)
    request = _request(amount="1500", currency="JPY", action="authorize")
    step = adapter.begin(request, URLS)
    token = payflow_simulator.secure_tokens[step.reference]
    assert (token.fields["AMT"], token.fields["CURRENCY"]) == ("1500", "JPY")
    _, fields = _browser_posts_card(step)
    authorization = adapter.complete(request, reference=step.reference, params=fields).reference
    assert payflow_simulator.transactions[authorization].amount == 1500
    capture = adapter.capture(
        reference=authorization, amount=Decimal("500"), currency="JPY", idempotency_key="jpy-1"
    )
    assert capture.ok
    assert "AMT=500&" in payflow_simulator.received[-1].body.decode()
    assert payflow_simulator.transactions[capture.reference].amount == 500


# --- failures of the provider itself ------------------------------------------------------------


@pytest.mark.parametrize("fault", [Fault.HTTP_500, Fault.GARBAGE], ids=str)
def test_a_failing_provider_raises_provider_error(
    payflow_simulator: PayflowSimulator, fault: Fault
) -> None:
    adapter = _adapter(payflow_simulator)
    authorization = _authorized(adapter)
    payflow_simulator.fault = fault
    with pytest.raises(ProviderError):
        adapter.begin(_request(), URLS)
    with pytest.raises(ProviderError):
        adapter.capture(
            reference=authorization, amount=Decimal("1.00"), currency="USD", idempotency_key="c"
        )


def test_a_slow_provider_times_out(payflow_simulator: PayflowSimulator, settings) -> None:
    settings.PROVIDER_TIMEOUT_SECONDS = 0.3
    adapter = _adapter(payflow_simulator)
    payflow_simulator.fault = Fault.SLOW
    payflow_simulator.slow_seconds = 1.0
    with pytest.raises(ProviderError, match="in time"):
        adapter.begin(_request(), URLS)


# --- Express Checkout over Payflow --------------------------------------------------------------


def _express_begin(
    adapter: PaymentAdapter, simulator: PayflowSimulator, request: PaymentRequest
) -> PaymentStep:
    step = adapter.begin(request, URLS)
    assert step.kind == StepKind.REDIRECT
    assert step.reference.startswith("EC-")
    assert step.url == (
        f"{simulator.url}/cgi-bin/webscr?cmd=_express-checkout&token={step.reference}"
    )
    return step


def _buyer_on_paypal(step: PaymentStep, choice: str) -> tuple[str, dict[str, str]]:
    """The buyer sees PayPal's page and presses a button: where PayPal sends the browser."""
    page = requests.get(step.url, timeout=5)
    assert page.status_code == 200
    assert "Local simulator" in page.text
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(step.url))
    answer = requests.post(
        f"{origin}/cgi-bin/webscr",
        data={"cmd": "_express-checkout", "token": step.reference, "choice": choice},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 303
    location = answer.headers["Location"]
    query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
    return location, query


@pytest.mark.parametrize(("action", "trxtype"), [("authorize", "A"), ("charge", "S")])
def test_express_checkout_completes_after_the_buyer_approves(
    payflow_simulator: PayflowSimulator, action: str, trxtype: str
) -> None:
    adapter = _adapter(payflow_simulator)
    request = _request(action=action, amount="64.00", kind="express_checkout")
    step = _express_begin(adapter, payflow_simulator, request)
    assert "64.00 USD" in requests.get(step.url, timeout=5).text
    location, params = _buyer_on_paypal(step, "continue")
    assert location.startswith(URLS.return_url + "&")
    assert params["token"] == step.reference and params["PayerID"]

    result = adapter.complete(request, reference=step.reference, params=params)
    again = adapter.complete(request, reference=step.reference, params=params)

    assert result.state == ResultState.SUCCEEDED
    assert result.reference.startswith("P:")
    assert again.reference == result.reference and again.raw["DUPLICATE"] == "1"
    transaction = payflow_simulator.transactions[result.reference.removeprefix("P:")]
    assert (transaction.tender, transaction.trxtype, transaction.amount) == ("P", trxtype, 6400)
    assert len(payflow_simulator.transactions) == 1


def test_express_authorization_is_captured_and_refunded_as_paypal(
    payflow_simulator: PayflowSimulator,
) -> None:
    adapter = _adapter(payflow_simulator)
    request = _request(action="authorize", amount="50.00", kind="express_checkout")
    step = _express_begin(adapter, payflow_simulator, request)
    params = payflow_simulator.approve_express(step.reference)
    authorization = adapter.complete(request, reference=step.reference, params=params).reference
    capture = adapter.capture(
        reference=authorization, amount=Decimal("20.00"), currency="USD", idempotency_key="c1"
    )
    assert capture.ok and capture.reference.startswith("P:")
    assert "TENDER=P" in payflow_simulator.received[-1].body.decode()
    refund = adapter.refund(
        reference=capture.reference, amount=Decimal("20.00"), currency="USD", idempotency_key="r1"
    )
    assert refund.ok
    void = adapter.cancel(
        reference=authorization, amount=Decimal("30.00"), currency="USD", idempotency_key="v1"
    )
    assert void.ok


def test_express_checkout_canceled_or_unapproved_stays_pending(
    payflow_simulator: PayflowSimulator,
) -> None:
    adapter = _adapter(payflow_simulator)
    request = _request(kind="express_checkout")
    step = _express_begin(adapter, payflow_simulator, request)
    location, params = _buyer_on_paypal(step, "cancel")
    assert location == f"{URLS.cancel_url}?token={step.reference}"
    assert adapter.complete(request, reference=step.reference, params=params).state == (
        ResultState.PENDING
    )
    # A PayerID the browser made up: PayPal says nobody approved.
    forged = {"token": step.reference, "PayerID": "FORGED12345"}
    assert adapter.complete(request, reference=step.reference, params=forged).state == (
        ResultState.PENDING
    )
    assert adapter.abandon(request, reference=step.reference).state == ResultState.FAILED
    assert not payflow_simulator.transactions


def test_payments_pro_pays_the_same_way(payflow_simulator: PayflowSimulator) -> None:
    adapter = _adapter(payflow_simulator, IntegrationType.PAYMENTS_PRO)
    request = _request(action="charge")
    step, fields = _paid_card(adapter, request)
    assert adapter.complete(request, reference=step.reference, params=fields).ok


# --- notifications ------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"X-Signature": "forged"}])
def test_payflow_sends_no_signed_webhooks(
    payflow_simulator: PayflowSimulator, headers: dict[str, str]
) -> None:
    # Its silent post carries the return's fields unsigned: it goes through complete(), which
    # asks Payflow (see test_complete_reads_the_outcome_from_payflow_not_the_browser).
    with pytest.raises(InvalidWebhook):
        _adapter(payflow_simulator).parse_webhook(b"RESULT=0&PNREF=A1B2C3D4E5F6", headers)


def test_silent_posts_go_out_when_asked_and_never_break_the_return(
    payflow_simulator: PayflowSimulator, unreachable_url: str
) -> None:
    adapter = _adapter(payflow_simulator)
    payflow_simulator.send_silent_posts = True
    with running(PayflowSimulator()) as store:
        urls = CheckoutUrls(URLS.return_url, URLS.cancel_url, f"{store.url}/notify")
        step = adapter.begin(_request(), urls)
        _, fields = _browser_posts_card(step)
        deadline = time.monotonic() + 1
        while not store.received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [r.path for r in store.received] == ["/notify"]
        assert dict(parse_qsl(store.received[0].body.decode())) == fields
    dead = CheckoutUrls(URLS.return_url, URLS.cancel_url, f"{unreachable_url}/notify")
    _, fields = _browser_posts_card(adapter.begin(_request(), dead))
    assert fields["RESULT"] == "0"


# --- the simulator's own rules ------------------------------------------------------------------


def test_a_token_in_use_is_refused_with_161(payflow_simulator: PayflowSimulator) -> None:
    step = _adapter(payflow_simulator).begin(_request(), URLS)
    payflow_simulator.secure_tokens[step.reference].in_progress = True
    answer = payflow_simulator.post_card(step.data["SECURETOKEN"], step.reference, VISA, "1230", "")
    assert answer["RESULT"] == "161"


def test_reference_transactions_must_name_a_known_transaction_and_its_tender(
    payflow_simulator: PayflowSimulator,
) -> None:
    adapter = _adapter(payflow_simulator)
    authorization = _authorized(adapter)
    usd = {"amount": Decimal("1.00"), "currency": "USD"}
    wrong_tender = adapter.capture(reference="P:" + authorization, idempotency_key="c1", **usd)
    unknown = adapter.capture(reference="NOSUCHPNREF1", idempotency_key="c2", **usd)
    credit_an_authorization = adapter.refund(reference=authorization, idempotency_key="r1", **usd)
    assert wrong_tender.raw["RESULT"] == "2"
    assert unknown.raw["RESULT"] == "19"
    assert credit_an_authorization.raw["RESULT"] == "105"
    assert payflow_simulator.transactions[authorization].captured == 0


def test_an_expired_express_session_fails_with_a_clear_message(
    payflow_simulator: PayflowSimulator,
) -> None:
    adapter = _adapter(payflow_simulator)
    request = _request(kind="express_checkout")
    step = _express_begin(adapter, payflow_simulator, request)
    params = payflow_simulator.approve_express(step.reference)
    payflow_simulator.express_token_lifetime_seconds = 0
    result = adapter.complete(request, reference=step.reference, params=params)
    assert result.state == ResultState.FAILED
    assert result.message.startswith("The PayPal session expired")


def test_the_demo_runner_can_save_and_restore_the_state(
    payflow_simulator: PayflowSimulator,
) -> None:
    adapter = _adapter(payflow_simulator)
    authorization = _authorized(adapter)
    saved = pickle.dumps(payflow_simulator.provider_state())
    restored = PayflowSimulator()
    try:
        restored.__dict__.update(pickle.loads(saved))
        assert restored.transactions[authorization].amount == 10000
        assert restored.accounts == payflow_simulator.accounts
    finally:
        restored.server_close()


# --- through the storefront: the checkout pages, the ledger, staff capture ----------------------


def test_a_card_checkout_through_the_storefront_settles_and_captures(
    payflow_simulator: PayflowSimulator,
) -> None:
    from django.test import Client
    from django.urls import reverse

    from payments import services
    from payments.models import PaymentTransaction, State
    from tests.factories import CustomerUserFactory, UserFactory
    from tests.payments.support import make_order, offered_method

    buyer = CustomerUserFactory()
    order = make_order(customer_user=buyer, total="120.00")
    method = offered_method(
        IntegrationType.PAYFLOW_GATEWAY,
        api_base_url=payflow_simulator.url,
        credit_card_payment_action="authorize",
    )
    client = Client()
    client.force_login(buyer.user)
    started = client.post(
        reverse("payments:checkout", args=[order.number]),
        {"method": method.pk, "idempotency_key": uuid.uuid4().hex},
    )
    page = client.get(started["Location"])
    assert page.status_code == 200
    reader = _FormReader()
    reader.feed(page.content.decode())
    action, hidden = next(form for form in reader.forms if "payflowlink" in form[0])
    assert action == f"{payflow_simulator.url}/payflowlink"
    payflowlink = requests.post(
        action, data={**hidden, "ACCT": VISA, "EXPDATE": "1230", "CVV2": "123"}, timeout=5
    )
    back = _FormReader()
    back.feed(payflowlink.text)
    returned = Client().post(urlsplit(back.action).path, back.fields)  # cross-site, no cookie
    assert returned.status_code == 302

    row = PaymentTransaction.objects.get(order=order)
    assert (row.state, row.provider_reference) == (State.SUCCEEDED, back.fields["PNREF"])
    staff = UserFactory(groups=["Administrators"])
    capture = services.payment_capture(
        transaction=row, amount="70.00", actor=staff, idempotency_key=uuid.uuid4().hex
    )
    assert capture.state == State.SUCCEEDED
    assert payflow_simulator.transactions[row.provider_reference].captured == 7000


def test_an_express_checkout_through_the_storefront_settles(
    payflow_simulator: PayflowSimulator,
) -> None:
    from django.test import Client
    from django.urls import reverse

    from payments.models import PaymentTransaction, State
    from tests.factories import CustomerUserFactory, create_rule_with_methods
    from tests.payments.support import make_order

    buyer = CustomerUserFactory()
    order = make_order(customer_user=buyer, total="80.00")
    integration = create_integration(
        IntegrationType.PAYFLOW_GATEWAY, name="Payflow", api_base_url=payflow_simulator.url
    )
    express = integration.methods.get(kind="express_checkout")
    create_rule_with_methods("Payflow rule", [express])
    client = Client()
    client.force_login(buyer.user)
    started = client.post(
        reverse("payments:checkout", args=[order.number]),
        {"method": express.pk, "idempotency_key": uuid.uuid4().hex},
    )
    to_paypal = client.get(started["Location"])
    assert to_paypal.status_code == 302
    step = PaymentStep(
        kind=StepKind.REDIRECT,
        reference=PaymentTransaction.objects.get(order=order).provider_reference,
        url=to_paypal["Location"],
    )
    location, _ = _buyer_on_paypal(step, "continue")
    back = urlsplit(location)
    returned = client.get(f"{back.path}?{back.query}")
    assert returned.status_code == 302
    row = PaymentTransaction.objects.get(order=order)
    assert row.state == State.SUCCEEDED
    assert row.provider_reference.startswith("P:")
    sale = payflow_simulator.transactions[row.provider_reference.removeprefix("P:")]
    assert (sale.trxtype, sale.amount, sale.invnum) == ("S", 8000, order.number)
