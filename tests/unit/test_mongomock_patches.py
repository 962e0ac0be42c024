"""The mongomock-ng patches answer exactly what mongomock-ng answers, in linear work.

No test here is timed: linearity is checked by counting the documents a filter examines
and the comparisons a sort makes; the time each patch saves is in docs/performance.md.
"""

from __future__ import annotations

import inspect
import re

import mongomock_ng
import mongomock_ng.collection
import mongomock_ng.filtering
import mongomock_ng.store
import pytest
from bson.decimal128 import Decimal128
from pymongo import ReplaceOne

from PaymentProcess.data import mongomock_patches
from tests.mongomock_support import unpatched


@pytest.mark.parametrize("patch", mongomock_patches.PATCHES,
                         ids=lambda p: f"{p.name}:{p.attribute}")
def test_each_replaced_function_keeps_the_signature_relied_on(patch) -> None:
    assert patch.current() is patch.replacement  # applied on import
    assert str(inspect.signature(patch.original)) == patch.signature
    original = inspect.signature(patch.original).parameters.values()
    replacement = inspect.signature(patch.replacement).parameters.values()
    assert [(p.kind, p.default) for p in replacement] == [
        (p.kind, p.default) for p in original]  # called as the original is


def test_private_attributes_the_patches_read_exist() -> None:
    """The cursor, store and filterer internals the patches use, on the installed fork."""
    coll = mongomock_ng.MongoClient().db.c
    coll.insert_many([{"_id": i} for i in range(3)])
    cursor = coll.find().skip(1).limit(1)
    for name in ("_limit", "_skip", "_emitted", "_compute_results"):
        assert hasattr(cursor, name), name
    assert "with_limit_and_skip" in inspect.signature(cursor._compute_results).parameters
    store = coll._store
    assert isinstance(store, mongomock_ng.store.CollectionStore)
    assert list(store._documents) == [0, 1, 2]
    assert callable(store._remove_expired_documents)
    assert mongomock_ng.filtering.NOTHING is not None
    assert {"$in", "$nin"} <= set(mongomock_ng.filtering._filterer_inst._operator_map)
    assert str(inspect.signature(mongomock_ng.collection._cast_document_class)) == (
        "(doc, document_class)")
    assert str(inspect.signature(mongomock_ng.filtering.resolve_key)) == "(key, doc)"
    assert str(inspect.signature(mongomock_ng.filtering._get_compare_type)) == "(val)"
    assert [d["_id"] for d in cursor] == [1]
    # insert_parsed does what Collection._insert does, with the store's internals
    assert str(inspect.signature(mongomock_ng.collection.Collection._insert)) == (
        "(self, data, session=None, ordered=True, validate=True)")
    assert str(inspect.signature(mongomock_ng.collection._bson_encode)) == (
        "(document, check_keys, codec_options)")
    for name in ("indexes", "options", "_ttl_indexes", "_rwlock", "documents"):
        assert hasattr(store, name), name
    assert callable(coll.codec_options.to_pymongo)


@pytest.fixture
def coll():
    db = mongomock_ng.MongoClient().db
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
    patched = [d["_id"] for d in coll.find(query, sort=[("n", 1), ("_id", 1)])]
    with unpatched("lookup"), unpatched("in"), unpatched("sort"):
        original = [d["_id"] for d in coll.find(query, sort=[("n", 1), ("_id", 1)])]
    assert patched == original


def count_calls(monkeypatch, name: str, *owners) -> list[int]:
    """Replace ``name`` in each owner by a wrapper counting its calls; the count."""
    count = [0]
    original = getattr(owners[0], name)

    def counting(*args, **kwargs):
        count[0] += 1
        return original(*args, **kwargs)

    for owner in owners:
        monkeypatch.setattr(owner, name, counting)
    return count


@pytest.fixture
def examined(monkeypatch) -> list[int]:
    """Counts the documents ``filter_applies`` is asked about (scans and checks alike)."""
    return count_calls(monkeypatch, "filter_applies", mongomock_ng.filtering,
                       mongomock_ng.collection)


