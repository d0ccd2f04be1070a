from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.money import MoneyError, exponent, from_minor_units, parse_amount, to_minor_units


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("10.5", "USD", "10.50"),
        ("100", "JPY", "100"),
        ("1.234", "BHD", "1.234"),
        ("10.0", "JPY", "10"),
    ],
)
def test_amounts_take_their_currencys_exponent(text, currency, expected):
    assert str(parse_amount(text, currency)) == expected


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("10.505", "USD", "at most 2 decimals"),
        ("100.5", "JPY", "no decimals"),
        ("1.2345", "BHD", "at most 3 decimals"),
        ("-1", "USD", "greater than zero"),
        ("0", "USD", "greater than zero"),
        ("abc", "USD", "Enter an amount"),
        ("NaN", "USD", "Enter an amount"),
        ("Infinity", "USD", "Enter an amount"),
        ("1e400", "USD", "too large"),
    ],
)
def test_bad_amounts_say_why(text, currency, message):
    with pytest.raises(MoneyError, match=message):
        parse_amount(text, currency)


def test_minor_units_use_the_exponent():
    assert to_minor_units(Decimal("10.50"), "USD") == 1050
    assert to_minor_units(Decimal("100"), "JPY") == 100
    assert to_minor_units(Decimal("1.234"), "BHD") == 1234
    with pytest.raises(MoneyError):
        to_minor_units(Decimal("0.001"), "USD")


@given(
    st.integers(min_value=0, max_value=10**12), st.sampled_from(["USD", "JPY", "BHD", "EUR", "KWD"])
)
def test_minor_units_round_trip(minor, currency):
    amount = from_minor_units(minor, currency)
    assert to_minor_units(amount, currency) == minor
    assert amount == amount.quantize(Decimal(1).scaleb(-exponent(currency)))


@given(st.text(max_size=30), st.sampled_from(["USD", "JPY", "BHD"]))
def test_parse_amount_never_raises_anything_but_money_error(text, currency):
    try:
        amount = parse_amount(text, currency)
    except MoneyError as error:
        assert str(error)  # always a sentence for the user
    else:
        assert amount > 0
        assert amount == amount.quantize(Decimal(1).scaleb(-exponent(currency)))
