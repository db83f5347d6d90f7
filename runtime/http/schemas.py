"""Field types every API shares.

Numbers and dates are ASCII and say exactly what the OpenAPI document says: Python's ``\\d``
and ``Decimal()`` also take fullwidth and Arabic-Indic digits ("１００.00" would be 100.00),
and pydantic's lax mode reads ``0`` as a date (1970-01-01) and ``false`` as an integer. A
generic client or fuzzer that trusts the document must find the server agreeing with it.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError
from starlette.convertors import Convertor, register_url_convertor

from contracts.planning import MONTH_PATTERN as PLANNING_MONTH_PATTERN
from services.kernel.money import cny

# Money travels as a decimal string with at most two places ("1299.00"), never a float.
MONEY_PATTERN = r"^[0-9]{1,16}(\.[0-9]{1,2})?$"
MoneyString = Annotated[
    str,
    StringConstraints(pattern=MONEY_PATTERN),
    Field(examples=["1299.00"], description="CNY, decimal string, at most 2 places"),
]


def to_money(value: str) -> Decimal:
    return cny(value)


Money = Annotated[MoneyString, AfterValidator(to_money)]


def ratio(pattern: str, what: str, **bounds: str) -> Any:
    """A ratio (a discount or rebate rate, a utilisation threshold) as a decimal string with
    at most four places ("0.0500" = 5 %), within bounds the pattern states, so that the
    document says exactly which strings are accepted. ``bounds`` (``ge`` or ``gt``, and
    ``le``) go with its error, for a client to say them in its own words."""
    return Annotated[
        Decimal,
        BeforeValidator(lambda value: _matching(value, pattern, what, bounds)),
        WithJsonSchema({"type": "string", "pattern": pattern, "description": what}),
    ]


# Zero to 0.5.
RebateRate = ratio(
    r"^0(\.([0-4][0-9]{0,3}|50{0,3}))?$", "a decimal string, 0 to 0.5", ge="0", le="0.5"
)
# Above zero, up to 0.9.
DiscountRate = ratio(
    r"^0\.([1-8][0-9]{0,3}|0[1-9][0-9]{0,2}|00[1-9][0-9]?|000[1-9]|90{0,3})$",
    "a decimal string, above 0 up to 0.9",
    gt="0",
    le="0.9",
)
# Above zero, up to 10 (1.0000 = 100 %).
Utilisation = ratio(
    r"^(10(\.0{1,4})?|[1-9](\.[0-9]{1,4})?|0\.([1-9][0-9]{0,3}|0[1-9][0-9]{0,2}|00[1-9][0-9]?|000[1-9]))$",
    "a decimal string, above 0 up to 10",
    gt="0",
    le="10",
)

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise PydanticCustomError("date_format", "should be a date as YYYY-MM-DD")


# A business date, YYYY-MM-DD only (not a timestamp, not a datetime at midnight).
IsoDate = Annotated[date, BeforeValidator(_iso_date)]


def _json_integer(value: Any) -> Any:
    """An integer as JSON Schema means it: 742 or 742.0, never "742" or false."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "should be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise PydanticCustomError("int_from_float", "should be a whole number")
        return int(value)
    return value


# A count in a request body (quantities, days): a JSON integer.
Count = Annotated[int, BeforeValidator(_json_integer)]


def _matching(value: Any, pattern: str, what: str, bounds: dict[str, str]) -> Any:
    if isinstance(value, Decimal):  # a default in code
        return value
    if not isinstance(value, str) or not re.fullmatch(pattern, value, re.ASCII):
        raise PydanticCustomError(
            "ratio_format", "should be {what} with at most 4 places", {"what": what, **bounds}
        )
    return value


CODE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{0,63}$"
Code = Annotated[
    str,
    StringConstraints(pattern=CODE_PATTERN),
    Field(description="a business code in capitals: SKU, dealer, branch, region"),
]
# Some character that str.strip() keeps. Spelled out, not `\S`: `\s` means other sets in
# Python (which strips \x1c-\x1f and \x85), in ECMA-262 (the OpenAPI document's regex, which
# adds \ufeff) and in pydantic-core's Rust regex; a client that trusts the document must not
# see "\x85" refused as blank.
NOT_BLANK = (
    r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a"
    r"\u2028\u2029\u202f\u205f\u3000\ufeff]"
)
# Stripped of surrounding whitespace; the pattern says, as min_length alone cannot, that a
# name of blanks ("\n") is none.
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NOT_BLANK)
]

# YYYY-MM of a plan or a target (year 0001 on: there is no year 0).
MONTH_PATTERN = r"^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])$"


class MonthConvertor(Convertor[str]):
    """`{month:month}` in a route's path: only a month matches, so GET /targets/salespeople
    is no request for the month "salespeople" (405: the path has a POST only)."""

    regex = MONTH_PATTERN[1:-1]

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


# A registry of path types, needed before any route module compiles its paths.
register_url_convertor("month", MonthConvertor())

# A command's `position` (e.g. `orders:42`), for a query to wait until its read model has it.
POSITION_PATTERN = r"^(orders|inventory|finance):[0-9]{1,18}$"

# A user's name (identity's users, a warning's assignee).
USERNAME_PATTERN = r"^[a-z][a-z0-9._-]{2,63}$"

# What a pattern asks for, in words: a 422 says "should be a month as YYYY-MM, e.g. 2026-11",
# not the regular expression (runtime.http.problems). A pattern not named here is quoted.
READABLE_PATTERNS = {
    CODE_PATTERN: "a code of capital letters, digits and hyphens, e.g. CD-001 or "
    "WULIANGYE-52-500ML (at most 64 characters)",
    MONEY_PATTERN: 'an amount in yuan as a decimal string with at most two places, e.g. "1299.00"',
    MONTH_PATTERN: "a month as YYYY-MM, e.g. 2026-11",
    NOT_BLANK: "some text, not only spaces",
    POSITION_PATTERN: "a position a command answered with, e.g. orders:42",
    PLANNING_MONTH_PATTERN: "a month as YYYY-MM, e.g. 2026-11",
    USERNAME_PATTERN: "a user name of 3 to 64 lower-case letters, digits, dots, hyphens or "
    "underscores, starting with a letter, e.g. cd.clerk",
}
# The same patterns by name, in a 422's `format`: a client says them in its own language.
PATTERN_NAMES = {
    CODE_PATTERN: "code",
    MONEY_PATTERN: "money",
    MONTH_PATTERN: "month",
    NOT_BLANK: "not_blank",
    POSITION_PATTERN: "position",
    PLANNING_MONTH_PATTERN: "month",
    USERNAME_PATTERN: "username",
}