def test_upserts_by_id_look_documents_up_instead_of_scanning(examined) -> None:
    db = mongomock_ng.MongoClient().db
    db.c.insert_many([{"_id": f"k{i}"} for i in range(4_000)])
    upserts = [ReplaceOne({"_id": f"x{i}"}, {"_id": f"x{i}"}, upsert=True) for i in range(100)]
    examined[0] = 0
    db.c.bulk_write(upserts, ordered=False)
    assert examined[0] <= 100  # at most one check an upsert, whatever the collection's size
    assert db.c.count_documents({}) == 4_100
    with unpatched("lookup"):  # mongomock-ng alone scans: the patch still removes a cost
        examined[0] = 0
        db.c.update_one({"_id": "x1"}, {"$set": {"v": 1}})
        assert examined[0] >= 4_100


def _unpatched(coll, query) -> list:
    """What mongomock-ng answers without the index: a scan, in the collection's order."""
    return [d["_id"] for d in mongomock_patches._original_iter_documents(coll, query)]


def test_field_index_answers_what_a_scan_answers_through_writes() -> None:
    import random

    rng = random.Random(5)
    db = mongomock_ng.MongoClient().db
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


def test_indexed_queries_examine_only_their_candidates(examined) -> None:
    db = mongomock_ng.MongoClient().db
    db.c.insert_many([{"_id": i, "p": f"P{i}", "ids": [f"C{i}"]} for i in range(8_000)])
    db.c.find_one({"$or": [{"p": "P0"}, {"ids": "C0"}]})  # builds the indexes (linear)
    examined[0] = 0
    for batch in range(40):
        keys = [f"P{batch * 40 + i}" for i in range(40)]
        claims = [f"C{batch * 40 + i}" for i in range(40)]
        assert len(list(db.c.find({"$or": [{"p": {"$in": keys}},
                                           {"ids": {"$in": claims}}]}))) == 40
    assert examined[0] <= 40 * 40  # a scan: 40 x 8,000


def test_fast_clone_equals_the_forks_clone() -> None:
    from collections import OrderedDict
    from datetime import datetime

    from bson.objectid import ObjectId

    nested = {"a": [1, "x", Decimal128("1.10"), {"b": (1, [2]), "c": None}], "d": b"z",
              "e": datetime(2026, 1, 2), "f": 1.5, "g": True, "h": ObjectId(),
              "i": OrderedDict(j=[{"k": 1}]), "s": {1, 2}, "t": ({"u": 1},)}
    fast = mongomock_patches._clone_document(nested)
    generic = mongomock_patches._original_clone_document(nested)
    assert fast == generic
    assert [type(v) for v in fast.values()] == [type(v) for v in generic.values()]
    fast["a"][3]["c"] = 1
    fast["i"]["j"][0]["k"] = 2
    assert nested["a"][3]["c"] is None and nested["i"]["j"][0]["k"] == 1  # copies


def test_fast_datetime_walk_equals_the_generic_one() -> None:
    import copy
    from datetime import UTC, datetime, timedelta, timezone

    from bson.decimal128 import Decimal128
    from bson.timestamp import Timestamp

    from PaymentProcess.data.mongomock_patches import (
        _original_patch_datetime,
        _patch_datetime,
    )

    nested = {"a": [1, "x", Decimal128("1.10"), {"b": (1, 2), "c": None}], "d": b"z",
              "e": datetime(2026, 1, 2, 3, 4, 5, 123456), "f": 1.5, "g": True,
              "h": datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=timezone(timedelta(hours=5))),
              "i": datetime(2026, 1, 2, tzinfo=UTC), "j": Timestamp(5, 1), "k": [[{"l": 2}]]}
    assert _patch_datetime(copy.deepcopy(nested)) == _original_patch_datetime(nested)
    assert _patch_datetime(nested) == _original_patch_datetime(nested)
    assert _patch_datetime([nested, (nested,)]) == _original_patch_datetime([nested, (nested,)])


def test_decimals_sort_as_numbers_with_nan_first() -> None:
    coll = mongomock_ng.MongoClient().db.claims
    coll.insert_many([{"_id": 1, "p": "C1"}, {"_id": 2, "p": Decimal128("1.5")},
                      {"_id": 3, "p": Decimal128("NaN")}, {"_id": 4, "p": 1},
                      {"_id": 5, "p": 2.25}, {"_id": 6, "p": Decimal128("-Infinity")},
                      {"_id": 7, "p": None}, {"_id": 8, "p": Decimal128("1.50")}])
    order = [d["_id"] for d in coll.find(sort=[("p", 1), ("_id", 1)])]
    assert order == [7, 3, 6, 4, 2, 8, 5, 1]  # null, numbers (NaN first), then text
    assert [d["_id"] for d in coll.find({"p": {"$gt": 1}}, sort=[("_id", 1)])] == [2, 5, 8]
    # mongomock-ng 7.11.1 alone cannot compare a Decimal128 with an int
    with unpatched("decimal"), pytest.raises((TypeError, AttributeError)):
        list(coll.find({"p": {"$gt": 1}}))


