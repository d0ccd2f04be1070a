"""The adapter contract every card/PayPal provider passes, over real HTTP against its simulator.

Each scenario runs for every buyer in tests/providers/buyers.py (Stripe, PayPal Express, Payflow
Gateway card and Express Checkout, Payments Pro card, Authorize.Net): the buyer plays the browser
step, the adapter does the rest. Every answer an adapter gives is checked as it comes (`Contract`):
`ok == (state != FAILED)`, str reference and message, a JSON-serialisable raw without the
integration's secrets or a full card number.
"""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal
from typing import Any

import pytest

from integrations.adapters import ADAPTERS, adapter_for
from integrations.adapters.base import (
    CheckoutUrls,
    PaymentAdapter,
    PaymentRequest,
    PaymentStep,
    ProviderError,
    ProviderResult,
    ResultState,
)
from simulators.base import Fault
from tests.factories import create_integration
from tests.providers.buyers import BUYERS, CARD_NUMBERS, Buyer, payment_request

pytestmark = pytest.mark.parametrize("buyer", BUYERS, ids=str)

URLS = CheckoutUrls(
    return_url="http://shop.test/checkout/return/c0ntract/?step=1",
    cancel_url="http://shop.test/checkout/cancel/c0ntract/",
    notify_url="http://shop.test/checkout/notify/c0ntract/",
)
SUCCEEDED, FAILED = ResultState.SUCCEEDED, ResultState.FAILED


class Contract:
    """One buyer's adapter and simulator; checks every answer the adapter gives."""

    def __init__(
        self,
        buyer: Buyer,
        simulator: Any,
        timeout_seconds: float = 5.0,
        adapter: PaymentAdapter | None = None,
    ) -> None:
        self.buyer = buyer
        self.simulator = simulator
        self.adapter: PaymentAdapter = adapter or ADAPTERS[buyer.integration_type](
            buyer.config(simulator, timeout_seconds)
        )
        self.answers: list[ProviderResult] = []

    def with_timeout(self, timeout_seconds: float) -> Contract:
        return Contract(self.buyer, self.simulator, timeout_seconds)

    def _checked(self, result: ProviderResult) -> ProviderResult:
        assert isinstance(result, ProviderResult)
        assert isinstance(result.state, ResultState)
        assert result.ok == (result.state != FAILED), result
        assert isinstance(result.reference, str) and isinstance(result.message, str)
        self._assert_nothing_secret(json.dumps(result.raw) + result.message + result.reference)
        self.answers.append(result)
        return result

    def _assert_nothing_secret(self, shown: str) -> None:
        for name, secret in self.buyer.secrets.items():
            assert secret not in shown, f"the {name} was shown"
        for number in CARD_NUMBERS:
            assert number not in shown, "a full card number was shown"

    def begin(self, request: PaymentRequest) -> PaymentStep:
        step = self.adapter.begin(request, URLS)
        assert isinstance(step, PaymentStep) and isinstance(step.reference, str)
        self._assert_nothing_secret(json.dumps(step.raw) + json.dumps(step.data) + step.url)
        return step

    def pay(self, step: PaymentStep, *, decline: bool = False) -> dict[str, str]:
        return self.buyer.pay(self.simulator, step, decline)

    def complete(
        self, request: PaymentRequest, step: PaymentStep, params: dict[str, str]
    ) -> ProviderResult:
        return self._checked(
            self.adapter.complete(request, reference=step.reference, params=params)
        )

    def paid(self, request: PaymentRequest) -> tuple[PaymentStep, ProviderResult]:
        """begin → the buyer pays → complete, which must succeed."""
        step = self.begin(request)
        result = self.complete(request, step, self.pay(step))
        assert result.state is SUCCEEDED and result.reference, result
        return step, result

    def abandon(self, request: PaymentRequest, reference: str) -> ProviderResult:
        return self._checked(self.adapter.abandon(request, reference=reference))

    def capture(self, reference: str, amount: str, key: str, currency: str = "USD") -> Any:
        return self._checked(
            self.adapter.capture(
                reference=reference, amount=Decimal(amount), currency=currency, idempotency_key=key
            )
        )

    def cancel(self, reference: str, amount: str, key: str) -> ProviderResult:
        return self._checked(
            self.adapter.cancel(
                reference=reference, amount=Decimal(amount), currency="USD", idempotency_key=key
            )
        )

    def refund(self, reference: str, amount: str, key: str) -> ProviderResult:
        return self._checked(
            self.adapter.refund(
                reference=reference, amount=Decimal(amount), currency="USD", idempotency_key=key
            )
        )


