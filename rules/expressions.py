"""Rule expressions in CEL (Common Expression Language): safe, non-Turing-complete.

Compiled programs are cached by source text, so evaluating a rule costs no parsing. A syntax
error, an unknown variable or a type error is refused when the rule is saved; an error while
evaluating (data-dependent, e.g. a division by zero) makes the rule not match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cel

MAX_EXPRESSION_LENGTH = 2000

VARIABLES = (
    "currency",
    "subtotal",
    "total",
    "website",
    "customer",
    "customerUser",
    "billingAddress",
    "shippingAddress",
    "lineItems",
)

# What a typical checkout looks like to an expression; used to find type errors on save.
SAMPLE_ADDRESS = {
    "countryIso2": "US",
    "regionCode": "US-NY",
    "postalCode": "10001",
    "city": "New York",
}
SAMPLE_VARIABLES: dict[str, Any] = {
    "currency": "USD",
    "subtotal": 120.0,
    "total": 130.5,
    "website": {"id": 1, "code": "us", "name": "US Store"},
    "customer": {"id": 1, "name": "Northwind", "group": {"id": 1, "name": "Wholesale"}},
    "customerUser": {"id": 1, "email": "buyer@example.com"},
    "billingAddress": SAMPLE_ADDRESS,
    "shippingAddress": SAMPLE_ADDRESS,
    "lineItems": [{"sku": "SKU-1", "quantity": 2, "price": 60.0}],
}


@dataclass(frozen=True)
class ExpressionProblem(Exception):
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"{self.message} (line {self.line}, column {self.column})"


@lru_cache(maxsize=16384)
def compiled(source: str) -> cel.Program:
    """The compiled program for `source` (cached; raises ValueError on a syntax error)."""
    return cel.compile(source)


_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*?)(?:\n|$)")


def _syntax_problem(error: Exception) -> ExpressionProblem:
    match = _POSITION.search(str(error))
    if not match:
        return ExpressionProblem(f"Syntax error: {error}")
    line, column, detail = match.groups()
    detail = detail.split(" expecting ")[0]  # the token list helps no one
    detail = detail.removeprefix("Syntax error: ")
    return ExpressionProblem(f"Syntax error: {detail}", int(line), int(column))


def validate(source: str) -> None:
    """Raise ExpressionProblem unless `source` is a well-formed, well-typed boolean expression."""
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ExpressionProblem(f"Keep expressions under {MAX_EXPRESSION_LENGTH:,} characters.")
    if "\x00" in source:
        raise ExpressionProblem("The expression contains a NUL character.")
    try:
        program = compiled(source)
    except (ValueError, RuntimeError) as error:
        raise _syntax_problem(error) from None
    try:
        result = program.execute(SAMPLE_VARIABLES)
    except RuntimeError as error:
        if "Undefined variable" in str(error):
            name = re.search(r"'([^']+)'", str(error))
            known = ", ".join(VARIABLES)
            raise ExpressionProblem(
                f"Unknown variable or function {name.group(1) if name else ''!r}. Known: {known}."
            ) from None
        return  # data-dependent (e.g. an index past the end): decided per checkout
    except TypeError as error:
        raise ExpressionProblem(f"Type error: {_first_sentence(error)}") from None
    except (IndexError, KeyError, ZeroDivisionError, ValueError, OverflowError):
        return  # data-dependent, like a missing index: decided per checkout
    if not isinstance(result, bool):
        raise ExpressionProblem(
            f"The expression must be true or false, not {type(result).__name__} "
            "(for example: total < 99999.0)."
        )


def context(variables: dict[str, Any]) -> cel.Context:
    """`variables` prepared once for many expressions.

    A dict passed to `evaluate()` is converted to CEL values on every call (~75 µs for a
    checkout); a context is converted on first use and then reused (well under 1 µs).
    """
    return cel.Context(variables)


def evaluate(source: str, variables: dict[str, Any] | cel.Context) -> bool:
    """True when the expression holds; raises ExpressionProblem when it cannot be evaluated.

    `variables` is a dict or, when evaluating many expressions over one checkout, a `context()`.
    """
    try:
        result = compiled(source).execute(variables)
    except Exception as error:  # the engine raises several types; all mean "could not evaluate"
        raise ExpressionProblem(_first_sentence(error)) from None
    if not isinstance(result, bool):
        raise ExpressionProblem(f"the result is {type(result).__name__}, not true or false")
    return result


def _first_sentence(error: BaseException) -> str:
    first = str(error).strip().split(". ")[0].rstrip(".")
    if "float" in first and "int" in first:
        return f"{first}. Use decimal numbers in arithmetic on totals and prices (total * 2.0)."
    return f"{first}."
