"""Exact money (spec section 2): parse_amount on every input type, rounding, store form."""

from __future__ import annotations

import decimal
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from bson.decimal128 import Decimal128
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from PaymentProcess.utils.money import (
    BadAmount,
    cents_to_decimal,
    decimal128_cents,
    decimal128_plain_cents,
    decimal128_text,
    half_up_ratio,
    money_str,
    parse_amount,
    parse_cents,
    round_cents,
    round_ratio,
    to_decimal128,
)

LIMIT = 10**13  # no amount may reach ten trillion


def reference(value: Decimal) -> Decimal | None:
    """What spec section 2 says a Decimal is worth, computed without the engine's code.

    None when it is not an amount (not finite, not whole cents, |value| >= 10^13).
    """
    if not value.is_finite():
        return None
    cents = Fraction(value) * 100
    if cents.denominator != 1 or abs(cents) >= LIMIT * 100:
        return None
    return Decimal(int(cents)).scaleb(-2)


def outcome(value: object) -> tuple[str, str]:
    """("ok", text) or ("bad", "") for parse_amount(value), to compare two paths."""
    try:
        parsed = parse_amount(value)
    except BadAmount:
        return ("bad", "")
    return ("ok", str(parsed))


def assert_two_places(value: Decimal, expected: str) -> None:
    assert isinstance(value, Decimal)
    assert str(value) == expected
    assert value.as_tuple().exponent == -2


# --- Decimal128 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", "0.00"),
        ("0.00", "0.00"),
        ("-0", "0.00"),
        ("-0.00", "0.00"),
        ("0E-6176", "0.00"),
        ("-0E-6176", "0.00"),
        ("0E+15", "0.00"),
        ("12.30", "12.30"),
        ("12.3", "12.30"),
        ("12", "12.00"),
        ("-12.34", "-12.34"),
        ("1.000", "1.00"),
        ("1.2300000000", "1.23"),
        ("-7.10000", "-7.10"),
        ("1E+2", "100.00"),
        ("1.5E+3", "1500.00"),
        ("-2E+1", "-20.00"),
        ("0.1E-1", "0.01"),
        ("5E-2", "0.05"),
        ("123E-2", "1.23"),
        ("1230000E-6", "1.23"),
        ("157.34", "157.34"),
        ("9999999999999.99", "9999999999999.99"),
        ("-9999999999999.99", "-9999999999999.99"),
        ("9.99999999999999E+12", "9999999999999.99"),
        ("999999999999999E-2", "9999999999999.99"),
        ("1E+12", "1000000000000.00"),
        ("0.010000000000000000000000000000000", "0.01"),
    ],
)
def test_decimal128_values(text: str, expected: str) -> None:
    value = Decimal128(text)
    assert_two_places(parse_amount(value), expected)
    # the slow path (to_decimal) gives the very same figure
    assert_two_places(parse_amount(value.to_decimal()), expected)
    assert reference(value.to_decimal()) == Decimal(expected)


@pytest.mark.parametrize(
    "text",
    [
        "10.005",
        "0.001",
        "-0.001",
        "12.345",
        "1E-3",
        "0.0000000000000000000000000000000001",
        "1E-6176",
        "NaN",
        "-NaN",
        "sNaN",
        "Infinity",
        "-Infinity",
        "1E+13",
        "-1E+13",
        "10000000000000.00",
        "-10000000000000",
        "9999999999999.995",
        "1E+14",
        "1E+6111",
        "9999999999999999999999999999999999E+6111",
        "-9999999999999999999999999999999999",
    ],
)
def test_decimal128_rejections(text: str) -> None:
    with pytest.raises(BadAmount):
        parse_amount(Decimal128(text))
    with pytest.raises(BadAmount):
        parse_amount(Decimal128(text).to_decimal())


def test_decimal128_rejection_reasons() -> None:
    with pytest.raises(BadAmount, match="whole number of cents"):
        parse_amount(Decimal128("10.005"))
    with pytest.raises(BadAmount, match="10\\^13"):
        parse_amount(Decimal128("1E+13"))
    with pytest.raises(BadAmount, match="finite"):
        parse_amount(Decimal128("NaN"))
    with pytest.raises(BadAmount, match="finite"):
        parse_amount(Decimal128("-Infinity"))


def _bid(high: int, low: int = 0) -> Decimal128:
    return Decimal128.from_bid(low.to_bytes(8, "little") + high.to_bytes(8, "little"))


def test_large_coefficient_form_goes_through_to_decimal() -> None:
    # bits 62-61 = 11 (not infinity/NaN): the coefficient would exceed 10^34, so the
    # value is a non-canonical zero; the exponent field sits at bits 60-47
    zero_cents = _bid((0b11 << 61) | ((6176 - 2) << 47), low=12345)
    assert zero_cents.to_decimal() == 0
    assert_two_places(parse_amount(zero_cents), "0.00")
    negative = _bid((1 << 63) | (0b11 << 61) | ((6176 - 5) << 47))
    assert_two_places(parse_amount(negative), "0.00")