@pytest.fixture
def contract(buyer: Buyer, request: pytest.FixtureRequest) -> Contract:
    return Contract(buyer, request.getfixturevalue(buyer.simulator_fixture))


def assert_refused(result: ProviderResult) -> None:
    """A refusal is an answer (FAILED, with words a person can read), never an exception."""
    assert result.state is FAILED and not result.ok, result
    assert re.search(r"[A-Za-z]{2,} [A-Za-z]{2,}", result.message), result.message


# --- the adapter the integration row builds ----------------------------------------------------


@pytest.mark.django_db
def test_the_integration_row_builds_an_adapter_that_pays(buyer: Buyer, contract: Contract) -> None:
    """The other scenarios build the adapter from AdapterConfig; the back-office builds it from
    the stored integration (form, encrypted secrets, endpoint override) with adapter_for."""
    integration = create_integration(buyer.integration_type, api_base_url=contract.simulator.url)
    built = Contract(buyer, contract.simulator, adapter=adapter_for(integration))
    assert type(built.adapter) is type(contract.adapter) and built.adapter.browser_step
    _, result = built.paid(payment_request(buyer, "pay"))
    assert buyer.recorded(contract.simulator, result.reference) == (Decimal("100.00"), "USD")


# --- 1. authorize, capture in parts, refund in parts ------------------------------------------


def test_partial_captures_then_partial_refunds(buyer: Buyer, contract: Contract) -> None:
    _, authorization = contract.paid(payment_request(buyer, "pay"))
    first = contract.capture(authorization.reference, "30.00", "cap-1")
    assert first.state is SUCCEEDED and first.reference
    second = contract.capture(authorization.reference, "20.00", "cap-2")
    if contract.adapter.multiple_captures:
        assert second.state is SUCCEEDED
        assert buyer.captured(contract.simulator) == Decimal("50.00")
    else:
        # The first capture released the rest of the hold.
        assert_refused(second)
        assert buyer.captured(contract.simulator) == Decimal("30.00")

    refund_1 = contract.refund(first.reference, "10.00", "ref-1")
    refund_2 = contract.refund(first.reference, "10.00", "ref-2")
    assert refund_1.state is refund_2.state is SUCCEEDED
    assert refund_1.reference != refund_2.reference
    # 10.00 of the first capture remains refundable.
    assert_refused(contract.refund(first.reference, "10.01", "ref-3"))


# --- 2. authorize, void, capture refused --------------------------------------------------------


def test_a_voided_authorization_cannot_be_captured(buyer: Buyer, contract: Contract) -> None:
    _, authorization = contract.paid(payment_request(buyer, "pay"))
    void = contract.cancel(authorization.reference, "100.00", "void-1")
    assert void.state is SUCCEEDED
    assert_refused(contract.capture(authorization.reference, "100.00", "cap-1"))
    assert buyer.captured(contract.simulator) == 0


# --- 3. charge, refund in part ------------------------------------------------------------------


def test_a_charge_is_refunded_in_part(buyer: Buyer, contract: Contract) -> None:
    request = payment_request(buyer, "pay", action="charge", amount=Decimal("40.00"))
    _, sale = contract.paid(request)
    assert buyer.recorded(contract.simulator, sale.reference) == (Decimal("40.00"), "USD")
    refund = contract.refund(sale.reference, "15.00", "ref-1")
    assert refund.state is SUCCEEDED and refund.reference


# --- 4. a decline -------------------------------------------------------------------------------


def test_a_decline_fails_with_a_message_and_leaves_nothing_to_capture(
    buyer: Buyer, contract: Contract
) -> None:
    request = payment_request(buyer, "pay", amount=buyer.decline_amount or Decimal("100.00"))
    step = contract.begin(request)
    result = contract.complete(request, step, contract.pay(step, decline=True))
    assert_refused(result)
    if result.reference:
        try:
            assert_refused(contract.capture(result.reference, "1.00", "cap-1"))
        except ProviderError as error:  # PayPal: the payment id names no authorization
            assert error.permanent
    assert buyer.captured(contract.simulator) == 0


