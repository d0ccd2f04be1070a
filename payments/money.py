"""Money: Decimal amounts with their currency's own exponent (ISO 4217 minor units)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pycountry

# ISO 4217 minor units that differ from the usual 2 (pycountry does not carry them).
ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
THREE_DECIMAL = frozenset(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"])


class MoneyError(ValueError):
    """An amount or currency that cannot be used; the message is for the user."""


def is_currency(code: str) -> bool:
    return (
        bool(code) and len(code) == 3 and pycountry.currencies.get(alpha_3=code.upper()) is not None
    )


def exponent(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-exponent(currency))


def parse_amount(text: str | Decimal, currency: str, *, allow_zero: bool = False) -> Decimal:
    """A positive amount with at most the currency's decimals, or MoneyError saying why."""
    try:
        amount = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        raise MoneyError("Enter an amount, such as 10.50.") from None
    if not amount.is_finite():
        raise MoneyError("Enter an amount, such as 10.50.")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise MoneyError("Enter an amount greater than zero.")
    places = exponent(currency)
    exponent_of_amount = amount.as_tuple().exponent
    if (
        isinstance(exponent_of_amount, int)
        and -exponent_of_amount > places
        and amount != amount.quantize(quantum(currency))
    ):
        if places == 0:
            raise MoneyError(f"{currency} amounts have no decimals.")
        raise MoneyError(f"{currency} amounts have at most {places} decimals.")
    if amount >= Decimal("1e13"):
        raise MoneyError("That amount is too large.")
    return amount.quantize(quantum(currency))


def to_minor_units(amount: Decimal, currency: str) -> int:
    """The integer providers want (cents, yen, fils): exact, never rounded silently."""
    minor = amount.scaleb(exponent(currency))
    if minor != minor.to_integral_value():
        raise MoneyError(f"{amount} has more decimals than {currency} allows.")
    return int(minor)


def from_minor_units(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency)).quantize(quantum(currency))


def round_amount(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def format_amount(amount: Decimal, currency: str) -> str:
    return f"{round_amount(amount, currency):,} {currency.upper()}"
