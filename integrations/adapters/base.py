"""What every provider adapter shares: plain data in, plain data out, no ORM."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Protocol


class Operation(enum.StrEnum):
    CHECK_CREDENTIALS = "check_credentials"
    AUTHORIZE = "authorize"
    CHARGE = "charge"
    CAPTURE = "capture"
    CANCEL = "cancel"
    REFUND = "refund"
    # An offline order placement (money order, payment terms): nothing leaves our server.
    PURCHASE = "purchase"


@dataclass(frozen=True)
class AdapterConfig:
    """Everything an adapter needs, copied out of the integration row for one call."""

    settings: dict[str, object]
    secrets: dict[str, str] = field(repr=False)
    sandbox: bool
    timeout_seconds: float
    # A local simulator's base URL; always None in a production deployment.
    api_base_url: str | None = None


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str


@dataclass(frozen=True)
class BillingData:
    name: str = ""
    email: str = ""
    street: str = ""
    city: str = ""
    postal_code: str = ""
    region: str = ""
    country: str = ""


@dataclass(frozen=True)
class PaymentRequest:
    """One checkout payment, as plain data. The amount is a Decimal in `currency`'s exponent."""

    order_number: str
    amount: Decimal
    currency: str
    idempotency_key: str
    method_identifier: str
    payment_action: str
    # The method's kind within its integration (e.g. "credit_card", "express_checkout").
    method_kind: str = ""
    customer_name: str = ""
    billing: BillingData = field(default_factory=BillingData)
    payment_term: str = ""  # the customer's term label, for invoices


@dataclass(frozen=True)
class Inquiry:
    """One of our operations whose outcome we never learnt, for `inquire()` to look up.

    `reference` is the provider's id the operation acted on: for a checkout, the payment `begin()`
    started (or "" if none); for a capture, cancel or refund, the payment it was made against.
    """

    operation: Operation  # AUTHORIZE, CHARGE, CAPTURE, CANCEL or REFUND
    reference: str
    amount: Decimal
    currency: str
    idempotency_key: str
    order_number: str = ""
    method_kind: str = ""
    # True when our call's answer was lost (it may have reached the provider); False for a
    # checkout still waiting for the buyer, whose completing call we have not made.
    answer_lost: bool = True
    # The provider's ids of our other rows of this operation against the same payment (earlier
    # partial captures or refunds): a lookup that matches by amount must not take one of them.
    known_references: tuple[str, ...] = ()

    def payment_request(self) -> PaymentRequest:
        """The checkout request being looked up, as far as a lookup needs it."""
        return PaymentRequest(
            order_number=self.order_number,
            amount=self.amount,
            currency=self.currency,
            idempotency_key=self.idempotency_key,
            method_identifier="",
            payment_action=self.operation,
            method_kind=self.method_kind,
        )


