"""The fast Extended JSON codec: what it writes json_util reads back as it reads json_util's
own output, and what it reads is what json_util reads."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum, StrEnum
from typing import Any

import mongomock_ng
import orjson
import pytest
from bson import (
    SON,
    Binary,
    Code,
    DBRef,
    Int64,
    MaxKey,
    MinKey,
    ObjectId,
    Regex,
    Timestamp,
    json_util,
)
from bson.decimal128 import Decimal128
from bson.errors import InvalidDocument
from hypothesis import example, given, settings
from hypothesis import strategies as st

from PaymentProcess.data import extended_json
from PaymentProcess.data.embedded_store import EmbeddedStore
from PaymentProcess.synthetic.generator import SyntheticOptions, generate
from PaymentProcess.utils.money import decimal128_from_text, decimal128_text
from tests.conftest import GOLDEN_STORE

RELAXED = json_util.RELAXED_JSON_OPTIONS


def golden_lines() -> list[str]:
    return [line for file in sorted(GOLDEN_STORE.glob("*.jsonl"))
            for line in file.read_text().splitlines() if line.strip()]


def typed(value: Any) -> Any:
    """``value`` with every type, key order and float bit pattern spelled out (``==``
    alone takes 1 for 1.0, 0.0 for -0.0 and Int64 for int)."""
    if type(value) is dict:
        return ("dict", [(typed(key), typed(item)) for key, item in value.items()])
    if type(value) is list:
        return ("list", [typed(item) for item in value])
    if type(value) is float:
        return ("float", value.hex())
    return (type(value).__name__, repr(value))


def assert_encodes_as_json_util(document: dict[str, Any]) -> bytes:
    """The line written for ``document`` reads back, with json_util and with our reader,
    as json_util's own output for it does; that line is returned."""
    line = extended_json.dumps_line(document)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    expected = typed(json_util.loads(json_util.dumps(document, json_options=RELAXED)))
    assert typed(json_util.loads(line)) == expected
    assert typed(extended_json.loads(line[:-1].decode())) == expected
    assert extended_json.dumps(document) == line[:-1].decode()
    return line


def assert_same(line: str) -> None:
    ours, theirs = extended_json.loads(line), json_util.loads(line)
    assert repr(ours) == repr(theirs)
    assert_encodes_as_json_util(theirs)


def test_golden_store_lines_round_trip() -> None:
    for line in golden_lines():
        assert_same(line)
        document = extended_json.loads(line)
        assert extended_json.loads(extended_json.dumps(document)) == document


def test_synthetic_store_documents_encode_as_json_util_reads_them() -> None:
    """...and on orjson's path: compact, UTF-8 (json_util writes ``", "`` and escapes)."""
    db = mongomock_ng.MongoClient().payments
    generate(db, SyntheticOptions(claims=300, payees=10, cycles=2, seed=4, bad_rate=0.05))
    for name in db.list_collection_names():
        for document in db[name].find():
            line = assert_encodes_as_json_util(document)
            assert b'", "' not in line and b'": ' not in line
            text = json_util.dumps(document, json_options=RELAXED)
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
    """Documents orjson cannot write as json_util would are json_util's line, byte for byte."""
    nan = float("nan")
    for document in ({"d": datetime(1969, 12, 31)}, {"f": float("inf")}, {"b": b"\x00\x01"},
                     {"n": None, "deep": [{"x": nan}]}, {"t": (1, -float("inf"))},
                     {"big": 2**64}, {"k": {1: 2}}, {"s": "\ud800"}, {"c": Code("x")},
                     {"r": Regex("^a", "i")}, {"ts": Timestamp(1, 2)}, {"m": MinKey()},
                     {"ref": DBRef("c", 1)}, {"son": SON([("b", 1), ("a", 2)])}):
        line = assert_encodes_as_json_util(document)
        assert line == json_util.dumps(document, json_options=RELAXED).encode() + b"\n"


def test_nulls_and_the_text_null_stay_on_orjsons_path() -> None:
    for document in ({"a": None, "b": [None, {"c": None}], "s": "null", "f": 1.5},
                     OrderedDict([("_id", "x"), ("n", None), ("i", Int64(7))])):
        line = assert_encodes_as_json_util(document)
        assert b'": ' not in line


def test_values_the_store_refuses_never_reach_the_encoder() -> None:
    """orjson writes a UUID as its text and an Enum as its value (json_util refuses both):
    mongomock's BSON check refuses them on every write, so no stored document holds one."""
    class Colour(Enum):
        RED = 1

    store = EmbeddedStore(None)
    store.db.C.insert_one({"_id": "x"})
    for value in (uuid.uuid4(), Colour.RED, orjson.Fragment(b"1")):
        with pytest.raises((ValueError, InvalidDocument)):
            store.db.C.insert_one({"v": value})
        with pytest.raises((ValueError, InvalidDocument)):
            store.db.C.update_one({"_id": "x"}, {"$set": {"v": value}})
        with pytest.raises((ValueError, InvalidDocument)):
            store.db.C.replace_one({"_id": "x"}, {"v": value})


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(10**18), max_value=10**18), st.integers(min_value=0, max_value=8))
def test_decimal128_text_fast_paths_agree(coefficient: int, places: int) -> None:
    value = Decimal128(Decimal(coefficient).scaleb(-places))
    assert decimal128_text(value) == str(value)
    assert decimal128_from_text(str(value)).bid == Decimal128(str(value)).bid


