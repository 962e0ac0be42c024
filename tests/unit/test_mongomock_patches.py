"""The linear-time mongomock patches answer exactly what mongomock answers, and fast."""

from __future__ import annotations

import re
import time

import mongomock
import pytest
from bson.decimal128 import Decimal128
from pymongo import ReplaceOne

from PaymentProcess.data import mongomock_patches


@pytest.fixture
def coll():
    db = mongomock.MongoClient().db
    db.c.insert_many([
        {"_id": "a", "n": 1, "tags": ["x", "y"]},
        {"_id": "b", "n": 2, "tags": []},
        {"_id": 3, "n": 3.0},
        {"_id": "d", "n": True, "tags": "x"},
        {"_id": "e"},
    ])
    return db.c


@pytest.mark.parametrize("query", [
    {"_id": "a"}, {"_id": 3}, {"_id": "zz"}, {"_id": {"$in": ["b", "a", "b", "zz"]}},
    {"_id": {"$in": []}}, {"_id": "a", "n": 2}, {"_id": {"$in": ["a", "b"]}, "n": {"$gt": 1}},
    {"n": {"$in": [1, 3]}}, {"n": {"$in": [True]}}, {"tags": {"$in": ["x"]}},
    {"tags": {"$in": [re.compile("^y")]}}, {"n": {"$in": [None]}}, {"n": {"$nin": [1, 2]}},
    {"_id": {"$in": ["a", 3]}},
])
def test_patched_queries_match_the_original(coll, query) -> None:
    patched = sorted(map(str, (d["_id"] for d in coll.find(query))))
    original = sorted(
        str(d["_id"]) for d in mongomock_patches._original_iter_documents(coll, query)
        if mongomock.filtering.filter_applies(query, d))
    assert patched == original


def test_upserts_by_id_stay_linear() -> None:
    db = mongomock.MongoClient().db

    def upsert_seconds(existing: int) -> float:
        db.c.drop()
        db.c.insert_many([{"_id": f"k{i}"} for i in range(existing)])
        started = time.perf_counter()
        db.c.bulk_write([ReplaceOne({"_id": f"x{i}"}, {"_id": f"x{i}"}, upsert=True)
                         for i in range(500)], ordered=False)
        return time.perf_counter() - started

    # best of three: a garbage collection of the suite's heap can land in any one timing
    small = min(upsert_seconds(1_000) for _ in range(3))
    large = min(upsert_seconds(16_000) for _ in range(3))
    assert large < small * 4, (small, large)  # unpatched: about 16 times slower
    assert db.c.count_documents({}) == 16_500


def _unpatched(coll, query) -> list:
    """What mongomock answers without the index: a scan, in the collection's order."""
    return [d["_id"] for d in mongomock_patches._original_iter_documents(coll, query)]


def test_field_index_answers_what_a_scan_answers_through_writes() -> None:
    import random

    rng = random.Random(5)
    db = mongomock.MongoClient().db
    values = ["a", "b", "c", 1, 2, 2.0, True, None, ["a", 1], [["a"]], {"k": "a"}]

    def doc(i):
        d = {"_id": i if i % 3 else f"s{i}"}
        for name in ("f", "g"):
            if rng.random() < 0.8:
                d[name] = rng.choice(values)
        return d

    queries = [
        {"f": "a"}, {"f": 1}, {"f": 2}, {"f": {"$in": ["a", 2, "zz"]}}, {"f": {"$in": []}},
        {"f": "a", "g": {"$ne": "b"}}, {"$or": [{"f": "b"}, {"g": {"$in": ["a", 1]}}]},
        {"$or": [{"f": "b"}, {"g": {"$exists": False}}]}, {"f": "a", "$or": [{"g": 1}]},
        {"g": {"$in": [1, "c"]}, "f": {"$exists": True}}, {"f.k": "a"},
    ]
    for round_ in range(6):
        if round_ == 3:
            db.c.drop()
        db.c.insert_many([doc(i) for i in range(round_ * 40, round_ * 40 + 60)
                          if db.c.count_documents({"_id": i if i % 3 else f"s{i}"}) == 0])
        for query in queries:
            assert [d["_id"] for d in db.c.find(query)] == _unpatched(db.c, query), query
        ids = [d["_id"] for d in db.c.find({}, {"_id": 1})]
        for key in rng.sample(ids, 10):
            db.c.update_one({"_id": key}, {"$set": {"f": rng.choice(values[:6])}})
        db.c.update_many({"g": "a"}, {"$set": {"g": "c"}})
        db.c.replace_one({"_id": ids[0]}, {"f": "b"})
        db.c.delete_many({"f": "c"})
        db.c.bulk_write([ReplaceOne({"_id": f"u{round_}"}, {"f": "a", "g": 1}, upsert=True)])
        for query in queries:
            assert [d["_id"] for d in db.c.find(query)] == _unpatched(db.c, query), query


