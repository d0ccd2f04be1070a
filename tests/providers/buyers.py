"""The buyer's part of each card/PayPal provider's browser step, played against its simulator.

One `Buyer` per provider (and method kind) that tests/providers/test_contract.py holds to the
adapter contract: how to build the adapter, how to pay (or be declined) in the browser, and how
to read back from the simulator what the provider recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests

from integrations.adapters.base import AdapterConfig, BillingData, PaymentRequest, PaymentStep
from integrations.types import IntegrationType
from payments.money import from_minor_units
from simulators.authorize_net import AuthorizeNetSimulator
from simulators.payflow import PayflowSimulator
from simulators.paypal import PayPalSimulator
from simulators.stripe import StripeSimulator
from tests.factories import VALID_SETTINGS

STRIPE_CARD = "4242424242424242"
STRIPE_DECLINED_CARD = "4000000000000002"
PAYFLOW_CARD = "4111111111111111"
AUTHORIZE_NET_CARD = "4111111111111111"
AUTHORIZE_NET_DECLINED_CARD = "4222222222222"
# Every full card number a buyer types: none may reach a result.
CARD_NUMBERS = frozenset(
    {
        STRIPE_CARD,
        STRIPE_DECLINED_CARD,
        PAYFLOW_CARD,
        AUTHORIZE_NET_CARD,
        AUTHORIZE_NET_DECLINED_CARD,
    }
)
# The Payflow pilot server declines these whole amounts (RESULT 12) whatever the card.
PAYFLOW_DECLINED_AMOUNT = Decimal("1012.00")

Pay = Callable[[Any, PaymentStep, bool], dict[str, str]]


@dataclass(frozen=True)
class Buyer:
    """How to take part in one provider's browser step, and what its simulator recorded."""

    name: str
    integration_type: str
    method_kind: str
    simulator_fixture: str
    settings: dict[str, object]
    secrets: dict[str, str]
    # The buyer's part: approve (or, with decline=True, be declined); answers the `params` the
    # browser brings back to complete().
    pay: Pay
    # Whether the browser step itself moves the money (card forms, Stripe.js) or only approves
    # what our complete() then executes (PayPal, Accept.js's opaque data).
    browser_pays: bool
    # Authorizations and sales the provider holds (declined ones included where it keeps them).
    payments: Callable[[Any], int]
    # Everything captured so far, in major units, over every payment.
    captured: Callable[[Any], Decimal]
    # (amount, currency) of the payment or capture a result's reference names, as recorded.
    recorded: Callable[[Any, str], tuple[Decimal, str]]
    # A decline triggered by the amount (Payflow's pilot amounts) instead of the card.
    decline_amount: Decimal | None = None
    # An amount in a 3-decimal currency (BHD) the provider takes; None: it refuses them.
    three_decimal_amount: Decimal | None = None
    # Whether abandon() asks the provider, and so reports a payment our complete() made.
    abandon_reads_back: bool = True

    def config(self, simulator: Any, timeout_seconds: float = 5.0) -> AdapterConfig:
        return AdapterConfig(
            settings=dict(self.settings),
            secrets=dict(self.secrets),
            sandbox=True,
            timeout_seconds=timeout_seconds,
            api_base_url=simulator.url,
        )

    def __str__(self) -> str:
        return self.name


def _split_settings(
    type: str, secret_names: tuple[str, ...]
) -> tuple[dict[str, object], dict[str, str]]:
    settings = dict(VALID_SETTINGS[type])
    secrets = {name: str(settings.pop(name)) for name in secret_names}
    return settings, secrets


# --- Stripe: Stripe.js confirms the PaymentIntent with the card ----------------------------------


def _stripe_pay(simulator: StripeSimulator, step: PaymentStep, decline: bool) -> dict[str, str]:
    """What the stand-in Stripe.js posts (simulators/stripe/stripe_js.py)."""
    answer = requests.post(
        f"{simulator.url}/v1/payment_intents/{step.reference}/confirm",
        data={
            "key": step.data["publishable_key"],
            "client_secret": step.data["client_secret"],
            "payment_method_data[type]": "card",
            "payment_method_data[card][number]": STRIPE_DECLINED_CARD if decline else STRIPE_CARD,
            "payment_method_data[card][exp_month]": "12",
            "payment_method_data[card][exp_year]": str(time.gmtime().tm_year + 2),
            "payment_method_data[card][cvc]": "123",
        },
        timeout=5,
    )
    assert answer.status_code == (402 if decline else 200), answer.text
    status = "failed" if decline else "succeeded"
    return {"payment_intent": step.reference, "redirect_status": status}


