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


def _unpatched_sorted(coll, query, sort, projection=None) -> list:
    """What mongomock answers with its own sort key and copies."""
    return list(mongomock_patches._original_get_dataset(coll, query, sort, projection, dict))


def test_plain_sort_keys_order_as_mongomock_orders() -> None:
    import random
    from datetime import datetime

    from bson.decimal128 import Decimal128

    rng = random.Random(11)
    pools = {
        "str": ["b", "a", "B", "", "ab", "é", "a\x00", "10", "9"],
        "int": [3, -1, 0, 2**62, 2, 7],
        "mixed": ["a", 1, 2.5, True, None, ["b"], [], {"k": 1}, Decimal128("1.5"),
                  datetime(2026, 1, 1)],
        "number": [1, 2.5, -3, 0.0, 2],
        "bool": [True, False],
    }
    for round_ in range(40):
        db = mongomock.MongoClient().db
        kinds = {name: rng.choice(list(pools)) for name in ("p", "q")}
        docs = []
        for i in range(rng.randint(0, 30)):
            doc = {"_id": rng.choice([i, f"id{i:03d}"]), "n": {"p": rng.choice(pools["str"])}}
            for name, kind in kinds.items():
                if rng.random() < (0.9 if round_ % 3 else 1.0):
                    doc[name] = rng.choice(pools[kind])
            docs.append(doc)
        if docs:
            db.c.insert_many(docs)
        sorts = [[("p", 1)], [("p", -1)], [("p", 1), ("_id", 1)], [("q", -1), ("p", 1)],
                 [("_id", 1)], [("_id", -1)], [("n.p", 1), ("_id", -1)], {"p": 1, "q": -1},
                 [("$natural", -1), ("p", 1)], [("missing", 1), ("_id", 1)]]
        for sort in sorts:
            for query in ({}, {"p": {"$exists": True}}):
                try:
                    expected = _unpatched_sorted(db.c, query, sort)
                except NotImplementedError:
                    continue  # mongomock cannot sort those types: neither can the patch
                assert list(db.c.find(query, sort=list(sort.items()) if isinstance(sort, dict)
                                      else sort)) == expected, (kinds, sort)
                assert [d["_id"] for d in db.c.find(query, sort=sort if isinstance(sort, list)
                                                    else list(sort.items()))] == [
                    d["_id"] for d in expected]


def test_plain_sort_key_only_for_one_plain_type() -> None:
    key = mongomock_patches._plain_sort_key
    assert key("p", [{"p": "a"}, {"p": "b"}]) is not None
    assert key("p", [{"p": 1}, {"p": 2}]) is not None
    assert key("p", [{"p": "a"}, {"p": 1}]) is None  # types order first
    assert key("p", [{"p": "a"}, {}]) is None  # a missing field sorts as null
    assert key("p", [{"p": True}, {"p": 1}]) is None
    assert key("p", [{"p": ["a"]}]) is None  # arrays sort by an element
    assert key("p.q", [{"p": {"q": "a"}}]) is None
    assert key("p", []) is None


def test_sorted_queries_stay_fast() -> None:
    db = mongomock.MongoClient().db
    db.c.insert_many([{"_id": f"C{i:06d}", "p": f"P{(i * 7919) % 5000:05d}", "e": "E"}
                      for i in range(20_000)])
    started = time.perf_counter()
    found = list(db.c.find({"e": "E"}, sort=[("p", 1), ("_id", 1)]))
    seconds = time.perf_counter() - started
    assert [(d["p"], d["_id"]) for d in found] == sorted((d["p"], d["_id"]) for d in found)
    assert seconds < 2.0, seconds  # mongomock's comparison key: several seconds


def test_fast_document_copies_equal_mongomock_copies() -> None:
    from collections import OrderedDict
    from datetime import datetime

    from bson.decimal128 import Decimal128

    class Sub(dict):
        pass

    class SubList(list):
        pass

    doc = {"_id": "a", "n": 1, "s": "x", "d": Decimal128("1.10"), "t": datetime(2026, 1, 2),
           "none": None, "b": True, "f": 1.5, "bytes": b"z", "tuple": (1, [2]),
           "lines": [{"x": Decimal128("2.00"), "y": [1, {"z": "w"}]}, [], "v", None],
           "sub": Sub(k=[Sub(j=1)]), "sublist": SubList([{"a": 1}]), "od": OrderedDict(a=1),
           "empty": {}}
    for container in (dict, OrderedDict):
        fast = mongomock_patches._copy_field(doc, container)
        generic = mongomock_patches._original_copy_field(doc, container)
        assert fast == generic

        def shape(value):
            if isinstance(value, dict):
                return (type(value), [(k, shape(v)) for k, v in value.items()])
            if isinstance(value, list):
                return (type(value), [shape(v) for v in value])
            return type(value)

        assert shape(fast) == shape(generic)
        fast["lines"][0]["y"][1]["z"] = "changed"
        fast["sub"]["k"][0]["j"] = 2
        assert doc["lines"][0]["y"][1]["z"] == "w"  # containers are copies
        assert doc["sub"]["k"][0]["j"] == 1