def test_indexed_queries_stay_linear() -> None:
    db = mongomock.MongoClient().db

    def lookup_seconds(existing: int) -> float:
        db.c.drop()
        db.c.insert_many([{"_id": i, "p": f"P{i}", "ids": [f"C{i}"]} for i in range(existing)])
        db.c.find_one({"$or": [{"p": "P0"}, {"ids": "C0"}]})  # builds the indexes (linear)
        started = time.perf_counter()
        for batch in range(40):
            keys = [f"P{batch * 40 + i}" for i in range(40)]
            claims = [f"C{batch * 40 + i}" for i in range(40)]
            assert len(list(db.c.find({"$or": [{"p": {"$in": keys}},
                                               {"ids": {"$in": claims}}]}))) == 40
        return time.perf_counter() - started

    small = min(lookup_seconds(2_000) for _ in range(3))
    large = min(lookup_seconds(32_000) for _ in range(3))
    assert large < small * 4, (small, large)  # a scan: about 16 times slower


def test_fast_copies_equal_the_generic_ones() -> None:
    import copy
    from datetime import UTC, datetime, timedelta, timezone

    from bson.decimal128 import Decimal128
    from bson.timestamp import Timestamp

    from PaymentProcess.data.mongomock_patches import (
        _deepcopy,
        _original_patch_datetime,
        _patch_datetime,
    )

    nested = {"a": [1, "x", Decimal128("1.10"), {"b": (1, 2), "c": None}], "d": b"z",
              "e": datetime(2026, 1, 2, 3, 4, 5, 123456), "f": 1.5, "g": True,
              "h": datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=timezone(timedelta(hours=5))),
              "i": datetime(2026, 1, 2, tzinfo=UTC), "j": Timestamp(5, 1), "k": [[{"l": 2}]]}
    copied = _deepcopy(nested)
    assert copied == copy.deepcopy(nested)
    copied["a"][3]["c"] = 1
    assert nested["a"][3]["c"] is None  # containers are copies
    assert _patch_datetime(nested) == _original_patch_datetime(nested)
    assert _patch_datetime([nested, (nested,)]) == _original_patch_datetime([nested, (nested,)])


def test_decimals_sort_as_numbers_with_nan_first() -> None:
    coll = mongomock.MongoClient().db.claims
    coll.insert_many([{"_id": 1, "p": "C1"}, {"_id": 2, "p": Decimal128("1.5")},
                      {"_id": 3, "p": Decimal128("NaN")}, {"_id": 4, "p": 1},
                      {"_id": 5, "p": 2.25}, {"_id": 6, "p": Decimal128("-Infinity")},
                      {"_id": 7, "p": None}, {"_id": 8, "p": Decimal128("1.50")}])
    order = [d["_id"] for d in coll.find(sort=[("p", 1), ("_id", 1)])]
    assert order == [7, 3, 6, 4, 2, 8, 5, 1]  # null, numbers (NaN first), then text
    assert [d["_id"] for d in coll.find({"p": {"$gt": 1}}, sort=[("_id", 1)])] == [2, 5, 8]
