"""The fast Extended JSON codec writes and reads exactly what bson.json_util does."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import mongomock_ng
import pytest
from bson import json_util
from bson.decimal128 import Decimal128
from hypothesis import given, settings
from hypothesis import strategies as st

from PaymentProcess.data import extended_json
from PaymentProcess.synthetic.generator import SyntheticOptions, generate
from PaymentProcess.utils.money import decimal128_from_text, decimal128_text
from tests.conftest import GOLDEN_STORE

RELAXED = json_util.RELAXED_JSON_OPTIONS


def golden_lines() -> list[str]:
    return [line for file in sorted(GOLDEN_STORE.glob("*.jsonl"))
            for line in file.read_text().splitlines() if line.strip()]


def assert_same(line: str) -> None:
    ours, theirs = extended_json.loads(line), json_util.loads(line)
    assert repr(ours) == repr(theirs)
    assert extended_json.dumps(theirs) == json_util.dumps(theirs, json_options=RELAXED)


def test_golden_store_lines_round_trip_identically() -> None:
    for line in golden_lines():
        assert_same(line)
        assert extended_json.dumps(extended_json.loads(line)) == line


def test_synthetic_store_documents_encode_identically() -> None:
    db = mongomock_ng.MongoClient().payments
    generate(db, SyntheticOptions(claims=300, payees=10, cycles=2, seed=4, bad_rate=0.05))
    for name in db.list_collection_names():
        for document in db[name].find():
            text = json_util.dumps(document, json_options=RELAXED)
            assert extended_json.dumps(document) == text
            assert repr(extended_json.loads(text)) == repr(json_util.loads(text))


@pytest.mark.parametrize("line", [
    '{"a": {"$binary": "AAEC", "$type": "00"}}',
    '{"r": {"$regex": "^a", "$options": "i"}}',
    '{"d": {"$date": "1960-01-01T00:00:00Z"}}',
    '{"d": {"$date": {"$numberLong": "-1000"}}}',
    '{"d": {"$date": {"$numberLong": "1763596800000"}}}',
    '{"x": {"$numberDouble": "NaN"}}',
    '{"n": {"$numberLong": "123"}, "i": {"$numberInt": "-7"}}',
    '{"o": {"$oid": "5f1d7f0a2b3c4d5e6f708192"}}',
    '{"d": {"$date": "2026-11-20T08:19:11.463Z"}}',
    '{"d": {"$date": "2026-11-20T08:19:11.463+01:00"}}',
    '{"m": {"$numberDecimal": "1E+3"}, "z": {"$numberDecimal": "-0.00"}}',
    '{"m": {"$numberDecimal": "NaN"}, "big": {"$numberDecimal": "123456789012345678901234"}}',
    '{"nested": [{"a": [1, 2.5, null, true, "\\u00e9"]}]}',
])
def test_edge_cases_read_and_write_like_json_util(line: str) -> None:
    assert_same(line)


def test_a_date_json_util_refuses_is_refused() -> None:
    line = '{"d": {"$date": "2026-11-20 08:19:11.463Z"}}'
    with pytest.raises(ValueError):
        json_util.loads(line)
    with pytest.raises(ValueError):
        extended_json.loads(line)


def test_the_plain_decoder_leaves_other_values_to_json_util() -> None:
    assert extended_json.loads_plain('{"d": {"$date": "2026-11-20T08:19:11.463Z"}}') == {
        "d": datetime(2026, 11, 20, 8, 19, 11, 463000)}
    for line in ('{"a": {"$binary": "AAEC", "$type": "00"}}',
                 '{"d": {"$date": "2026-11-20T08:19:11.463+01:00"}}',
                 '{"d": {"$date": {"$numberLong": "-1000"}}}'):
        with pytest.raises(extended_json.Unsupported):
            extended_json.loads_plain(line)


def test_values_json_util_writes_itself() -> None:
    for document in ({"d": datetime(1969, 12, 31)}, {"f": float("inf")}, {"b": b"\x00\x01"}):
        assert extended_json.dumps(document) == json_util.dumps(document, json_options=RELAXED)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(10**18), max_value=10**18), st.integers(min_value=0, max_value=8))
def test_decimal128_text_fast_paths_agree(coefficient: int, places: int) -> None:
    value = Decimal128(Decimal(coefficient).scaleb(-places))
    assert decimal128_text(value) == str(value)
    assert decimal128_from_text(str(value)).bid == Decimal128(str(value)).bid


def test_repeated_values_encode_as_json_util_encodes_each() -> None:
    """The encoder's wrappers are cached per BID encoding and naive date: equal values in
    other encodings or as UTC-aware dates are still written as json_util writes them."""
    from datetime import UTC

    naive = datetime(2026, 11, 20, 8, 19, 11, 463000)
    documents = [{"a": Decimal128("1.50"), "d": naive}, {"a": Decimal128("1.5"), "d": naive},
                 {"a": Decimal128("1.50"), "d": naive.replace(tzinfo=UTC)},
                 {"a": Decimal128("-1.50"), "d": datetime(1969, 12, 31)},
                 {"a": Decimal128("1.50"), "d": naive.replace(microsecond=463999)}]
    for document in documents * 2:
        assert extended_json.dumps(document) == json_util.dumps(document, json_options=RELAXED)