def test_minkey_and_maxkey_sort_below_and_above_every_value_as_on_mongodb() -> None:
    from bson import MaxKey, MinKey

    coll = mongomock_ng.MongoClient().db.claims
    coll.insert_many([{"_id": 1, "p": "C1"}, {"_id": 2, "p": MaxKey()}, {"_id": 3},
                      {"_id": 4, "p": MinKey()}, {"_id": 5, "p": 7}, {"_id": 6, "p": MinKey()}])
    order = [d["_id"] for d in coll.find(sort=[("p", 1), ("_id", 1)])]
    assert order == [4, 6, 3, 5, 1, 2]  # MinKey, missing (null), numbers, text, MaxKey
    assert [d["_id"] for d in coll.find(sort=[("p", -1), ("_id", 1)])] == [2, 1, 5, 3, 4, 6]
    with unpatched("sort"), pytest.raises(NotImplementedError):  # mongomock-ng 7.11.1 alone
        list(coll.find(sort=[("p", 1)]))


def test_decimals_compare_exactly() -> None:
    coll = mongomock_ng.MongoClient().db.c
    big = "1234567890123456789.01"
    coll.insert_many([{"_id": 1, "p": Decimal128(big)},
                      {"_id": 2, "p": Decimal128(big[:-1] + "2")}])
    assert [d["_id"] for d in coll.find({"p": {"$gt": Decimal128(big)}})] == [2]
    with unpatched("decimal"):  # as floats the two are equal
        assert [d["_id"] for d in coll.find({"p": {"$gt": Decimal128(big)}})] == []


def _unpatched_sorted(coll, query, sort) -> list:
    """What mongomock-ng answers with its own sort key."""
    with unpatched("sort"):
        return list(coll.find(query, sort=sort))


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
        db = mongomock_ng.MongoClient().db
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
                sort = list(sort.items()) if isinstance(sort, dict) else sort
                try:
                    expected = _unpatched_sorted(db.c, query, sort)
                except NotImplementedError:
                    continue  # mongomock-ng cannot sort those types: neither can the patch
                assert list(db.c.find(query, sort=sort)) == expected, (kinds, sort)


def test_sorts_of_plain_values_make_no_bson_comparison(monkeypatch) -> None:
    db = mongomock_ng.MongoClient().db
    db.c.insert_many([{"_id": f"C{i:06d}", "p": f"P{(i * 7919) % 500:05d}", "e": "E",
                       "n": Decimal128(f"{(i * 31) % 97}.5")} for i in range(2_000)])
    calls = count_calls(monkeypatch, "bson_compare", mongomock_ng.filtering)
    for sort in ([("p", 1), ("_id", 1)], [("n", -1), ("_id", 1)]):
        found = [(d[sort[0][0]], d["_id"]) for d in db.c.find({"e": "E"}, sort=sort)]
        expected = sorted(found, key=lambda pair: pair[1])
        expected.sort(key=lambda pair: pair[0].to_decimal() if isinstance(pair[0], Decimal128)
                      else pair[0], reverse=sort[0][1] < 0)
        assert found == expected
    assert calls[0] == 0
    with unpatched("sort"):  # mongomock-ng's key: a comparison a pair, n log n of them
        list(db.c.find({"e": "E"}, sort=[("p", 1)]))
    assert calls[0] > 2_000


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


@pytest.mark.parametrize("seed", [17, 18, 19])
def test_compiled_filters_answer_what_mongomock_answers(seed: int) -> None:
    import random
    from datetime import datetime

    from bson.decimal128 import Decimal128

    rng = random.Random(seed)
    values = ["a", "b", "", "A", 1, 1.0, True, None, ["a"], ["b", "a"], [], [["a"]],
             ["c", 1], ["", "c"],
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
                {"$in": ["a", 1]}, {"$exists": 1}, None, 1, {"$ne": "a"}, {"$ne": ""},
                {"$ne": 1}])
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
                assert answer == mongomock_ng.filtering.filter_applies(query, doc), (query, doc)
    assert compiled_some > 100