def _stripe_recorded(simulator: StripeSimulator, reference: str) -> tuple[Decimal, str]:
    intent = simulator.payment_intents[reference]
    currency = intent["currency"].upper()
    return from_minor_units(intent["amount"], currency), currency


def _stripe_captured(simulator: StripeSimulator) -> Decimal:
    return sum(
        (from_minor_units(c["amount_captured"], c["currency"]) for c in simulator.charges.values()),
        Decimal(0),
    )


_stripe_settings, _stripe_secrets = _split_settings(
    IntegrationType.STRIPE, ("secret_key", "webhook_signing_secret")
)
STRIPE = Buyer(
    name="stripe",
    integration_type=IntegrationType.STRIPE,
    method_kind="credit_card",
    simulator_fixture="stripe_simulator",
    settings=_stripe_settings,
    secrets=_stripe_secrets,
    pay=_stripe_pay,
    browser_pays=True,
    payments=lambda simulator: len(simulator.charges),
    captured=_stripe_captured,
    recorded=_stripe_recorded,
    # Stripe takes three-decimal currencies in multiples of ten minor units only.
    three_decimal_amount=Decimal("12.340"),
)


# --- PayPal Express: the buyer approves on PayPal's page -----------------------------------------


def _paypal_pay(simulator: PayPalSimulator, step: PaymentStep, decline: bool) -> dict[str, str]:
    return simulator.approve(step.reference, decline=decline)


def _paypal_resources(simulator: PayPalSimulator, *kinds: str) -> list[dict[str, Any]]:
    return [r for r in simulator.resources.values() if r["_kind"] in kinds]


def _paypal_recorded(simulator: PayPalSimulator, reference: str) -> tuple[Decimal, str]:
    amount = simulator.resources[reference]["amount"]
    return Decimal(amount["total"]), amount["currency"]


_paypal_settings, _paypal_secrets = _split_settings(
    IntegrationType.PAYPAL_EXPRESS, ("client_secret",)
)
PAYPAL_EXPRESS = Buyer(
    name="paypal_express",
    integration_type=IntegrationType.PAYPAL_EXPRESS,
    method_kind="paypal",
    simulator_fixture="paypal_simulator",
    settings=_paypal_settings,
    secrets=_paypal_secrets,
    pay=_paypal_pay,
    browser_pays=False,
    payments=lambda simulator: len(_paypal_resources(simulator, "authorization", "sale")),
    captured=lambda simulator: sum(
        (Decimal(c["amount"]["total"]) for c in _paypal_resources(simulator, "capture")),
        Decimal(0),
    ),
    recorded=_paypal_recorded,
    three_decimal_amount=None,  # PayPal takes no three-decimal currency
)


# --- Payflow: the card form posts to Payflow Link; Express Checkout approves on PayPal ----------


def _payflow_card_pay(
    simulator: PayflowSimulator, step: PaymentStep, decline: bool
) -> dict[str, str]:
    # A decline comes from the amount (PAYFLOW_DECLINED_AMOUNT), not the card.
    return simulator.post_card(
        step.data["SECURETOKEN"], step.data["SECURETOKENID"], PAYFLOW_CARD, "1230", "123"
    )


def _payflow_express_pay(
    simulator: PayflowSimulator, step: PaymentStep, decline: bool
) -> dict[str, str]:
    params = simulator.approve_express(step.reference)
    if decline:
        # The simulator has no declining PayPal account for Express Checkout over Payflow; the
        # nearest provider-side refusal is a session that can no longer be paid (expired).
        simulator.express_tokens[step.reference].created_at -= (
            simulator.express_token_lifetime_seconds + 1
        )
    return params


def _payflow_transaction(simulator: PayflowSimulator, reference: str) -> Any:
    return simulator.transactions[reference.removeprefix("P:")]


def _payflow_recorded(simulator: PayflowSimulator, reference: str) -> tuple[Decimal, str]:
    transaction = _payflow_transaction(simulator, reference)
    return from_minor_units(transaction.amount, transaction.currency), transaction.currency


def _payflow_payments(simulator: PayflowSimulator) -> int:
    return sum(1 for t in simulator.transactions.values() if t.trxtype in ("A", "S"))