def test_repeated_values_encode_as_json_util_encodes_each() -> None:
    """The encoder's wrappers are cached per BID encoding and naive date: equal values in
    other encodings or as UTC-aware dates are still written as json_util writes them."""
    naive = datetime(2026, 11, 20, 8, 19, 11, 463000)
    documents = [{"a": Decimal128("1.50"), "d": naive}, {"a": Decimal128("1.5"), "d": naive},
                 {"a": Decimal128("1.50"), "d": naive.replace(tzinfo=UTC)},
                 {"a": Decimal128("-1.50"), "d": datetime(1969, 12, 31)},
                 {"a": Decimal128("1.50"), "d": naive.replace(microsecond=463999)}]
    for document in documents * 2:
        assert_encodes_as_json_util(document)


# --- random documents of every type a store can hold, and some it cannot -------------------


class Level(IntEnum):
    HIGH = 7


class Tag(StrEnum):
    PAID = "paid"


_decimals = st.one_of(
    st.sampled_from(["NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "-0", "0E-6176", "1.50",
                     "9.999999999999999999999999999999999E+6144"]).map(Decimal128),
    st.builds(lambda sign, digits, exponent: Decimal128(Decimal((sign, digits, exponent))),
              st.integers(0, 1), st.lists(st.integers(0, 9), min_size=1, max_size=34).map(tuple),
              st.integers(-6176, 6111 - 33)),
)
_zones = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                          timezone(-timedelta(hours=8))])
_dates = st.one_of(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)),
    st.datetimes(min_value=datetime(1969, 12, 31), max_value=datetime(1970, 1, 2)),
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31)),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                 timezones=_zones),
)
_texts = st.one_of(st.text(), st.sampled_from(["null", "NaN", "é\u2028\x00\x7f\U0001f691"]))
_floats = st.one_of(st.floats(), st.sampled_from([
    float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1.0, 1e16, 1e-7, 5e-324,
    1.7976931348623157e308, 123456789012345680000.0]))
_store_leaves = st.one_of(  # what the engine's documents hold
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
    st.integers(-(2**63), 2**63 - 1).map(Int64), _floats, _texts, _decimals, _dates,
    st.binary(min_size=12, max_size=12).map(ObjectId), st.sampled_from([Level.HIGH, Tag.PAID]),
)
_other_leaves = st.one_of(  # BSON values json_util writes; ints and text BSON cannot hold
    st.integers(), st.just("\ud800x"),
    st.builds(Binary, st.binary(max_size=20), st.sampled_from([0, 1, 2, 5, 0x80])),
    st.binary(max_size=8), st.builds(Regex, st.text(max_size=5), st.sampled_from(["", "i", "mx"])),
    st.builds(Code, st.text(max_size=5)), st.builds(Timestamp, st.integers(0, 2**32 - 1),
                                                     st.integers(0, 2**32 - 1)),
    st.just(MinKey()), st.just(MaxKey()), st.builds(DBRef, st.just("c"), st.integers(0, 9)),
)
_keys = st.one_of(st.text(max_size=6), st.sampled_from(["_id", "$x", "a.b", "null"]))


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(children, max_size=4), st.lists(children, max_size=3).map(tuple),
                     st.dictionaries(_keys, children, max_size=4),
                     st.dictionaries(_keys, children, max_size=3).map(OrderedDict))


def _documents(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(_keys, st.recursive(leaves, _containers, max_leaves=12), max_size=6)


def assert_random_document_reads_back(document: dict[str, Any]) -> None:
    try:
        reference = json_util.dumps(document, json_options=RELAXED)
    except (ValueError, TypeError, OverflowError) as refused:
        with pytest.raises(type(refused)):
            extended_json.dumps_line(document)
        return
    try:
        expected = typed(json_util.loads(reference))
    except Exception:  # noqa: BLE001 - json_util cannot read its own line: neither can a store
        return
    line = extended_json.dumps_line(document)
    if typed(json_util.loads(reference)) != expected:  # {"$oid": null}: a new ObjectId a read
        with pytest.raises(ValueError, match=r'^\{"\$oid": null\} names no ObjectId$'):
            extended_json.loads(line[:-1].decode())
        return
    assert typed(json_util.loads(line)) == expected
    assert typed(extended_json.loads(line[:-1].decode())) == expected


@settings(max_examples=1500, deadline=None)
@given(_documents(_store_leaves))
@example({"$oid": None})  # found at random: json_util reads it as a new ObjectId each time
def test_random_store_documents_read_back_as_json_util_own_output(
        document: dict[str, Any]) -> None:
    assert_random_document_reads_back(document)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_documents(st.one_of(_store_leaves, _other_leaves)),
                 st.dictionaries(st.integers(), _store_leaves, min_size=1, max_size=3)))
def test_random_documents_of_every_type_read_back_as_json_util_own_output(
        document: dict[str, Any]) -> None:
    assert_random_document_reads_back(document)
