"""Card and PayPal checkouts, whose payment happens in the buyer's browser between two calls.

`checkout_submit` writes the pending ledger row and starts the provider's step (`begin`). The
buyer's browser then pays on the provider's terms (Stripe.js, Accept.js, a form posting straight
to Payflow, PayPal's approval page) and comes back; `checkout_complete` asks the provider what
happened and settles the row. The same row may also be settled by a webhook (see `webhooks`)
or given up by the buyer (`checkout_abandon`); whichever comes first wins under the row lock,
and the others find the row settled and change nothing.
"""

from __future__ import annotations

import logging

from django.core import signing
from django.db import transaction as db_transaction
from django.http import HttpRequest
from django.urls import reverse

from integrations.adapters import adapter_class_for, adapter_for
from integrations.adapters.base import (
    CheckoutUrls,
    PaymentAdapter,
    PaymentRequest,
    PaymentStep,
    ProviderError,
    ResultState,
)
from integrations.types import Environment
from payments import ledger
from payments.checkout_services import (
    CHECKOUT_OPERATIONS,
    METHOD_UNAVAILABLE,
    begin_refusal,
    checkout_settle,
    request_of,
)
from payments.ledger import PaymentError
from payments.models import PaymentTransaction, State

logger = logging.getLogger(__name__)

_TOKEN_SALT = "payments.browser-checkout"

# Field names that carry a card number or security code in the forms providers take. A request
# to our server carrying one means a page was built wrong: refuse it rather than touch the data.
CARD_FIELDS = frozenset(
    {"ACCT", "CVV2", "EXPDATE", "cardNumber", "cardCode", "card_number", "cvc", "cvv", "number"}
)


def return_token(row: PaymentTransaction) -> str:
    """The signed, unguessable part of the URLs the provider sends the buyer back to.

    The return may arrive without the buyer's session cookie (a cross-site POST from the
    provider), so the URL itself names the transaction; the provider is still asked.
    """
    return signing.dumps(row.pk, salt=_TOKEN_SALT)


def checkout_urls(request: HttpRequest, row: PaymentTransaction) -> CheckoutUrls:
    """The absolute addresses the provider and the browser come back to for `row`."""
    token = return_token(row)

    def absolute(name: str) -> str:
        return request.build_absolute_uri(reverse(name, args=[token]))

    return CheckoutUrls(
        return_url=absolute("payments:checkout_return"),
        cancel_url=absolute("payments:checkout_cancel"),
        notify_url=absolute("payments:checkout_notify"),
    )


def row_for_token(token: str) -> PaymentTransaction | None:
    try:
        pk = signing.loads(token, salt=_TOKEN_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(pk, int):
        return None
    return (
        PaymentTransaction.objects.select_related("order", "method__integration")
        .filter(pk=pk, operation__in=CHECKOUT_OPERATIONS)
        .first()
    )


def carries_card_data(fields: dict[str, str]) -> bool:
    """Whether `fields` hold a card number or security code (the last four digits are fine)."""
    for name, value in fields.items():
        if name in CARD_FIELDS and len(value.strip()) > 4:
            return True
        digits = value.replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and digits.isdigit() and _luhn_valid(digits):
            return True
    return False


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def is_browser_payment(row: PaymentTransaction) -> bool:
    adapter_class = adapter_class_for(row.provider_type)
    return bool(adapter_class and adapter_class.browser_step)


def awaits_buyer(row: PaymentTransaction) -> bool:
    """A browser payment that was started and that the buyer has not finished or given up."""
    return (
        row.operation in CHECKOUT_OPERATIONS
        and row.state == State.PENDING
        and is_browser_payment(row)
    )


def checkout_step(*, row: PaymentTransaction, urls: CheckoutUrls) -> PaymentStep:
    """The step the payment page renders for `row`, asked again of the provider (idempotent)."""
    if not awaits_buyer(row):
        raise PaymentError("This payment is no longer waiting for you.")
    integration = row.method.integration
    usable = integration.is_active and integration.allowed_in_deployment()
    if integration.is_deleted or not usable:
        raise PaymentError(METHOD_UNAVAILABLE)
    try:
        return adapter_for(integration).begin(request_of(row), urls)
    except ProviderError as error:
        raise PaymentError(begin_refusal(error)) from error


@db_transaction.atomic
def checkout_complete(*, row: PaymentTransaction, params: dict[str, str]) -> PaymentTransaction:
    """Settle `row` from what the buyer's browser brought back, as the provider reports it."""
    if carries_card_data(params):
        raise PaymentError("Card details must never be sent to this site; nothing was recorded.")
    row = ledger.lock(row)
    if not row.method.integration.allowed_in_deployment():
        return _settle_forbidden(row)
    adapter = adapter_for(row.method.integration)
    request = request_of(row)
    if row.state == State.FAILED and adapter.may_complete_after_abandon(request):
        _hear_late_payment(row, adapter, request, params)
    if row.state != State.PENDING:
        return row  # settled already: by an earlier return, a silent post or a webhook
    ledger.record_answer(
        row, lambda: adapter.complete(request, reference=row.provider_reference, params=params)
    )
    checkout_settle(row)
    return row


def _hear_late_payment(
    row: PaymentTransaction,
    adapter: PaymentAdapter,
    request: PaymentRequest,
    params: dict[str, str],
) -> None:
    """A payment given up (or declined) that the provider took after all is recorded, not lost.

    Only for providers whose page can still take the card without us (see the adapter); the
    order may then be paid twice, which staff see in its history and can refund.
    """
    try:
        result = adapter.complete(request, reference=row.provider_reference, params=params)
    except ProviderError as error:
        logger.warning("Could not check a late result for transaction %s: %s", row.pk, error)
        return
    if result.state != ResultState.SUCCEEDED:
        return
    logger.warning("Transaction %s was paid after the buyer had left it", row.pk)
    row.state = State.SUCCEEDED
    row.provider_reference = (result.reference or row.provider_reference)[:255]
    row.response = result.raw
    row.message = (
        "Paid at the provider after the buyer had left this payment: "
        "check the order for a second payment."
    )
    checkout_settle(row)


@db_transaction.atomic
def checkout_abandon(*, row: PaymentTransaction, why: str = "") -> PaymentTransaction:
    """The buyer gave up on `row`: the provider makes sure it cannot complete later.

    `why`, when given, replaces the provider's "the buyer left" on a row that ends failed (the
    payment was given up for another reason, e.g. its integration was deleted).
    """
    row = ledger.lock(row)
    if row.state != State.PENDING:
        return row
    if not row.method.integration.allowed_in_deployment():
        return _settle_forbidden(row)
    adapter = adapter_for(row.method.integration)
    request = request_of(row)
    ledger.record_answer(row, lambda: adapter.abandon(request, reference=row.provider_reference))
    if why and row.state == State.FAILED:
        row.message = why[:500]
    checkout_settle(row)
    return row


def _settle_forbidden(row: PaymentTransaction) -> PaymentTransaction:
    """A payment started with an integration this deployment forbids; the provider is not asked.

    A sandbox one in production fails: test credentials never take real money, and the buyer
    may then pay another way. A live one in a sandbox deployment may have taken real money, so
    it is left as it is, for reconciliation to flag to a person.
    """
    if row.method.integration.environment != Environment.SANDBOX or row.state != State.PENDING:
        return row
    row.state = State.FAILED
    row.message = (
        "This payment was started in test mode, which a production deployment never uses: "
        "no real money was taken. Please select a different payment method."
    )
    checkout_settle(row)
    return row