def _payflow_captured(simulator: PayflowSimulator) -> Decimal:
    return sum(
        (
            from_minor_units(t.amount, t.currency)
            for t in simulator.transactions.values()
            if t.trxtype == "D"
        ),
        Decimal(0),
    )


def _payflow(type: str, method_kind: str, pay: Pay, **overrides: Any) -> Buyer:
    settings, secrets = _split_settings(type, ("password",))
    fields: dict[str, Any] = {
        "name": f"{type}_{method_kind}",
        "integration_type": type,
        "method_kind": method_kind,
        "simulator_fixture": "payflow_simulator",
        "settings": settings,
        "secrets": secrets,
        "pay": pay,
        "payments": _payflow_payments,
        "captured": _payflow_captured,
        "recorded": _payflow_recorded,
        # AMT is `#####.##` (Payflow takes no three-decimal currency): RESULT 4 at begin.
        "three_decimal_amount": None,
        **overrides,
    }
    return Buyer(**fields)


PAYFLOW_CARD_BUYER = _payflow(
    IntegrationType.PAYFLOW_GATEWAY,
    "credit_card",
    _payflow_card_pay,
    browser_pays=True,
    decline_amount=PAYFLOW_DECLINED_AMOUNT,
)
PAYFLOW_EXPRESS = _payflow(
    IntegrationType.PAYFLOW_GATEWAY,
    "express_checkout",
    _payflow_express_pay,
    browser_pays=False,
    # Documented in PayflowAdapter.abandon: nothing is paid before our ACTION=D, which only
    # complete() sends, so abandon asks nothing (no call reads a payment back by token). The
    # services never abandon a row once complete() has answered for it.
    abandon_reads_back=False,
)
PAYMENTS_PRO_CARD = _payflow(
    IntegrationType.PAYMENTS_PRO,
    "credit_card",
    _payflow_card_pay,
    browser_pays=True,
    decline_amount=PAYFLOW_DECLINED_AMOUNT,
)


# --- Authorize.Net: Accept.js turns the card into opaque data posted to our return URL -----------


def _authorize_net_pay(
    simulator: AuthorizeNetSimulator, step: PaymentStep, decline: bool
) -> dict[str, str]:
    descriptor, value = simulator.tokenize(
        AUTHORIZE_NET_DECLINED_CARD if decline else AUTHORIZE_NET_CARD,
        "12",
        "2035",
        "123",
        step.data["client_key"],
        step.data["api_login_id"],
    )
    return {"dataDescriptor": descriptor, "dataValue": value}


def _authorize_net_recorded(
    simulator: AuthorizeNetSimulator, reference: str
) -> tuple[Decimal, str]:
    transaction = simulator.transactions[reference]
    return transaction.amount, transaction.currency


_authorize_net_settings, _authorize_net_secrets = _split_settings(
    IntegrationType.AUTHORIZE_NET, ("transaction_key",)
)
AUTHORIZE_NET = Buyer(
    name="authorize_net",
    integration_type=IntegrationType.AUTHORIZE_NET,
    method_kind="credit_card",
    simulator_fixture="authorize_net_simulator",
    settings=_authorize_net_settings,
    secrets={**_authorize_net_secrets, "signature_key": "A1B2C3D4E5F6" * 10 + "0A1B2C3D"},
    pay=_authorize_net_pay,
    browser_pays=False,
    payments=lambda simulator: sum(
        1 for t in simulator.transactions.values() if not t.ref_trans_id
    ),
    captured=lambda simulator: sum(
        (t.settle_amount for t in simulator.transactions.values() if not t.ref_trans_id),
        Decimal(0),
    ),
    recorded=_authorize_net_recorded,
    three_decimal_amount=None,  # amounts with at most two decimals
)

BUYERS = (
    STRIPE,
    PAYPAL_EXPRESS,
    PAYFLOW_CARD_BUYER,
    PAYFLOW_EXPRESS,
    PAYMENTS_PRO_CARD,
    AUTHORIZE_NET,
)


def payment_request(
    buyer: Buyer,
    key: str,
    *,
    action: str = "authorize",
    amount: Decimal = Decimal("100.00"),
    currency: str = "USD",
) -> PaymentRequest:
    return PaymentRequest(
        order_number="CT-1001",
        amount=amount,
        currency=currency,
        idempotency_key=f"contract-{buyer.name}-{key}",
        method_identifier=f"contract_{buyer.name}",
        payment_action=action,
        method_kind=buyer.method_kind,
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