def test_canonical_encodings_decode_on_the_fast_path() -> None:
    # 1234 * 10^-2 with the exponent field 6174, and its negative
    high = (6176 - 2) << 49
    assert parse_amount(_bid(high, 1234)) == Decimal("12.34")
    assert parse_amount(_bid(high | (1 << 63), 1234)) == Decimal("-12.34")
    # a coefficient spilling into the high word: 123 * 10^19 at exponent -21 is 1.23
    coefficient = 123 * 10**19
    value = _bid(((6176 - 21) << 49) | (coefficient >> 64), coefficient & ((1 << 64) - 1))
    assert value.to_decimal() == Decimal("1.23")
    assert_two_places(parse_amount(value), "1.23")
    # the same coefficient at exponent -22 is not whole cents, at -2 far too large
    with pytest.raises(BadAmount, match="cents"):
        parse_amount(_bid(((6176 - 22) << 49) | (coefficient >> 64), coefficient & (2**64 - 1)))
    with pytest.raises(BadAmount, match="10\\^13"):
        parse_amount(_bid(((6176 - 2) << 49) | (coefficient >> 64), coefficient & (2**64 - 1)))


@pytest.mark.parametrize("coefficient", [10**34, 10**34 + 1234, (1 << 113) - 1])
def test_a_non_canonical_coefficient_reads_as_zero(coefficient: int) -> None:
    # above 10^34 - 1 the BSON spec (and pymongo >= 4.20's to_decimal) reads zero
    high = ((6176 - 2) << 49) | (coefficient >> 64)
    value = _bid(high, coefficient & ((1 << 64) - 1))
    assert value.to_decimal() == 0
    assert_two_places(parse_amount(value), "0.00")
    assert decimal128_text(value) == str(value) == "0.00"


@pytest.mark.parametrize("text", ["0E+16", "0E+20", "-0E+100", "0E+6111"])
def test_zero_with_a_large_exponent_is_zero(text: str) -> None:
    assert reference(Decimal128(text).to_decimal()) == Decimal("0.00")
    assert_two_places(parse_amount(Decimal128(text)), "0.00")


@settings(max_examples=400, deadline=None)
@given(st.binary(min_size=16, max_size=16))
def test_fast_path_agrees_with_to_decimal_on_any_encoding(bid: bytes) -> None:
    value = Decimal128.from_bid(bid)
    try:
        slow = value.to_decimal()
    except decimal.Inexact:  # bson cannot decode it exactly (tiny subnormal, >34 digits)
        with pytest.raises(BadAmount):
            parse_amount(value)
        return
    assert outcome(value) == outcome(slow)


@settings(max_examples=400, deadline=None)
@given(
    negative=st.booleans(),
    coefficient=st.one_of(st.integers(1, 10**6), st.integers(1, 10**34 - 1)),
    exponent=st.one_of(st.integers(-40, 20), st.integers(-6176, 6111)),
)
def test_decimal128_matches_the_spec_reference(negative: bool, coefficient: int,
                                               exponent: int) -> None:
    decimal = Decimal((int(negative), tuple(map(int, str(coefficient))), exponent))
    try:
        value = Decimal128(decimal)
    except Exception:  # not representable in 128 bits (clamped exponent): not an input
        assume(False)
    expected = reference(value.to_decimal())
    if expected is None:
        with pytest.raises(BadAmount):
            parse_amount(value)
    else:
        parsed = parse_amount(value)
        assert parsed == expected
        assert parsed.as_tuple().exponent == -2


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=Decimal("-9999999999999.99"), max_value=Decimal("9999999999999.99"),
                   places=2, allow_nan=False, allow_infinity=False))
def test_any_two_place_amount_round_trips_through_decimal128(amount: Decimal) -> None:
    parsed = parse_amount(Decimal128(amount))
    assert parsed == amount
    assert parsed.as_tuple().exponent == -2
    assert parse_amount(to_decimal128(parsed)) == amount
    assert parse_amount(str(amount)) == amount


# --- Decimal, int, str, float --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0.00"),
        (12, "12.00"),
        (-12, "-12.00"),
        (LIMIT - 1, "9999999999999.00"),
        (-(LIMIT - 1), "-9999999999999.00"),
    ],
)
def test_int_values(value: int, expected: str) -> None:
    assert_two_places(parse_amount(value), expected)


