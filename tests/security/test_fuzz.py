"""Fuzzing with hypothesis: money parsing, CEL rules, the Payflow NVP codec and webhook parsers.

Each property runs `EXAMPLES` examples (150; raise with HYPOTHESIS_MAX_EXAMPLES for a deeper
search). What is fuzzed elsewhere is not repeated here: `tests/payments/test_money.py` (any text
to parse_amount, minor units from integers) and `tests/rules/test_evaluation_properties.py`
(validate and evaluate on their own, rules over random checkouts).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from integrations.adapters.authorize_net import AuthorizeNetAdapter
from integrations.adapters.base import AdapterConfig, InvalidWebhook, ProviderError, WebhookEvent
from integrations.adapters.payflow_nvp import NvpFormatError, decode, encode
from integrations.adapters.paypal_express import PayPalExpressAdapter
from integrations.adapters.stripe_adapter import StripeAdapter
from payments.money import (
    MoneyError,
    exponent,
    from_minor_units,
    parse_amount,
    to_minor_units,
)
from rules import expressions
from simulators.paypal import PayPalSimulator
from tests.rules.test_evaluation_properties import any_expression

EXAMPLES = int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "150"))
FAST = hsettings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the project
    # The simulator fixture is shared by the examples on purpose: they only read from it.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# One currency per exponent, and a few more of each.
CURRENCIES = ["JPY", "KRW", "USD", "EUR", "GBP", "BHD", "KWD", "TND"]


# --- money ------------------------------------------------------------------------------------


@FAST
@given(
    currency=st.sampled_from(CURRENCIES),
    minor=st.integers(min_value=1, max_value=10**12),
    trailing_zeros=st.integers(min_value=0, max_value=4),
    padding=st.sampled_from(["", " ", "\t", "\n "]),
)
def test_an_amount_written_out_parses_back_to_the_same_minor_units(
    currency: str, minor: int, trailing_zeros: int, padding: str
) -> None:
    amount = from_minor_units(minor, currency)
    assert isinstance(amount, Decimal)
    assert amount.as_tuple().exponent == -exponent(currency)
    text = f"{amount:f}"
    if trailing_zeros:
        text += ("" if "." in text else ".") + "0" * trailing_zeros
    parsed = parse_amount(f"{padding}{text}{padding}", currency)
    assert isinstance(parsed, Decimal)
    assert parsed == amount
    assert parsed.as_tuple().exponent == -exponent(currency)
    assert to_minor_units(parsed, currency) == minor
    assert parse_amount(parsed, currency) == parsed  # a Decimal goes through unchanged


@FAST
@given(
    currency=st.sampled_from(CURRENCIES),
    minor=st.integers(min_value=1, max_value=10**12),
    extra_digit=st.integers(min_value=1, max_value=9),
)
def test_one_decimal_more_than_the_currency_allows_is_refused_never_rounded(
    currency: str, minor: int, extra_digit: int
) -> None:
    places = exponent(currency)
    amount = from_minor_units(minor, currency) + Decimal(extra_digit).scaleb(-(places + 1))
    with pytest.raises(MoneyError, match="decimals"):
        parse_amount(f"{amount:f}", currency)
    with pytest.raises(MoneyError):
        to_minor_units(amount, currency)


@FAST
@given(
    currency=st.sampled_from(CURRENCIES),
    text=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.decimals().map(str),
        st.from_regex(r"\A[-+]?[0-9]{0,15}(\.[0-9]{0,6})?([eE][-+]?[0-9]{1,4})?\Z"),
    ),
)
def test_any_number_like_text_is_an_exact_decimal_or_a_money_error(
    currency: str, text: str
) -> None:
    try:
        amount = parse_amount(text, currency, allow_zero=True)
    except MoneyError as error:
        assert str(error)
        return
    assert isinstance(amount, Decimal)
    assert Decimal(text.strip()) == amount  # exact: nothing was rounded away
    assert 0 <= amount < Decimal("1e13")
    assert from_minor_units(to_minor_units(amount, currency), currency) == amount


# --- CEL rule expressions -----------------------------------------------------------------------


def _validated(source: str) -> str | None:
    try:
        expressions.validate(source)
    except expressions.ExpressionProblem as problem:
        return str(problem)
    return None


def _evaluated(source: str) -> tuple[str, Any]:
    try:
        return "result", expressions.evaluate(source, expressions.SAMPLE_VARIABLES)
    except expressions.ExpressionProblem as problem:
        return "problem", str(problem)


def _data_dependent(source: str) -> bool:
    """Whether the engine itself fails on the sample checkout (validate lets that pass)."""
    try:
        expressions.compiled(source).execute(expressions.SAMPLE_VARIABLES)
    except Exception:
        return True
    return False


@FAST
@given(source=any_expression)
def test_validate_and_evaluate_agree_on_the_sample_checkout(source: str) -> None:
    """A saved expression evaluates to true or false on the checkout validate() tried it on;
    one validate() refuses cannot be evaluated there either (evaluate raises, never a bool)."""
    assume("\x00" not in source and len(source) <= expressions.MAX_EXPRESSION_LENGTH)
    problem = _validated(source)
    kind, value = _evaluated(source)
    if problem is None:
        if kind == "problem":
            assert _data_dependent(source), f"validate() accepted, evaluate() said {value}"
        else:
            assert isinstance(value, bool)
    else:
        assert problem
        assert kind == "problem", f"validate() said {problem!r}, evaluate() returned {value!r}"


@FAST
@given(source=st.text(max_size=80))
def test_any_text_is_validated_and_evaluated_with_the_modules_own_errors(source: str) -> None:
    for check in (
        lambda: expressions.validate(source),
        lambda: expressions.evaluate(source, expressions.SAMPLE_VARIABLES),
        lambda: expressions.evaluate(source, expressions.context(expressions.SAMPLE_VARIABLES)),
    ):
        try:
            check()
        except expressions.ExpressionProblem as problem:
            assert str(problem)


# --- Payflow NVP ------------------------------------------------------------------------------

nvp_names = st.from_regex(r"\A[A-Z][A-Z0-9_]{0,15}\Z")
nvp_values = st.one_of(
    st.text(max_size=40),
    st.text(alphabet='&="[]=é€😀 abc', max_size=20),
    st.sampled_from(["", "&", "=", '"', "a&b=c", 'x"y', "[5]", "&&==", "é&ü", "100.00"]),
)


@FAST
@given(fields=st.dictionaries(nvp_names, nvp_values, max_size=8))
def test_payflow_nvp_round_trips_any_values(fields: dict[str, str]) -> None:
    assert decode(encode(fields)) == fields


@FAST
@given(body=st.one_of(st.text(max_size=80), st.text(alphabet='AB1=&[]"é', max_size=40)))
def test_payflow_nvp_decoder_raises_only_its_format_error(body: str) -> None:
    try:
        decoded = decode(body)
    except NvpFormatError as error:
        assert str(error)
    else:
        assert all(isinstance(v, str) for v in decoded.values())


# --- webhook parsers --------------------------------------------------------------------------

STRIPE_SECRET = "whsec_FuzzSigning0001"
ANET_KEY = "F00D" * 32
PAYPAL_WEBHOOK_ID = "8PT597110X687430LKGECATA"
PAYPAL_HEADERS = [
    "PAYPAL-TRANSMISSION-ID",
    "PAYPAL-TRANSMISSION-TIME",
    "PAYPAL-TRANSMISSION-SIG",
    "PAYPAL-CERT-URL",
    "PAYPAL-AUTH-ALGO",
]

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


def _event_like(keys: list[str], types: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects that look like a provider's event, with any values in its fields."""
    return st.fixed_dictionaries(
        {},
        optional={
            **{key: json_values for key in keys},
            keys[0]: st.one_of(st.text(max_size=10), json_values),
            keys[1]: st.one_of(st.sampled_from(types), json_values),
        },
    )


