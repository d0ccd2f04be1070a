"""The Payflow simulator's state: accounts, secure and Express Checkout tokens, transactions
(amounts in minor units), and the rules a card or an amount is judged by."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import date

from payments.money import exponent

_AMOUNT = re.compile(r"^\d{1,10}\.\d{2}$")
_WHOLE_AMOUNT = re.compile(r"^\d{1,10}$")
_REFERENCE_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class PayflowAccount:
    partner: str
    vendor: str
    user: str
    password: str


@dataclass
class SecureToken:
    token: str
    token_id: str
    vendor: str
    fields: dict[str, str]  # the transaction the buyer's card will be used for
    created_at: float
    pnref: str = ""  # the transaction made with it: a token is good for one
    in_progress: bool = False


@dataclass
class ExpressToken:
    token: str
    vendor: str
    fields: dict[str, str]  # ACTION=S's TRXTYPE, AMT, CURRENCY, RETURNURL, CANCELURL, INVNUM
    created_at: float
    payer_id: str = ""  # set when the buyer approves on the PayPal page
    pnref: str = ""  # set by ACTION=D


@dataclass
class Transaction:
    """One Payflow transaction; amounts are in the currency's minor units."""

    pnref: str
    vendor: str
    trxtype: str
    tender: str
    amount: int
    currency: str
    result: int
    respmsg: str
    origid: str = ""
    acct_last4: str = ""
    invnum: str = ""
    captured: int = 0  # an authorization's delayed captures
    refunded: int = 0  # a sale's or capture's credits
    closed: bool = False  # an authorization captured completely or voided
    voided: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def approved(self) -> bool:
        return self.result == 0

    def as_answer(self) -> dict[str, str]:
        return {
            "RESULT": str(self.result),
            "PNREF": self.pnref,
            "RESPMSG": self.respmsg,
            **self.extra,
        }


def account_of(fields: dict[str, str]) -> PayflowAccount:
    return PayflowAccount(
        partner=fields.get("PARTNER", ""),
        vendor=fields.get("VENDOR", ""),
        user=fields.get("USER", ""),
        password=fields.get("PWD", ""),
    )


def amount_valid(text: str, currency: str) -> bool:
    """`#####.##`; currencies without minor units (JPY) take whole amounts only."""
    if exponent(currency) == 0:
        return bool(_WHOLE_AMOUNT.match(text))
    return bool(_AMOUNT.match(text))


def minor_units(text: str, currency: str) -> int:
    units, _, fraction = text.partition(".")
    places = exponent(currency)
    return int(units) * 10**places + (int(fraction.ljust(places, "0")[:places]) if places else 0)


def major_units(amount: int, currency: str) -> str:
    places = exponent(currency)
    if places == 0:
        return str(amount)
    return f"{amount // 10**places}.{amount % 10**places:0{places}d}"


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def expiry_valid(expdate: str) -> bool:
    """MMYY, not before the current month."""
    if not re.fullmatch(r"(0[1-9]|1[0-2])\d\d", expdate):
        return False
    today = date.today()
    month, year = int(expdate[:2]), 2000 + int(expdate[2:])
    return (year, month) >= (today.year, today.month)


def transaction_state(record: Transaction) -> str:
    """Inquiry's TRANSSTATE: 1 error, 3 authorized, 6 settlement pending, 9 captured."""
    if not record.approved:
        return "1"
    if record.trxtype == "A":
        return "9" if record.captured else "3"
    return "6"


def new_reference(length: int = 12) -> str:
    """A PNREF (12 letters and digits), or another id in the same alphabet."""
    return "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(length))