@pytest.mark.parametrize("value", [LIMIT, -LIMIT, 10**20, -(10**40)])
def test_int_of_ten_trillion_or_more(value: int) -> None:
    with pytest.raises(BadAmount, match="10\\^13"):
        parse_amount(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.30", "12.30"),
        ("12.3", "12.30"),
        ("12", "12.00"),
        ("12.", "12.00"),
        (".5", "0.50"),
        ("+5", "5.00"),
        ("-0.01", "-0.01"),
        ("-0", "0.00"),
        ("0", "0.00"),
        ("1.000", "1.00"),
        ("  12.30\n", "12.30"),
        ("9999999999999.99", "9999999999999.99"),
        ("0" * 35 + "12.30", "12.30"),  # 40 characters
    ],
)
def test_decimal_strings(text: str, expected: str) -> None:
    assert_two_places(parse_amount(text), expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "ten dollars",
        "12,30",
        "1,000.00",
        "$12.30",
        "12.30 USD",
        "1e2",
        "1E+2",
        "NaN",
        "nan",
        "Infinity",
        "-inf",
        "1_000",
        "0x10",
        "--5",
        "+-5",
        ".",
        "-",
        "12.3.4",
        "10.005",
        "0.001",
        "10000000000000",
        "-10000000000000.00",
        "0" * 36 + "12.30",  # 41 characters
        "1" * 41,
        "0." + "0" * 100,
    ],
)
def test_string_rejections(text: str) -> None:
    with pytest.raises(BadAmount):
        parse_amount(text)


@pytest.mark.parametrize("text", ["\u0661\u0662.\u0663\u0660", "\uff11\uff12.\uff13\uff10"])
def test_non_ascii_digit_strings_are_not_amounts(text: str) -> None:
    with pytest.raises(BadAmount):
        parse_amount(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12.1, "12.10"),
        (12.3, "12.30"),
        (0.1, "0.10"),
        (0.0, "0.00"),
        (-0.0, "0.00"),
        (-7.25, "-7.25"),
        (100.0, "100.00"),
        (1e2, "100.00"),
        (157.34, "157.34"),
        (9999999999999.99, "9999999999999.99"),
        (1e12, "1000000000000.00"),
    ],
)
def test_finite_float_through_its_shortest_repr(value: float, expected: str) -> None:
    assert_two_places(parse_amount(value), expected)


@pytest.mark.parametrize(
    "value",
    [0.1 + 0.2, 10.005, 0.001, 1e-7, 1e13, -1e13, 1e16, 1e300, math.nan, math.inf, -math.inf],
)
def test_float_rejections(value: float) -> None:
    with pytest.raises(BadAmount):
        parse_amount(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("12.3"), "12.30"),
        (Decimal("1E+2"), "100.00"),
        (Decimal("-0"), "0.00"),
        (Decimal("1.000"), "1.00"),
    ],
)
def test_decimal_values(value: Decimal, expected: str) -> None:
    assert_two_places(parse_amount(value), expected)


@pytest.mark.parametrize(
    "value",
    [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("10.005"), Decimal("1E+13")],
)
def test_decimal_rejections(value: Decimal) -> None:
    with pytest.raises(BadAmount):
        parse_amount(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "missing"),
        (True, "boolean"),
        (False, "boolean"),
        (b"12.30", "bytes"),
        ([12], "list"),
        ({"$numberDecimal": "12.30"}, "dict"),
        (Fraction(1, 4), "Fraction"),
        (complex(1, 0), "complex"),
    ],
)
def test_other_types_are_not_amounts(value: object, reason: str) -> None:
    with pytest.raises(BadAmount, match=reason):
        parse_amount(value)


def test_bad_amount_is_a_value_error() -> None:
    assert issubclass(BadAmount, ValueError)


# --- rounding and store form ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        ("0.005", 1, "0.01"),
        ("-0.005", 1, "-0.01"),
        ("0.0049999999", 1, "0.00"),
        ("1", 200, "0.01"),  # exactly 0.005
        ("1", 201, "0.00"),
        ("1", 3, "0.33"),
        ("2", 3, "0.67"),
        ("182.5", 36500, "0.01"),  # exactly 0.005
        ("182.49", 36500, "0.00"),
        ("547.5", 36500, "0.02"),  # exactly 0.015
        ("141606.00", 36500, "3.88"),  # C1001: 157.34 x 18 x 50 days
        ("67737.60", 36500, "1.86"),  # C6001: 235.20 x 18 x 16 days
        ("0", 36500, "0.00"),
        ("12345678901234567890123456789.005", 1, "12345678901234567890123456789.01"),
        ("24691357802469135780246913578.01", 2, "12345678901234567890123456789.01"),
    ],
)
def test_round_ratio_half_up_without_intermediate_rounding(
    numerator: str, denominator: int, expected: str
) -> None:
    result = round_ratio(Decimal(numerator), denominator)
    assert str(result) == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(-(10**20), 10**20), st.integers(1, 10**6))