# --- 5. complete twice --------------------------------------------------------------------------


def test_complete_twice_answers_the_same_payment(buyer: Buyer, contract: Contract) -> None:
    request = payment_request(buyer, "pay")
    step = contract.begin(request)
    params = contract.pay(step)
    first = contract.complete(request, step, params)
    again = contract.complete(request, step, params)
    assert first.state is again.state is SUCCEEDED
    assert again.reference == first.reference
    assert buyer.payments(contract.simulator) == 1


def test_a_decline_completed_twice_answers_the_same(buyer: Buyer, contract: Contract) -> None:
    request = payment_request(buyer, "pay", amount=buyer.decline_amount or Decimal("100.00"))
    step = contract.begin(request)
    params = contract.pay(step, decline=True)
    first = contract.complete(request, step, params)
    again = contract.complete(request, step, params)
    assert first.state is again.state is FAILED
    assert again.reference == first.reference
    assert_refused(again)
    assert buyer.captured(contract.simulator) == 0


# --- 6. begin twice -----------------------------------------------------------------------------


def test_begin_twice_answers_the_same_step(buyer: Buyer, contract: Contract) -> None:
    request = payment_request(buyer, "pay")
    first = contract.begin(request)
    again = contract.begin(request)
    assert (again.kind, again.reference, again.url, again.data) == (
        first.kind,
        first.reference,
        first.url,
        first.data,
    )
    # The buyer pays on the page that reloaded: one payment.
    assert contract.complete(request, again, contract.pay(again)).state is SUCCEEDED
    assert buyer.payments(contract.simulator) == 1


# --- 7. abandon ---------------------------------------------------------------------------------


def test_abandon_before_paying_fails(buyer: Buyer, contract: Contract) -> None:
    request = payment_request(buyer, "pay")
    step = contract.begin(request)
    assert_refused(contract.abandon(request, step.reference))
    assert buyer.payments(contract.simulator) == 0


def test_abandon_after_paying_reports_the_payment(buyer: Buyer, contract: Contract) -> None:
    request = payment_request(buyer, "pay")
    step = contract.begin(request)
    params = contract.pay(step)
    if buyer.browser_pays:
        # The buyer paid and the return never reached us: the payment is the outcome.
        abandoned = contract.abandon(request, step.reference)
        assert abandoned.state is SUCCEEDED
        assert abandoned.reference == contract.complete(request, step, params).reference
        return
    # Approving is not paying: only our complete() takes the money, and after abandon it never
    # runs. Nothing is charged.
    assert_refused(contract.abandon(request, step.reference))
    assert buyer.payments(contract.simulator) == 0

    paid_request = payment_request(buyer, "paid")
    paid_step, paid = contract.paid(paid_request)
    # The reference the ledger row holds: begin's, or complete's when begin had none.
    abandoned = contract.abandon(paid_request, paid_step.reference or paid.reference)
    if buyer.abandon_reads_back:
        assert abandoned.state is SUCCEEDED and abandoned.reference == paid.reference
    else:
        assert abandoned.state is FAILED


# --- 8. a capture that fails in transit, retried with the same key ----------------------------