def _bodies(event: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda value: json.dumps(value).encode()),
        event.map(lambda value: json.dumps(value).encode()),
    )


header_names = st.one_of(st.text(max_size=20), st.sampled_from(["Content-Type", "User-Agent"]))
random_headers = st.dictionaries(header_names, st.text(max_size=40), max_size=4)

stripe_events = _event_like(
    ["id", "type", "object", "data", "created"],
    ["payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded"],
).map(lambda event: {**event, "object": "event"} if event.get("data") else event)
anet_events = _event_like(
    ["notificationId", "eventType", "payload", "eventDate"],
    ["net.authorize.payment.authcapture.created", "net.authorize.payment.fraud.held"],
)
paypal_events = _event_like(
    ["id", "event_type", "resource", "summary"],
    ["PAYMENT.SALE.COMPLETED", "PAYMENT.AUTHORIZATION.CREATED", "PAYMENT.CAPTURE.REFUNDED"],
)


def _config(**secrets: str) -> AdapterConfig:
    return AdapterConfig(settings={}, secrets=secrets, sandbox=True, timeout_seconds=5.0)


def _parses_or_refuses(adapter: Any, body: bytes, headers: dict[str, str]) -> WebhookEvent | None:
    """The event a webhook reads as (only a signed body gets one), or None when it is refused."""
    try:
        event = adapter.parse_webhook(body, headers)
    except (InvalidWebhook, ProviderError) as error:
        assert str(error)
        return None
    assert isinstance(event.id, str)
    assert isinstance(event.type, str)
    assert isinstance(event.reference, str)
    return event