class ResultState(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # Accepted but not settled: an offline payment awaiting the money, an async provider answer.
    PENDING = "pending"


@dataclass(frozen=True)
class ProviderResult:
    """The provider's answer. A decline is ok=False with state FAILED, never an exception."""

    ok: bool
    state: ResultState
    reference: str = ""
    message: str = ""
    # The provider's answer with secrets and card data removed: it goes into the ledger.
    raw: dict[str, Any] = field(default_factory=dict)


class StepKind(enum.StrEnum):
    """How the buyer's browser takes part in a card or PayPal payment."""

    # Send the browser to `PaymentStep.url` (PayPal's approval page, Express Checkout over
    # Payflow); the provider sends it back to `CheckoutUrls.return_url` with its query string.
    REDIRECT = "redirect"
    # The page loads Stripe.js from `data["script_url"]` with `data["publishable_key"]` and
    # confirms the PaymentIntent `data["client_secret"]` in the browser; Stripe then sends the
    # browser to `return_url?payment_intent=…`.
    STRIPE_JS = "stripe_js"
    # The page loads Accept.js from `data["script_url"]` with `data["api_login_id"]` and
    # `data["client_key"]`; the browser posts only the opaque data (`dataDescriptor`,
    # `dataValue`) to `return_url`.
    ACCEPT_JS = "accept_js"
    # A form whose card fields post straight to the provider at `url` with the hidden fields in
    # `data` (Payflow's secure token and transparent redirect); the provider posts the result
    # back to `return_url` (and server to server to `notify_url`).
    HOSTED_FORM = "hosted_form"


@dataclass(frozen=True)
class CheckoutUrls:
    """Absolute URLs of our site that the provider or the browser comes back to."""

    return_url: str
    cancel_url: str
    # Server-to-server notifications about this one payment (Payflow's silent post).
    notify_url: str


@dataclass(frozen=True)
class PaymentStep:
    """What the buyer's browser must do to pay; `begin()` answers it, `complete()` follows."""

    kind: StepKind
    # The provider's id for the payment being started (PaymentIntent, PayPal payment, secure
    # token id); it is stored on the ledger row and handed back to `complete()`.
    reference: str = ""
    url: str = ""
    # Values the page needs; public by design (publishable keys, client secrets of one
    # PaymentIntent, secure tokens), never the integration's secrets.
    data: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookEvent:
    """A verified provider notification about one payment, as plain data."""

    id: str  # the provider's event id: each is applied once
    type: str  # the provider's event type, e.g. "payment_intent.succeeded"
    # The provider reference our ledger holds for the payment (PaymentIntent id, PayPal
    # payment/authorization/sale id, Authorize.Net transId); "" when the event is about none.
    reference: str = ""
    # What the event says happened to that payment; None for events that settle nothing.
    state: ResultState | None = None
    message: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    # When the event settles a payment whose later capture/refund need another id than
    # `reference` (PayPal: the authorization or sale of a payment), that id.
    settled_reference: str = ""
    # The order number the provider echoes, for a payment whose reference we never learnt (its
    # answer was lost): an event may then settle the one open checkout payment of that order.
    order_number: str = ""


class InvalidWebhook(Exception):
    """A webhook whose signature is missing or wrong, or whose body cannot be read: answer 400."""


class ProviderError(Exception):
    """The provider could not be reached or answered nonsense (not a decline)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class PaymentNotTaken(ProviderError):
    """A payment the provider can never take (a currency no account of it is set up for), refused
    by the adapter before any call: the message is for the buyer; nothing reached the provider."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class EnvironmentRefused(Exception):
    """The deployment forbids the integration's environment (test credentials in production, or
    live ones in a sandbox): no adapter is built, so nothing can reach the provider."""


class UnsupportedOperation(Exception):
    """An operation the adapter does not declare: a programming error, services check first."""


class PaymentAdapter(Protocol):
    supports: ClassVar[frozenset[Operation]]
    # Whether several partial captures may follow one authorization (else the first releases
    # the rest of the hold, as Stripe and Authorize.Net do).
    multiple_captures: ClassVar[bool]
    browser_step: ClassVar[bool]
    method_kinds: ClassVar[frozenset[str] | None]
    refused_currencies: ClassVar[frozenset[str]]
    # Whether reconciliation may call abandon() on a checkout the buyer never finished: only
    # where abandon reads the payment back and voids nothing that was paid (Stripe's cancel).
    reconcile_abandons: ClassVar[bool]

    def __init__(self, config: AdapterConfig) -> None: ...

    def check_credentials(self) -> ConnectionCheck:
        """Make one harmless call with the stored credentials and report the provider's answer."""
        ...

    def begin(self, request: PaymentRequest, urls: CheckoutUrls) -> PaymentStep:
        """Start a browser payment (AUTHORIZE or CHARGE per `request.payment_action`).

        Idempotent on `request.idempotency_key`: called again with the same request (the buyer
        reloads the payment page) it answers the same step for the same provider payment.
        """
        ...

    def complete(
        self, request: PaymentRequest, *, reference: str, params: dict[str, str]
    ) -> ProviderResult:
        """Finish the payment `begin()` started, from what the browser brought back (`params`,
        the return URL's query or form fields), and report what the provider says happened.

        Never trusts `params` alone: the outcome is read from the provider (retrieve, execute,
        inquiry) or is the answer to the transaction call itself. The result's `reference` is
        what capture, cancel and refund later receive. PENDING means the buyer has not finished.
        Idempotent: called again for a payment already finished, it reports the same outcome.
        """
        ...

    def abandon(self, request: PaymentRequest, *, reference: str) -> ProviderResult:
        """The buyer gave up on this payment: make sure it can no longer be completed.

        Answers FAILED when nothing was paid; SUCCEEDED (with the reference) when the provider
        says the payment went through after all.
        """
        ...

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        """Verify the signature over the raw body first (InvalidWebhook when it fails)."""
        ...

    def may_complete_after_abandon(self, request: PaymentRequest) -> bool:
        """Whether the buyer's browser can still make the provider take this payment after
        `abandon()` (a token the provider cannot revoke), so a late result must be heard."""
        ...

    def inquire(self, inquiry: Inquiry) -> ProviderResult:
        """Report what the provider holds for one of our operations, without acting on it.

        Read-only: never executes, charges, captures or voids. SUCCEEDED or FAILED only when the
        provider says so; PENDING when it cannot tell (reconciliation asks again later).
        """
        ...

    def purchase(self, request: PaymentRequest) -> ProviderResult: ...

    def authorize(self, request: PaymentRequest) -> ProviderResult: ...

    def charge(self, request: PaymentRequest) -> ProviderResult: ...

    def capture(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult: ...

    def cancel(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult: ...

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult: ...


class AdapterBase:
    """Refuses every money operation; an adapter overrides those it lists in `supports`."""

    supports: ClassVar[frozenset[Operation]] = frozenset()
    multiple_captures: ClassVar[bool] = False
    # Whether AUTHORIZE/CHARGE at checkout go through the buyer's browser (begin → complete)
    # rather than one server call (authorize()/charge()).
    browser_step: ClassVar[bool] = False
    # The method kinds (PaymentMethod.kind) this adapter can take payments for; None for all.
    method_kinds: ClassVar[frozenset[str] | None] = None
    # Currencies (upper case) the provider never takes, whatever the account: rules do not offer
    # its methods in them, and begin() refuses them (PaymentNotTaken) before the buyer's step.
    refused_currencies: ClassVar[frozenset[str]] = frozenset()
    reconcile_abandons: ClassVar[bool] = False

    def __init__(self, config: AdapterConfig) -> None:
        self.config = config

    def check_credentials(self) -> ConnectionCheck:
        raise UnsupportedOperation(Operation.CHECK_CREDENTIALS)

    def begin(self, request: PaymentRequest, urls: CheckoutUrls) -> PaymentStep:
        raise UnsupportedOperation(request.payment_action)

    def complete(
        self, request: PaymentRequest, *, reference: str, params: dict[str, str]
    ) -> ProviderResult:
        raise UnsupportedOperation(request.payment_action)

    def abandon(self, request: PaymentRequest, *, reference: str) -> ProviderResult:
        return ProviderResult(
            ok=False,
            state=ResultState.FAILED,
            reference=reference,
            message="The buyer left the payment page; nothing was charged.",
        )

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        raise InvalidWebhook("This provider sends no webhooks we accept.")

    def may_complete_after_abandon(self, request: PaymentRequest) -> bool:
        return False

    def inquire(self, inquiry: Inquiry) -> ProviderResult:
        return cannot_tell(inquiry, "This provider offers no way to look the payment up.")

    def purchase(self, request: PaymentRequest) -> ProviderResult:
        raise UnsupportedOperation(Operation.PURCHASE)

    def authorize(self, request: PaymentRequest) -> ProviderResult:
        raise UnsupportedOperation(Operation.AUTHORIZE)

    def charge(self, request: PaymentRequest) -> ProviderResult:
        raise UnsupportedOperation(Operation.CHARGE)

    def capture(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        raise UnsupportedOperation(Operation.CAPTURE)

    def cancel(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        raise UnsupportedOperation(Operation.CANCEL)

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ProviderResult:
        raise UnsupportedOperation(Operation.REFUND)


class BrowserPaymentAdapter(AdapterBase):
    """A card or PayPal provider: the buyer pays in the browser; staff capture, cancel, refund."""

    supports: ClassVar[frozenset[Operation]] = frozenset(
        {
            Operation.CHECK_CREDENTIALS,
            Operation.AUTHORIZE,
            Operation.CHARGE,
            Operation.CAPTURE,
            Operation.CANCEL,
            Operation.REFUND,
        }
    )
    browser_step: ClassVar[bool] = True


def cannot_tell(inquiry: Inquiry, why: str) -> ProviderResult:
    """`inquire()`'s answer when the provider cannot say what happened: never a guess."""
    return ProviderResult(
        ok=True,
        state=ResultState.PENDING,
        reference=inquiry.reference,
        message=f"Cannot tell yet: {why}",
    )


def unreachable(error: BaseException | str) -> ConnectionCheck:
    return ConnectionCheck(ok=False, message=f"Could not reach the provider: {error}")