def test_compiled_filters_in_queries_and_updates() -> None:
    db = mongomock_ng.MongoClient().db
    docs = [{"_id": f"c{i}", "e": "E" if i % 3 else "F", "p": f"P{i % 7}"} for i in range(60)]
    docs[5]["e"] = ["E"]  # an array: mongomock decides
    docs[6]["s"] = None  # present although null
    for i in range(0, 60, 4):  # the ledger's shape: an array of claim ids
        docs[i]["ids"] = [f"K{i}", f"K{i + 1}"] if i % 8 else []
    db.c.insert_many(docs)
    db.c.update_many({"e": "E", "p": {"$in": ["P1", "P2"]}}, {"$set": {"s": "PAID", "x": "E"}})
    queries = [
        {"e": "E"}, {"e": "E", "s": {"$exists": False}},
        {"e": "E", "$or": [{"s": {"$exists": False}}, {"x": "E"}]},
        {"_id": {"$in": ["c1", "c5", "zz"]}, "e": "E"}, {"_id": "c5", "e": "E"},
        {"s": {"$exists": True}}, {"p": {"$in": []}},
        {"e": {"$ne": "F"}, "$or": [{"p": {"$in": ["P1", "P3"]}}, {"ids": {"$in": ["K5", "K13"]}}]},
        {"p": {"$ne": "P2"}, "ids": {"$in": ["K4", "K8", "K0"]}},
    ]
    for query in queries:
        assert [d["_id"] for d in db.c.find(query)] == _unpatched(db.c, query), query
    assert "c5" in [d["_id"] for d in db.c.find({"e": "E"})]
    paid = {"e": "E", "s": {"$exists": True}}
    assert db.c.count_documents(paid) == len(_unpatched(db.c, paid)) == 12


def test_bulk_insert_of_parsed_documents_equals_insert_many() -> None:
    from datetime import datetime

    docs = [{"_id": "a", "n": 1, "d": datetime(2026, 1, 2, 3, 4, 5, 6000)},
            {"_id": 2, "lines": [{"x": Decimal128("1.10")}], "e": "E"},
            {"_id": "c", "e": "E"},
            {"_id": "a", "n": 9},  # duplicate: stops here
            {"_id": "z"}]
    db = mongomock_ng.MongoClient(tz_aware=False).db
    db.c.insert_one({"_id": "first", "e": "E"})
    list(db.c.find({"e": "E"}))  # builds the field index of "e"
    assert mongomock_patches.insert_parsed(db.c, [dict(d) for d in docs]) == 3
    expected = mongomock_ng.MongoClient(tz_aware=False).db.c
    expected.insert_one({"_id": "first", "e": "E"})
    expected.insert_many([dict(d) for d in docs[:3]])
    assert list(db.c.find()) == list(expected.find())
    assert [d["_id"] for d in db.c.find({"e": "E"})] == ["first", 2, "c"]  # index kept current
    for refused in ({"n": 1}, {"_id": {"k": 1}}, {"_id": 1.5}, {"_id": "q", "$x": 1},
                    {"_id": "q", "a": {"b\0": 1}}, {"_id": "q", "n": 2**64}, {"_id": 2}):
        assert mongomock_patches.insert_parsed(db.c, [refused]) == 0, refused
    assert db.c.count_documents({}) == 4
    db.d.create_index("u", unique=True)
    assert mongomock_patches.insert_parsed(db.d, [{"_id": 1}]) == 0  # indexes: insert_many's


@pytest.mark.parametrize("seed", range(20))
def test_find_stored_gives_what_find_gives_in_its_order(seed: int) -> None:
    """The claims of an event in chain order, read uncopied: the documents and order of
    ``find`` (ties, missing and mixed-type sort values, an upsert's OrderedDict)."""
    import random

    rng = random.Random(seed)
    coll = mongomock_ng.MongoClient().db.c
    parents = ["P1", "P2", "P10", None, 7, Decimal128("2.5"), ["P1"]]
    for i in range(40):
        document = {"_id": f"C{rng.randrange(1000):03d}-{i}", "ev": rng.choice(["E1", "E2"]),
                    "lines": [{"n": i}]}
        if rng.random() < 0.9:
            document["parent"] = rng.choice(parents)
        if rng.random() < 0.2:
            document["paid"] = "PE"
        if rng.random() < 0.2:  # stored as an upsert stores it
            coll.bulk_write([ReplaceOne({"_id": document["_id"]}, document, upsert=True)])
        else:
            coll.insert_one(document)
    event = {"ev": "E1", "$or": [{"paid": {"$exists": False}}, {"paid": "PE"}]}
    for query, order in ((event, [("parent", 1), ("_id", 1)]), ({}, [("parent", -1)]),
                         ({"ev": "E2"}, [("_id", -1), ("parent", 1)]), (event, [])):
        found = list(coll.find(query, sort=order or None))
        stored = list(mongomock_patches.find_stored(coll, query, order))
        assert [list(d.items()) for d in stored] == [list(d.items()) for d in found]
        assert {type(d) for d in stored} <= {dict}
        assert all(d is coll._store._documents[d["_id"]] for d in stored
                   if type(coll._store._documents[d["_id"]]) is dict)


