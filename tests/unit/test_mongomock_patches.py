"""The linear-time mongomock patches answer exactly what mongomock answers, and fast."""

from __future__ import annotations

import re
import time

import mongomock
import pytest
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

    small, large = upsert_seconds(1_000), upsert_seconds(16_000)
    assert large < small * 4, (small, large)  # unpatched: about 16 times slower
    assert db.c.count_documents({}) == 16_500
