"""Exact money: parsing store values into ``Decimal`` cents, rounding, and back to Decimal128.

Every amount in the engine is a ``decimal.Decimal`` with exactly two places. Values from
the store arrive as BSON Decimal128, int, a decimal string or (tolerated) a finite float;
:func:`parse_amount` turns each into a Decimal or raises :class:`BadAmount` naming why.

The engine computes in integer cents (:func:`parse_cents`, :func:`half_up_ratio`);
Decimals are what it stores and reports. ``Decimal128.to_decimal()`` costs several
microseconds a value, so Decimal128 values are decoded here straight from their 128-bit
BID encoding with integer arithmetic (:func:`decimal128_cents`); the slow path remains
for the rare encodings the fast path does not cover (infinities, NaN, the
large-coefficient form).
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from operator import attrgetter
from typing import Any

from bson.decimal128 import Decimal128

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_ABS_CENTS = 10**15  # |amount| < 10^13 currency units, in cents

_DECIMAL_STRING = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII)
_EXPONENT_BIAS = 6176
_COEFFICIENT_MASK = (1 << 49) - 1
_MAX_COEFFICIENT = 10**34 - 1  # the largest canonical Decimal128 coefficient
_POW10 = [10**n for n in range(40)]


class BadAmount(ValueError):
    """A value that is not a valid money amount (spec section 2, finding ``BAD_AMOUNT``)."""


def cents_to_decimal(cents: int) -> Decimal:
    """Return the Decimal with two places for an integer number of cents."""
    return CENT * cents  # exact below 10^26 cents; the int converted inside, half the cost


def _coefficient_cents(negative: bool, coefficient: int, exponent: int) -> int:
    """coefficient * 10**exponent as a whole number of cents below 10^13, or BadAmount."""
    if coefficient == 0:
        return 0
    if exponent >= -2:
        shift = exponent + 2
        if shift > 17 or coefficient * _POW10[shift] >= MAX_ABS_CENTS:
            raise BadAmount("amount of 10^13 or more")
        cents = coefficient * _POW10[shift]
    else:
        divisor = _POW10[-exponent - 2] if -exponent - 2 < 40 else 10 ** (-exponent - 2)
        cents, remainder = divmod(coefficient, divisor)
        if remainder:
            raise BadAmount("not a whole number of cents")
        if cents >= MAX_ABS_CENTS:
            raise BadAmount("amount of 10^13 or more")
    return -cents if negative else cents


def bid_parts(value: Decimal128) -> tuple[bool, int, int] | None:
    """(negative, coefficient, exponent) of a Decimal128 read from its BID encoding.

    None for infinities, NaN and the rare large-coefficient form, which callers hand to
    the slow, general ``to_decimal()``. A coefficient above 10^34 - 1 is non-canonical
    and, as the BSON spec and ``to_decimal()`` read it, zero.
    """
    high, low = value.__getstate__()  # the two 64-bit halves of the BID encoding
    if (high >> 61) & 0b11 == 0b11:
        return None
    coefficient = ((high & _COEFFICIENT_MASK) << 64) | low
    if coefficient > _MAX_COEFFICIENT:
        coefficient = 0
    return bool(high >> 63), coefficient, ((high >> 49) & 0x3FFF) - _EXPONENT_BIAS


def decimal128_text(value: Decimal128) -> str:
    """``str(value)`` without building a Decimal, for the common plain-notation values."""
    parts = bid_parts(value)
    if parts is None or not -6 <= parts[2] <= 0:
        return str(value)
    negative, coefficient, exponent = parts
    digits = str(coefficient)
    if exponent:
        digits = digits.rjust(1 - exponent, "0")
        digits = f"{digits[:exponent]}.{digits[exponent:]}"
    return f"-{digits}" if negative else digits


_PLAIN_DECIMAL = re.compile(r"(-?)(\d{1,19})(?:\.(\d{1,6}))?", re.ASCII)


def decimal128_from_text(text: str) -> Decimal128:
    """``Decimal128(text)`` built straight from the BID fields for plain decimals."""
    match = _PLAIN_DECIMAL.fullmatch(text)
    if match is None:
        return Decimal128(text)
    sign, whole, fraction = match.groups()
    fraction = fraction or ""
    coefficient = int(whole + fraction)
    if coefficient >= 1 << 64:
        return Decimal128(text)
    high = (len(sign) << 63) | ((_EXPONENT_BIAS - len(fraction)) << 49)
    return Decimal128.from_bid(coefficient.to_bytes(8, "little") + high.to_bytes(8, "little"))


_PLAIN_HIGH = (_EXPONENT_BIAS - 2) << 49  # high word of a positive amount with two places


def decimal128_cents(value: Decimal128) -> int:
    """A Decimal128 amount as integer cents, or :class:`BadAmount`.

    Read from the value's two 64-bit words (its pickling state): the usual encoding, a
    non-negative coefficient below 2^64 with exponent -2, is recognised by one comparison
    and its low word *is* the cents; any other finite encoding is decoded exactly from
    its BID fields; only infinities, NaN and the large-coefficient form go through
    ``to_decimal()``.
    """
    high, low = value.__getstate__()
    if high == _PLAIN_HIGH:
        if low >= MAX_ABS_CENTS:
            raise BadAmount("amount of 10^13 or more")
        return low
    parts = bid_parts(value)
    if parts is None:
        return decimal_cents(value.to_decimal())
    return _coefficient_cents(*parts)


_PLAIN_HIGH_ONLY = frozenset((_PLAIN_HIGH,))


# Decimal128's two words read in C (its ``__slots__``), for many values at once;
# tests/unit/test_money.py fails if pymongo renames them
_high_word = attrgetter("_Decimal128__high")
_low_word = attrgetter("_Decimal128__low")


def decimal128_plain_cents(values: list[Decimal128]) -> list[int] | None:
    """Many Decimal128 amounts as cents when every one has the usual encoding (exponent
    -2, non-negative, below 10^13: :func:`decimal128_cents` reads its low word), read in
    one pass in C; None when any has another encoding (decode those one by one)."""
    if set(map(_high_word, values)) != _PLAIN_HIGH_ONLY:
        return None
    cents = list(map(_low_word, values))
    return cents if max(cents) < MAX_ABS_CENTS else None


def decimal_cents(value: Decimal, bounded: bool = True) -> int:
    """A finite Decimal of whole cents below 10^13 as integer cents, or BadAmount.

    ``bounded=False`` takes a total of such amounts (a claim's billed, of many lines),
    which may reach 10^13: only its shape is checked."""
    if not value.is_finite():
        raise BadAmount("not a finite number")
    if bounded and value and value.adjusted() >= 13:
        raise BadAmount("amount of 10^13 or more")
    numerator, denominator = value.as_integer_ratio()  # exact, in lowest terms
    if 100 % denominator:
        raise BadAmount("not a whole number of cents")
    cents = numerator * (100 // denominator)
    if bounded and abs(cents) >= MAX_ABS_CENTS:
        raise BadAmount("amount of 10^13 or more")
    return cents


def parse_cents(value: Any) -> int:
    """Parse a stored amount into integer cents, or raise :class:`BadAmount`.

    Accepts Decimal128, Decimal, int (not bool), a decimal string such as ``"12.30"``
    and a finite float through its shortest repr (``12.1`` -> 1210 cents).
    """
    if type(value) is Decimal128:
        return decimal128_cents(value)
    if isinstance(value, bool) or value is None:
        raise BadAmount("missing" if value is None else "a boolean is not an amount")
    if isinstance(value, int):
        if abs(value) * 100 >= MAX_ABS_CENTS:
            raise BadAmount("amount of 10^13 or more")
        return value * 100
    if isinstance(value, Decimal):
        return decimal_cents(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadAmount("not a finite number")
        return decimal_cents(Decimal(repr(value)))
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 40 or not _DECIMAL_STRING.fullmatch(text):
            raise BadAmount("not a decimal number")
        try:
            return decimal_cents(Decimal(text))
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
            raise BadAmount("not a decimal number") from exc
    raise BadAmount(f"a {type(value).__name__} is not an amount")


def parse_amount(value: Any) -> Decimal:
    """Parse a stored amount into a two-place Decimal (:func:`parse_cents`), or BadAmount."""
    return cents_to_decimal(parse_cents(value))


def half_up_ratio(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to an integer, half away from zero (exact).

    With amounts in cents this is spec section 2's rounding to cents, half up, of an
    exact quotient: no intermediate rounding whatever the size of the operands.
    """
    if denominator <= 0:
        raise ValueError("the denominator must be positive")
    quotient = (2 * abs(numerator) + denominator) // (2 * denominator)
    return -quotient if numerator < 0 else quotient


def round_cents(value: Decimal) -> Decimal:
    """Round to cents, half up (spec section 2)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def round_ratio(numerator: Decimal, denominator: int) -> Decimal:
    """Round ``numerator / denominator`` to cents, half up, without intermediate rounding.

    The quotient is taken with 60 significant digits, far more than any amount below
    10^13 needs, so the only rounding is the final one to cents.
    """
    with localcontext() as ctx:
        ctx.prec = 60
        return (numerator / denominator).quantize(CENT, rounding=ROUND_HALF_UP)


def to_decimal128(value: Decimal) -> Decimal128:
    """Store form of an amount: Decimal128 with exactly two places.

    Built from the BID fields (``decimal128_from_text``) rather than ``Decimal128(Decimal)``,
    which costs several microseconds a value; the encoding is the same bytes.
    """
    return decimal128_from_text(str(value.quantize(CENT)))


def money_str(value: Decimal) -> str:
    """Two-place text form of an amount, e.g. for summaries and JSON."""
    return str(value.quantize(CENT))