def test_the_fork_function_find_stored_reproduces_is_unchanged() -> None:
    """find_stored selects and orders as ``Collection._get_dataset`` of mongomock-ng
    7.11.1 does: a new version must be checked against it (and the digest renewed)."""
    import hashlib

    source = inspect.getsource(mongomock_ng.collection.Collection._get_dataset)
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == "13879a2e18b4fc9e"


def test_stored_documents_are_what_find_returns_in_its_order() -> None:
    coll = mongomock_ng.MongoClient().db.c
    coll.insert_many([{"_id": i, "n": i, "sub": {"k": [i]}} for i in range(5)])
    coll.update_one({"_id": 1}, {"$set": {"n": 10}})
    coll.delete_one({"_id": 2})
    coll.replace_one({"_id": 0}, {"m": 1})
    coll.insert_one({"_id": -1})
    stored = list(mongomock_patches.stored_documents(coll))
    assert stored == list(coll.find({}))
    assert [d["_id"] for d in stored] == [0, 1, 3, 4, -1]
    assert all(a is b for a, b in zip(stored, coll._store._documents.values(), strict=True))


@pytest.mark.parametrize("projection", [
    {"a": 1}, {"a": 1, "_id": 0}, {"_id": False, "s": True, "a": 1}, {"a": 1, "_id": 1},
    {"missing": 1}, {"s": 1, "a": 1, "_id": 1}, {"_id": 1}, {"_id": 0}, {"a": 0},
    {"s.k": 1}, {"l": {"$slice": 1}}, ["a"], {}, None,
])
def test_plain_inclusion_projections_equal_mongomock_projections(projection) -> None:
    db = mongomock_ng.MongoClient().db
    db.c.insert_many([{"s": {"k": [1, {"x": 2}], "j": 3}, "_id": "p", "a": Decimal128("1.10"),
                       "l": [1, 2, 3]}, {"a": None, "_id": 2}, {"_id": {"o": 1}, "z": 1}])

    def shape(document):
        return [(k, type(v), v) for k, v in document.items()]

    patched = list(db.c.find({}, projection))
    with unpatched("projection"):
        original = list(db.c.find({}, projection))
    assert [shape(d) for d in patched] == [shape(d) for d in original]
    for document in patched:  # copies: changing them changes nothing stored
        for value in document.values():
            if isinstance(value, dict):
                value["changed"] = True
    assert list(db.c.find({}, projection)) == original


def test_a_mixed_projection_is_still_refused() -> None:
    coll = mongomock_ng.MongoClient().db.c
    coll.insert_one({"_id": 1, "a": 1, "s": 2})
    with pytest.raises(ValueError, match="mix including and excluding"):
        list(coll.find({}, {"a": 1, "s": 0}))


def test_a_filter_matching_no_indexed_document_is_still_checked() -> None:
    """No candidate in the field index: an invalid filter still fails as mongomock-ng
    fails it, a compiled (valid) one just finds nothing."""
    db = mongomock_ng.MongoClient().db
    db.c.insert_many([{"_id": "a", "e": "E", "ids": ["K1"]}])
    assert list(db.c.find({"e": "F", "$or": [{"p": {"$in": ["P"]}}, {"ids": {"$in": []}}]})) == []
    with pytest.raises(mongomock_ng.OperationFailure):
        list(db.c.find({"p": {"$bogus": 1}, "e": "F"}))
    with pytest.raises(mongomock_ng.OperationFailure):
        _unpatched(db.c, {"p": {"$bogus": 1}, "e": "F"})