class AnswerCounter:
    """Counts the simulator's finished answers (its `after_request` hook), to wait for late ones."""

    def __init__(self, simulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.simulator = simulator
        self.answered = 0
        self.received_before = len(simulator.received)
        monkeypatch.setattr(simulator, "after_request", self._count)

    def _count(self) -> None:
        self.answered += 1

    def wait_for_every_answer(self) -> None:
        """Until the provider has answered every request since, the ones we gave up on too."""
        deadline = time.monotonic() + self.simulator.slow_seconds + 2.0
        while self.answered < len(self.simulator.received) - self.received_before:
            assert time.monotonic() < deadline, "the simulator never answered"
            time.sleep(0.02)


@pytest.mark.parametrize(
    ("fault", "retry_at_once"),
    [
        pytest.param(Fault.SLOW, False, id="slow-retry-after-it-landed"),
        pytest.param(Fault.SLOW, True, id="slow-retry-while-in-flight"),
        pytest.param(Fault.HTTP_500, False, id="http-500"),
        pytest.param(Fault.GARBAGE, False, id="garbage"),
        pytest.param(Fault.DROP, False, id="dropped-before-acting"),
        pytest.param(Fault.REFUSED, False, id="connection-refused"),
        pytest.param(Fault.RATE_LIMITED, False, id="429-retry-after"),
        pytest.param(Fault.RESET_MID_BODY, False, id="reset-mid-body-after-acting"),
    ],
)
def test_a_failed_capture_retried_with_its_key_captures_once(
    buyer: Buyer,
    contract: Contract,
    fault: Fault,
    retry_at_once: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, authorization = contract.paid(payment_request(buyer, "pay"))
    simulator = contract.simulator
    simulator.slow_seconds = 0.5
    simulator.fault = fault
    if fault is Fault.SLOW:
        # A slow provider still acts on the request we stopped waiting for.
        late = AnswerCounter(simulator, monkeypatch)
    with pytest.raises(ProviderError):
        contract.with_timeout(0.1).capture(authorization.reference, "30.00", "cap-1")
    simulator.fault = None
    if fault is Fault.SLOW and not retry_at_once:
        late.wait_for_every_answer()
    retry = contract.capture(authorization.reference, "30.00", "cap-1")
    assert retry.state is SUCCEEDED
    if fault is Fault.SLOW:
        late.wait_for_every_answer()
    assert buyer.captured(simulator) == Decimal("30.00")


# --- 9. currencies ------------------------------------------------------------------------------


def test_a_zero_decimal_currency_reaches_the_provider_whole(
    buyer: Buyer, contract: Contract
) -> None:
    # Each simulator refuses decimals in JPY as its provider does, so a recorded amount was sent
    # without them.
    request = payment_request(buyer, "pay", amount=Decimal("1500"), currency="JPY")
    _, authorization = contract.paid(request)
    assert buyer.recorded(contract.simulator, authorization.reference) == (Decimal(1500), "JPY")
    capture = contract.capture(authorization.reference, "500", "cap-1", currency="JPY")
    assert capture.state is SUCCEEDED
    assert buyer.captured(contract.simulator) == Decimal(500)


def test_a_three_decimal_currency_reaches_the_provider_or_is_refused(
    buyer: Buyer, contract: Contract
) -> None:
    amount = buyer.three_decimal_amount
    if amount is None:
        request = payment_request(buyer, "pay", amount=Decimal("12.345"), currency="BHD")
        try:
            step = contract.begin(request)
        except ProviderError as error:
            # Refused before the buyer sees a payment page, in words, and for good.
            assert error.permanent, error
            assert re.search(r"(?i)currency|amount", str(error)), error
        else:
            assert_refused(contract.complete(request, step, contract.pay(step)))
        assert buyer.payments(contract.simulator) == 0
        return
    request = payment_request(buyer, "pay", amount=amount, currency="BHD")
    _, authorization = contract.paid(request)
    assert buyer.recorded(contract.simulator, authorization.reference) == (amount, "BHD")
    capture = contract.capture(authorization.reference, "10.010", "cap-1", currency="BHD")
    assert capture.state is SUCCEEDED
    assert buyer.captured(contract.simulator) == Decimal("10.010")


# --- 10. well-formed answers ----------------------------------------------------------------------


def test_every_answer_is_well_formed_and_shows_no_secret(buyer: Buyer, contract: Contract) -> None:
    """`Contract` checks each answer; this walks one payment through every kind of answer."""
    declined_request = payment_request(
        buyer, "declined", amount=buyer.decline_amount or Decimal("100.00")
    )
    declined_step = contract.begin(declined_request)
    contract.complete(declined_request, declined_step, contract.pay(declined_step, decline=True))

    request = payment_request(buyer, "pay")
    step = contract.begin(request)
    contract.complete(request, step, {})  # the buyer has not finished
    contract.complete(request, step, contract.pay(step))
    reference = contract.answers[-1].reference
    capture = contract.capture(reference, "60.00", "cap-1")
    contract.refund(capture.reference, "5.00", "ref-1")
    contract.refund(capture.reference, "500.00", "ref-2")  # refused
    contract.cancel(reference, "40.00", "void-1")

    states = [answer.state for answer in contract.answers]
    assert states[0] is FAILED and states[1] is not FAILED and states[2] is SUCCEEDED
    assert states[-2] is FAILED
    assert len(states) == 7