def test_round_ratio_matches_exact_fractions(cents_times_k: int, denominator: int) -> None:
    numerator = Decimal(cents_times_k).scaleb(-4)
    exact = Fraction(cents_times_k, 10**4 * denominator) * 100  # in cents
    floor = math.floor(abs(exact))
    rounded = floor + (1 if abs(exact) - floor >= Fraction(1, 2) else 0)
    expected = Decimal(rounded if exact >= 0 else -rounded).scaleb(-2)
    assert round_ratio(numerator, denominator) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.005", "0.01"), ("0.015", "0.02"), ("0.0049", "0.00"), ("-0.005", "-0.01"),
     ("2.675", "2.68"), ("1.0", "1.00")],
)
def test_round_cents_half_up(value: str, expected: str) -> None:
    assert str(round_cents(Decimal(value))) == expected


def test_store_and_text_forms() -> None:
    stored = to_decimal128(Decimal("12.3"))
    assert isinstance(stored, Decimal128)
    assert str(stored) == "12.30"
    assert str(to_decimal128(Decimal("0"))) == "0.00"
    assert str(to_decimal128(Decimal("-29.44"))) == "-29.44"
    assert money_str(Decimal("5")) == "5.00"
    assert money_str(Decimal("-0.5")) == "-0.50"
    assert str(cents_to_decimal(15734)) == "157.34"
    assert str(cents_to_decimal(-1)) == "-0.01"
    assert str(cents_to_decimal(0)) == "0.00"


@settings(max_examples=500, deadline=None)
@given(st.integers(-10**40, 10**40), st.integers(1, 10**12))
def test_half_up_ratio_matches_decimal_half_up(numerator: int, denominator: int) -> None:
    exact = Fraction(numerator, denominator)
    with decimal.localcontext() as ctx:
        ctx.prec = 120
        expected = (Decimal(numerator) / Decimal(denominator)).quantize(
            Decimal(1), rounding=decimal.ROUND_HALF_UP)
    assert half_up_ratio(numerator, denominator) == int(expected)
    assert abs(half_up_ratio(numerator, denominator) - exact) <= Fraction(1, 2)


def test_half_up_ratio_ties_and_bad_denominator() -> None:
    assert [half_up_ratio(n, 2) for n in (-3, -1, 1, 3)] == [-2, -1, 1, 2]
    assert half_up_ratio(0, 7) == 0
    with pytest.raises(ValueError, match="positive"):
        half_up_ratio(1, 0)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=16, max_size=16))
def test_parse_cents_is_parse_amount_in_cents(bid: bytes) -> None:
    value = Decimal128.from_bid(bid)
    try:
        cents = parse_cents(value)
    except BadAmount:
        assert outcome(value) == ("bad", "")
        return
    assert outcome(value) == ("ok", str(cents_to_decimal(cents)))


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.integers(-10**15 + 1, 10**15 - 1).map(cents_to_decimal),
                 st.decimals(allow_nan=False, allow_infinity=False, places=2,
                             min_value=-10**13, max_value=10**13),
                 st.sampled_from([Decimal("-0.00"), Decimal("0"), Decimal("-0"),
                                  Decimal("1E+2"), Decimal("0.005"), Decimal("-0.004")])))
def test_to_decimal128_encodes_the_same_bytes_as_bson(amount: Decimal) -> None:
    assert to_decimal128(amount).bid == Decimal128(amount.quantize(Decimal("0.01"))).bid


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 10**15 + 5).map(
                              lambda c: Decimal128(f"{c // 100}.{c % 100:02d}")),
                          st.binary(min_size=16, max_size=16).map(Decimal128.from_bid)),
                min_size=1, max_size=12))
def test_plain_cents_of_many_amounts_are_their_cents_or_none(values: list[Decimal128]) -> None:
    cents = decimal128_plain_cents(values)
    usual = [value.__getstate__()[0] == (6176 - 2) << 49 for value in values]
    if not all(usual):
        assert cents is None
        return
    decoded = [outcome(value) for value in values]
    if ("bad", "") in decoded:  # 10^13 or more
        assert cents is None
        return
    assert cents == [decimal128_cents(value) for value in values]
    assert [str(cents_to_decimal(c)) for c in cents] == [text for _, text in decoded]


def test_plain_cents_read_the_words_pymongo_keeps() -> None:
    # decimal128_plain_cents reads Decimal128's two words from its slots: if pymongo renames
    # them, this fails (AttributeError) instead of the engine silently slowing or breaking
    assert decimal128_plain_cents([Decimal128("12.34"), Decimal128("0.00")]) == [1234, 0]
    assert decimal128_plain_cents([Decimal128("12.3")]) is None
    assert decimal128_plain_cents([Decimal128("-1.00")]) is None
    assert decimal128_plain_cents([Decimal128("10000000000000.00")]) is None
    assert decimal128_plain_cents([Decimal128("9999999999999.99")]) == [999999999999999]