def test_compiled_filters_answer_what_mongomock_answers() -> None:
    import random
    from datetime import datetime

    from bson.decimal128 import Decimal128

    rng = random.Random(17)
    values = ["a", "b", "", "A", 1, 1.0, True, None, ["a"], ["b", "a"], [], [["a"]],
              {"a": 1}, Decimal128("1"), datetime(2026, 1, 1), re.compile("a")]

    def selector(depth: int = 0) -> dict:
        chosen = {}
        for _ in range(rng.randint(0, 3)):
            if depth < 2 and rng.random() < 0.2:
                chosen["$or"] = [selector(depth + 1) for _ in range(rng.randint(1, 3))]
                continue
            name = rng.choice(["f", "g", "_id"])
            chosen[name] = rng.choice([
                rng.choice(["a", "b", ""]), {"$exists": rng.choice([True, False])},
                {"$in": rng.sample(["a", "b", "c", ""], rng.randint(0, 3))},
                {"$in": ["a", 1]}, {"$exists": 1}, None, 1, {"$ne": "a"}])
        return chosen

    def document(i: int) -> dict:
        doc = {"_id": rng.choice([f"id{i}", i])}
        for name in ("f", "g"):
            if rng.random() < 0.75:
                doc[name] = rng.choice(values)
        return doc

    documents = [document(i) for i in range(300)]
    compiled_some = 0
    for _ in range(400):
        query = selector()
        compiled = mongomock_patches._compile(query)
        if compiled is None:
            continue
        compiled_some += 1
        for doc in documents:
            answer = compiled(doc)
            if answer is not None:
                assert answer == mongomock.filtering.filter_applies(query, doc), (query, doc)
    assert compiled_some > 100


def test_compiled_filters_in_queries_and_updates() -> None:
    db = mongomock.MongoClient().db
    docs = [{"_id": f"c{i}", "e": "E" if i % 3 else "F", "p": f"P{i % 7}"} for i in range(60)]
    docs[5]["e"] = ["E"]  # an array: mongomock decides
    docs[6]["s"] = None  # present although null
    db.c.insert_many(docs)
    db.c.update_many({"e": "E", "p": {"$in": ["P1", "P2"]}}, {"$set": {"s": "PAID", "x": "E"}})
    queries = [
        {"e": "E"}, {"e": "E", "s": {"$exists": False}},
        {"e": "E", "$or": [{"s": {"$exists": False}}, {"x": "E"}]},
        {"_id": {"$in": ["c1", "c5", "zz"]}, "e": "E"}, {"_id": "c5", "e": "E"},
        {"s": {"$exists": True}}, {"p": {"$in": []}},
    ]
    for query in queries:
        assert [d["_id"] for d in db.c.find(query)] == _unpatched(db.c, query), query
    assert "c5" in [d["_id"] for d in db.c.find({"e": "E"})]
    paid = {"e": "E", "s": {"$exists": True}}
    assert db.c.count_documents(paid) == len(_unpatched(db.c, paid)) == 12


def test_inclusion_projections_equal_mongomock_projections() -> None:
    import random
    from collections import OrderedDict

    rng = random.Random(23)
    db = mongomock.MongoClient().db
    doc = {"_id": "a", "x": 1, "ClaimCore_ID": "C1", "lines": [{"p": 1}], "m": {"n": [1]},
           "z": None}
    projections = [{"ClaimCore_ID": 1, "_id": 0}, {"ClaimCore_ID": 1}, {"m": 1, "x": True},
                   {"z": 1, "lines": 1, "_id": 1}, {"missing": 1}, {"missing": 1, "_id": 0},
                   {"_id": 0, "x": 1, "m": 1}, {"x": 1, "_id": False}, {"x": 2},
                   {"x": 0}, {"m.n": 1}, {"lines": {"$slice": 1}}, {"_id": 1}, {"_id": 0},
                   {}, {"x": 1, "y": 0}]
    for projection in projections:
        for container in (dict, OrderedDict):
            fast_fields, generic_fields = dict(projection), dict(projection)
            outcomes = []
            for copy_only, fields in ((mongomock_patches._copy_only_fields, fast_fields),
                                      (mongomock_patches._original_copy_only_fields,
                                       generic_fields)):
                try:
                    result = copy_only(db.c, doc, fields, container)
                    outcomes.append(("ok", type(result), list(result.items())))
                except Exception as exc:  # the same error, whatever it is
                    outcomes.append(("raises", type(exc)))
            assert outcomes[0] == outcomes[1], projection
            assert list(fast_fields.items()) == list(generic_fields.items()), projection
    fast = mongomock_patches._copy_only_fields(db.c, doc, {"lines": 1}, dict)
    fast["lines"][0]["p"] = 2
    assert doc["lines"][0]["p"] == 1  # a copy
    db.c.insert_many([{"_id": i, "k": f"K{rng.randint(0, 5)}", "o": i} for i in range(50)])
    assert list(db.c.find({}, {"k": 1, "_id": 0})) == [{"k": d["k"]} for d in db.c.find()]