@FAST
@given(body=_bodies(stripe_events), headers=random_headers, signed=st.booleans())
def test_stripe_webhooks_are_read_or_refused(
    body: bytes, headers: dict[str, str], signed: bool
) -> None:
    if signed:  # past the signature, into the parser
        timestamp = int(time.time())
        payload = f"{timestamp}.".encode() + body
        digest = hmac.new(STRIPE_SECRET.encode(), payload, hashlib.sha256).hexdigest()
        headers = {**headers, "Stripe-Signature": f"t={timestamp},v1={digest}"}
    adapter = StripeAdapter(_config(webhook_signing_secret=STRIPE_SECRET))
    event = _parses_or_refuses(adapter, body, headers)
    # Events are applied once per id: a signed event without one is refused, never read as "".
    assert event is None or (event.id.strip() and event.id == json.loads(body)["id"])


@FAST
@given(
    body=_bodies(anet_events),
    headers=random_headers,
    signature=st.one_of(st.none(), st.just("signed"), st.text(max_size=30)),
)
def test_authorize_net_webhooks_are_read_or_refused(
    body: bytes, headers: dict[str, str], signature: str | None
) -> None:
    if signature == "signed":
        signature = "sha512=" + hmac.new(ANET_KEY.encode(), body, hashlib.sha512).hexdigest()
    if signature is not None:
        headers = {**headers, "X-ANET-Signature": signature}
    _parses_or_refuses(AuthorizeNetAdapter(_config(signature_key=ANET_KEY)), body, headers)


@FAST
@given(
    body=_bodies(paypal_events),
    headers=random_headers,
    signature=st.one_of(
        st.none(),
        st.fixed_dictionaries({name: st.text(min_size=1, max_size=20) for name in PAYPAL_HEADERS}),
    ),
)
def test_paypal_webhooks_are_read_or_refused(
    paypal_simulator: PayPalSimulator,
    body: bytes,
    headers: dict[str, str],
    signature: dict[str, str] | None,
) -> None:
    """Past the headers and JSON checks, PayPal (the simulator) is asked and says no."""
    adapter = PayPalExpressAdapter(
        AdapterConfig(
            settings={"client_id": "SandboxClientId", "webhook_id": PAYPAL_WEBHOOK_ID},
            secrets={"client_secret": "paypal-client-secret-1"},
            sandbox=True,
            timeout_seconds=5.0,
            api_base_url=paypal_simulator.url,
        )
    )
    _parses_or_refuses(adapter, body, {**headers, **(signature or {})})
