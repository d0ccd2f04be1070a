"""`inquire()` over every card/PayPal adapter against its simulator: reads, never acts.

Each scenario makes an operation, forgets its answer (as a timeout would), and asks `inquire()`
what the provider holds. An adapter may say it cannot tell (PENDING) where its API has no lookup
(Payflow: captures, voids, credits, and an Express Checkout payment whose answer was lost), but
it never guesses, and the provider's records are the same before and after the question.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from integrations.adapters.base import (
    Inquiry,
    Operation,
    PaymentRequest,
    ProviderResult,
    ResultState,
)
from integrations.types import IntegrationType
from tests.providers.buyers import BUYERS, Buyer, payment_request
from tests.providers.test_contract import Contract

pytestmark = pytest.mark.parametrize("buyer", BUYERS, ids=str)

SUCCEEDED, FAILED, PENDING = ResultState.SUCCEEDED, ResultState.FAILED, ResultState.PENDING
MONEY_RECORDS = (
    "payment_intents",
    "charges",
    "refunds",
    "resources",
    "payments",
    "transactions",
    "secure_tokens",
)
PAYFLOW = (IntegrationType.PAYFLOW_GATEWAY, IntegrationType.PAYMENTS_PRO)
# Operations Payflow has no way to look up: it must say it cannot tell.
PAYFLOW_CANNOT_TELL = frozenset({Operation.CAPTURE, Operation.CANCEL, Operation.REFUND})


@pytest.fixture
def contract(buyer: Buyer, request: pytest.FixtureRequest) -> Contract:
    return Contract(buyer, request.getfixturevalue(buyer.simulator_fixture))


def ask(
    contract: Contract,
    request: PaymentRequest,
    operation: Operation,
    reference: str,
    *,
    amount: str = "100.00",
    key: str | None = None,
    answer_lost: bool = True,
    known: tuple[str, ...] = (),
) -> ProviderResult:
    """inquire(), checking that the provider's records did not change while it answered."""
    before = _records(contract.simulator)
    result = contract.adapter.inquire(
        Inquiry(
            operation=operation,
            reference=reference,
            amount=Decimal(amount),
            currency=request.currency,
            idempotency_key=key or request.idempotency_key,
            order_number=request.order_number,
            method_kind=request.method_kind,
            answer_lost=answer_lost,
            known_references=known,
        )
    )
    assert _records(contract.simulator) == before, "inquire() changed the provider's records"
    assert result.ok == (result.state is not FAILED), result
    return result


def _records(simulator: Any) -> str:
    """What the provider holds about money (not its request-ID, token or log bookkeeping)."""
    state = simulator.provider_state()
    return repr({name: state[name] for name in MONEY_RECORDS if name in state})


def expects(buyer: Buyer, operation: Operation, state: ResultState) -> ResultState:
    cannot_tell = buyer.integration_type in PAYFLOW and operation in PAYFLOW_CANNOT_TELL
    return PENDING if cannot_tell else state


def test_a_paid_checkout_whose_answer_was_lost_is_reported(
    buyer: Buyer, contract: Contract
) -> None:
    request = payment_request(buyer, "pay")
    step = contract.begin(request)
    paid = contract.complete(request, step, contract.pay(step))
    result = ask(contract, request, Operation.AUTHORIZE, step.reference)
    if buyer.integration_type in PAYFLOW and buyer.method_kind == "express_checkout":
        assert result.state is PENDING  # Payflow finds an Express payment by its PNREF only
        return
    assert result.state is SUCCEEDED, result
    assert result.reference == paid.reference
    assert buyer.payments(contract.simulator) == 1


def test_a_checkout_the_buyer_never_finished_is_never_reported_paid(
    buyer: Buyer, contract: Contract
) -> None:
    request = payment_request(buyer, "pay")
    step = contract.begin(request)
    result = ask(contract, request, Operation.AUTHORIZE, step.reference, answer_lost=False)
    if buyer.browser_pays:
        # The buyer's page could still pay (Stripe.js, a live secure token): not over yet.
        assert result.state is PENDING
    else:
        # Only our completing call takes the money, and it was never sent.
        assert result.state is FAILED and result.message
    assert buyer.payments(contract.simulator) == 0


def test_an_approval_we_never_completed_took_no_money(buyer: Buyer, contract: Contract) -> None:
    if buyer.browser_pays:
        pytest.skip("the browser step itself pays: covered by the lost-answer scenario")
    request = payment_request(buyer, "pay")
    step = contract.begin(request)
    contract.pay(step)  # approved at PayPal / card tokenized, and the buyer never came back
    result = ask(contract, request, Operation.AUTHORIZE, step.reference, answer_lost=False)
    assert result.state is FAILED
    assert buyer.payments(contract.simulator) == 0


def test_a_capture_whose_answer_was_lost_is_found_and_one_never_made_is_not(
    buyer: Buyer, contract: Contract
) -> None:
    request = payment_request(buyer, "pay")
    _, authorization = contract.paid(request)
    missing = ask(contract, request, Operation.CAPTURE, authorization.reference, key="cap-1")
    assert missing.state is expects(buyer, Operation.CAPTURE, FAILED), missing

    capture = contract.capture(authorization.reference, "40.00", "cap-1")
    found = ask(
        contract, request, Operation.CAPTURE, authorization.reference, amount="40.00", key="cap-1"
    )
    assert found.state is expects(buyer, Operation.CAPTURE, SUCCEEDED), found
    if found.state is SUCCEEDED:
        assert found.reference == capture.reference
    if contract.adapter.multiple_captures and found.state is SUCCEEDED:
        # A second capture of the same amount whose answer was lost: the first is ours already.
        second = contract.capture(authorization.reference, "40.00", "cap-2")
        again = ask(
            contract,
            request,
            Operation.CAPTURE,
            authorization.reference,
            amount="40.00",
            key="cap-2",
            known=(capture.reference,),
        )
        assert (again.state, again.reference) == (SUCCEEDED, second.reference)


def test_a_void_whose_answer_was_lost_is_found(buyer: Buyer, contract: Contract) -> None:
    request = payment_request(buyer, "pay")
    _, authorization = contract.paid(request)
    missing = ask(contract, request, Operation.CANCEL, authorization.reference, key="void-1")
    assert missing.state is expects(buyer, Operation.CANCEL, FAILED), missing
    contract.cancel(authorization.reference, "100.00", "void-1")
    found = ask(contract, request, Operation.CANCEL, authorization.reference, key="void-1")
    assert found.state is expects(buyer, Operation.CANCEL, SUCCEEDED), found


def test_a_refund_whose_answer_was_lost_is_found(buyer: Buyer, contract: Contract) -> None:
    request = payment_request(buyer, "pay", action="charge")
    _, sale = contract.paid(request)
    refund = contract.refund(sale.reference, "15.00", "ref-1")
    found = ask(contract, request, Operation.REFUND, sale.reference, amount="15.00", key="ref-1")
    assert found.state is expects(buyer, Operation.REFUND, SUCCEEDED), found
    if found.state is SUCCEEDED:
        assert found.reference == refund.reference
