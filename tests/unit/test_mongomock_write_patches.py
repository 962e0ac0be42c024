"""The ``writes`` patches (``bulk_write`` of upserts by ``_id``, ``update_many`` by ``_id``
``$in`` with ``$set``) leave exactly the documents, results and errors mongomock-ng's own
methods leave, on random documents and random write sequences.

Each case runs the same writes on two fresh stores, one with the patches and one with
mongomock-ng's methods, and compares the stored documents (``repr``: values, types and
key order), the results and the exceptions.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import random
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import mongomock_ng
import mongomock_ng.collection
import mongomock_ng.helpers
import pytest
from bson.decimal128 import Decimal128
from bson.objectid import ObjectId
from pymongo import ReplaceOne, UpdateOne

from PaymentProcess.data import mongomock_patches
from tests.mongomock_support import unpatched


def both(prepare: Callable[[Any], None], write: Callable[[Any], Any]) -> None:
    """Run ``write`` on a patched store and on the fork's; same outcome and documents."""
    outcomes = []
    for patched in (True, False):
        db = mongomock_ng.MongoClient().db
        prepare(db)
        with nullcontext() if patched else unpatched("writes"):
            try:
                result: Any = ("ok", write(db))
            except Exception as error:  # noqa: BLE001 - compared below
                result = ("error", type(error), str(error), getattr(error, "details", None))
        outcomes.append((result, repr(list(db.c._store._documents.items()))))
    assert outcomes[0][0] == outcomes[1][0]
    assert outcomes[0][1] == outcomes[1][1]


def _result(result: Any) -> Any:
    return getattr(result, "bulk_api_result", None) or result.raw_result


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(16 if depth < 2 else 11)
    return [
        lambda: rng.choice(["", "a", "PAID", "x\u00e9", "E1"]),
        lambda: rng.choice([0, 1, -7, 2**40]),
        lambda: rng.choice([0.5, -0.0, 1e300]),
        lambda: rng.choice([True, False]),
        lambda: None,
        lambda: Decimal128(rng.choice(["1.10", "-0.00", "NaN", "12345678.91"])),
        lambda: datetime(2026, 1, 2, 3, 4, 5, rng.choice([0, 123000, 123456])),
        lambda: datetime(2026, 1, 2, 3, 4, 5, 999999,
                         tzinfo=rng.choice([UTC, timezone(timedelta(hours=-5))])),
        lambda: b"\x00z",
        lambda: ObjectId("65de351417a1b0a800000001"),
        lambda: rng.choice(["s", 3]),
        lambda: {f"k{i}": random_value(rng, depth + 1) for i in range(rng.randrange(3))},
        lambda: [random_value(rng, depth + 1) for _ in range(rng.randrange(3))],
        lambda: tuple(random_value(rng, depth + 1) for _ in range(rng.randrange(3))),
        lambda: [{"line": i, "amount": Decimal128(f"{i}.25")} for i in range(rng.randrange(3))],
        lambda: {"at": datetime(2026, 5, 6, 7, 8, 9, 654321)},
    ][kind]()


def random_document(rng: random.Random, key: str) -> dict[str, Any]:
    names = rng.sample(["a", "b", "c", "d", "e"], rng.randrange(1, 5))
    document = {name: random_value(rng) for name in names}
    if rng.random() < 0.8:  # the engine always names the _id; sometimes first, sometimes not
        document["_id"] = key
        if rng.random() < 0.5:
            document = {"_id": key, **{k: v for k, v in document.items() if k != "_id"}}
    return document


def hold(db: Any, documents: list[dict[str, Any]], unique: bool) -> None:
    """Copies of ``documents`` in ``db.c`` (those a unique sparse index on ``a``, created
    when ``unique``, lets in)."""
    if unique:
        db.c.create_index("a", unique=True, sparse=True)
    for document in documents:
        try:
            db.c.insert_one(copy.deepcopy(document))
        except mongomock_ng.DuplicateKeyError:
            continue


def spoil(rng: random.Random, document: dict[str, Any]) -> None:
    """Something the fork refuses (or does differently), at a random place."""
    damage = rng.randrange(7)
    if damage == 0:
        document["n"] = 2**70  # does not encode
    elif damage == 1:
        document["s"] = {1, 2}
    elif damage == 2:
        document["$bad"] = 1
    elif damage == 3:
        document["deep"] = {"a\0b": 1}
    elif damage == 4:
        document["deep"] = [{1: "x"}]
    elif damage == 5:
        document["_id"] = "another id"
    else:
        document[5] = "int key"


@pytest.mark.parametrize("seed", range(60))
def test_upserts_by_id_leave_what_the_fork_leaves(seed: int) -> None:
    rng = random.Random(seed)
    keys = [f"PE:{i}" for i in range(8)]
    existing = [random_document(rng, k) for k in rng.sample(keys, rng.randrange(5))]
    batches = []
    for _ in range(rng.randrange(1, 4)):
        batch = [(key, random_document(rng, key))
                 for key in rng.choices(keys, k=rng.randrange(1, 7))]
        if rng.random() < 0.3 and existing:  # an unchanged replacement, in another key order
            again = dict(reversed(list(rng.choice(existing).items())))
            batch.insert(rng.randrange(len(batch) + 1), (again.get("_id", keys[0]), again))
        if rng.random() < 0.25:
            spoil(rng, rng.choice(batch)[1])
        batches.append(batch)
    ordered = rng.random() < 0.5
    unique = rng.random() < 0.4

    def prepare(db: Any) -> None:
        if unique:
            db.c.create_index("a", unique=True, sparse=True)
        for i, document in enumerate(existing):  # those a unique index lets in
            try:
                db.c.insert_one(dict(document, _id=document.get("_id", f"x{i}")))
            except mongomock_ng.DuplicateKeyError:
                continue

    def write(db: Any) -> list[Any]:
        results, sending = [], copy.deepcopy(batches)
        for batch in sending:
            sent = [ReplaceOne({"_id": key}, d, upsert=True) for key, d in batch]
            try:
                results.append(_result(db.c.bulk_write(sent, ordered=ordered)))
            except mongomock_ng.BulkWriteError as error:
                results.append(("bulk error", error.details))
        for batch in sending:  # the store kept copies, not the documents sent
            for _, document in batch:
                document.clear()
        return results

    both(prepare, write)


@pytest.mark.parametrize("seed", range(40))
def test_update_many_by_id_leaves_what_the_fork_leaves(seed: int) -> None:
    rng = random.Random(1000 + seed)
    keys = [f"c{i}" for i in range(12)]
    stored = [random_document(rng, k) | {"_id": k} for k in rng.sample(keys, 9)]
    for document in stored:
        if rng.random() < 0.4:
            document["PaymentStatus"] = rng.choice(["PAID", "NEW", 1, True])
    values = rng.choice([{"PaymentStatus": "PAID", "PaidEvent_ID": "PE-1"},
                         {"PaymentStatus": 1}, {"PaymentStatus": True, "z": None},
                         {"a": "PAID"}, {"n": 2**70}, {"a\0": "x"}, {"_id": "c1"},
                         {"a.b": "x"}, {"t": [1, 2]}, {"f": 1.5}])
    ids = [rng.choice(keys + ["missing"]) for _ in range(rng.randrange(8))]
    unique = rng.random() < 0.4

    def prepare(db: Any) -> None:
        hold(db, stored, unique)
        for name in ("PaymentStatus", "a"):  # builds their field indexes
            list(db.c.find({name: "PAID"}))

    def write(db: Any) -> tuple[dict[str, Any], list[list[str]]]:
        raw = dict(db.c.update_many({"_id": {"$in": ids}}, {"$set": values}).raw_result)
        assert raw.pop("connectionId") == db.client._id
        return raw, [[d["_id"] for d in db.c.find({name: value})]  # through the field index
                     for name in ("PaymentStatus", "a", "z") for value in ("PAID", 1, True)]

    both(prepare, write)


def test_a_duplicate_key_on_a_unique_index_is_the_forks_bulk_write_error() -> None:
    def prepare(db: Any) -> None:
        db.c.create_index("key", unique=True)
        db.c.insert_many([{"_id": "p1", "key": "A"}, {"_id": "p2", "key": "B"}])

    for ordered in (True, False):
        writes = [ReplaceOne({"_id": "p3"}, {"_id": "p3", "key": "A"}, upsert=True),
                  ReplaceOne({"_id": "p2"}, {"_id": "p2", "key": "A"}, upsert=True),
                  ReplaceOne({"_id": "p4"}, {"_id": "p4", "key": "C"}, upsert=True)]
        both(prepare, lambda db, w=writes, o=ordered: _result(db.c.bulk_write(w, ordered=o)))
        db = mongomock_ng.MongoClient().db
        prepare(db)
        with pytest.raises(mongomock_ng.BulkWriteError) as raised:
            db.c.bulk_write(writes, ordered=ordered)
        errors = raised.value.details["writeErrors"]
        assert [(e["index"], e["code"]) for e in errors] == (
            [(0, 11000)] if ordered else [(0, 11000), (1, 11000)])
        assert db.c.find_one({"_id": "p2"}) == {"_id": "p2", "key": "B"}  # rolled back
        assert (db.c.find_one({"_id": "p4"}) is None) is ordered


def test_other_write_shapes_go_to_the_fork(monkeypatch) -> None:
    """A mixed bulk, an int ``_id``, a filter beyond ``_id``: the fork's own ``_update``."""
    calls = [0]
    original = mongomock_ng.collection.Collection._update

    def counting(self, *args, **kwargs):
        calls[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(mongomock_ng.collection.Collection, "_update", counting)
    db = mongomock_ng.MongoClient().db
    db.c.bulk_write([ReplaceOne({"_id": f"k{i}"}, {"v": i}, upsert=True) for i in range(50)])
    db.c.update_many({"_id": {"$in": ["k1", "k2"]}}, {"$set": {"s": "PAID"}})
    assert calls[0] == 0  # the engine's shapes: applied directly
    db.c.bulk_write([ReplaceOne({"_id": 1}, {"v": 1}, upsert=True)])
    db.c.bulk_write([ReplaceOne({"_id": "k1"}, {"v": 2}, upsert=True),
                     UpdateOne({"_id": "k2"}, {"$set": {"v": 3}})])
    db.c.update_many({"_id": {"$in": ["k1"]}, "v": 2}, {"$set": {"s": "X"}})
    db.c.update_many({"_id": {"$in": ["k1"]}}, {"$set": {"s": "Y"}}, upsert=True)
    assert calls[0] == 5
    assert db.c.find_one({"_id": "k1"}) == {"_id": "k1", "v": 2, "s": "Y"}


def test_datetimes_are_stored_as_the_fork_stores_them() -> None:
    sent = {"_id": "d", "at": datetime(2026, 1, 2, 3, 4, 5, 123456,
                                       tzinfo=timezone(timedelta(hours=2))),
            "list": (datetime(2026, 1, 2, 0, 0, 0, 999),)}
    db = mongomock_ng.MongoClient().db
    db.c.bulk_write([ReplaceOne({"_id": "d"}, sent, upsert=True)])
    assert db.c._store._documents["d"] == {"_id": "d", "at": datetime(2026, 1, 2, 1, 4, 5, 123000),
                                           "list": [datetime(2026, 1, 2)]}


def built(rng: random.Random, key: str) -> dict[str, Any]:
    """A random document as the engine builds one to hand over: dates already as the
    fork stores them (naive UTC, whole milliseconds)."""
    return unpatched_datetimes(random_document(rng, key) | {"_id": key})


def unpatched_datetimes(document: dict[str, Any]) -> dict[str, Any]:
    with unpatched("datetime"):
        return mongomock_ng.helpers.patch_datetime_awareness_in_document(document)


@pytest.mark.parametrize("seed", range(60))
def test_built_documents_are_stored_as_insert_many_stores_them(seed: int) -> None:
    """``insert_built`` stores a leading run of what an ordered ``insert_many`` would
    store, the documents themselves, and keeps the field index current; the first one
    it leaves, ``insert_many`` refuses (or stores: into a collection with a unique index,
    insert_built leaves every document to the fork)."""
    rng = random.Random(2000 + seed)
    keys = [f"PE:{i}" for i in range(10)]
    existing = [built(rng, key) for key in rng.sample(keys, rng.randrange(4))]
    documents = [built(rng, key) for key in rng.sample(keys, rng.randrange(1, 8))]
    if rng.random() < 0.4:
        spoil(rng, rng.choice(documents))
    unique = rng.random() < 0.3
    indexed = rng.random() < 0.5

    def store(db: Any) -> Any:
        hold(db, existing, unique)
        if indexed:
            list(db.c.find({"a": "a"}))  # builds the field index of "a"
        return db.c

    def ordered_insert(collection: Any, documents: list[dict[str, Any]]) -> Any:
        try:
            return collection.insert_many(documents, ordered=True).inserted_ids
        except Exception as error:  # noqa: BLE001 - compared below
            return type(error)

    sent = copy.deepcopy(documents)
    patched = store(mongomock_ng.MongoClient().db)
    inserted = mongomock_patches.insert_built(patched, sent)
    assert all(patched._store._documents[d["_id"]] is d for d in sent[:inserted])
    rest = ordered_insert(patched, copy.deepcopy(sent[inserted:])) if sent[inserted:] else []
    reference = store(mongomock_ng.MongoClient().db)
    expected = ordered_insert(reference, copy.deepcopy(documents))
    assert repr(list(patched._store._documents.items())) == repr(
        list(reference._store._documents.items()))
    for value in ("", "a", "PAID", 1, -7, True, None):
        assert ([d["_id"] for d in patched.find({"a": value})]
                == [d["_id"] for d in reference.find({"a": value})])
    if isinstance(expected, list):
        assert rest == expected[inserted:]
    elif inserted < len(documents):
        assert rest is expected  # the same error, from the document insert_built left


def test_insert_built_stops_where_a_check_of_the_fork_is_needed() -> None:
    db = mongomock_ng.MongoClient().db
    db.c.create_index("key")
    db.c.insert_one({"_id": "p1", "key": "A"})
    list(db.c.find({"key": "B"}))  # builds the field index of "key"
    documents = [{"_id": "p2", "key": "B"}, {"_id": "p3", "key": "A"}, {"_id": "p1"}]
    assert mongomock_patches.insert_built(db.c, documents) == 2  # p1 exists
    assert [d["_id"] for d in db.c.find()] == ["p1", "p2", "p3"]
    assert [d["_id"] for d in db.c.find({"key": "A"})] == ["p1", "p3"]  # index kept current
    for left in ({"_id": "p1"}, {"_id": 5}, {"_id": ""}, {"key": "C"}, {"_id": "q", "$x": 1},
                 {"_id": "q", "a": {"b\0": 1}}, {"_id": "q", "n": 2**64}):
        assert mongomock_patches.insert_built(db.c, [left, {"_id": "p9"}]) == 0, left
    db.create_collection("v", validator={"n": {"$type": "int"}})
    assert mongomock_patches.insert_built(db.v, [{"_id": "a", "n": 1}]) == 0
    db.u.create_index("key", unique=True)  # the fork's _ensure_uniques decides
    assert mongomock_patches.insert_built(db.u, [{"_id": "a", "key": 1}]) == 0


def reproduced() -> dict[str, Any]:
    """The fork's functions whose behaviour the ``writes`` patches reproduce: a new
    mongomock-ng version must be checked against them (and the digests renewed)."""
    original = {patch.attribute: patch.original for patch in mongomock_patches.PATCHES}
    collection = mongomock_ng.collection
    functions = {
        "Collection.bulk_write": original["bulk_write"],
        "Collection.update_many": original["update_many"],
        "Collection.insert_many": collection.Collection.insert_many,
        "patch_datetime_awareness_in_document":
            original["patch_datetime_awareness_in_document"],
        "BulkOperationBuilder.execute": collection.BulkOperationBuilder.execute,
        "BulkWriteOperation.register_update_op":
            collection.BulkWriteOperation.register_update_op,
    }
    for name in ("_update", "_update_documents", "_apply_update_document",
                 "_apply_replace_document", "_insert", "_update_document_fields",
                 "_update_document_fields_with_positional_awareness",
                 "_update_document_single_field"):
        functions[f"Collection.{name}"] = getattr(collection.Collection, name)
    for name in ("_set_updater", "_bson_encode", "_validate_data_fields",
                 "validate_against_validator"):
        functions[name] = getattr(collection, name)
    return functions


def test_the_fork_functions_the_writes_patches_reproduce_are_unchanged() -> None:
    digests = {name: hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
               for name, function in reproduced().items()}
    assert digests == EXPECTED_DIGESTS


# sha256 of each function's source in mongomock-ng 7.11.1 (first 16 hex digits)
EXPECTED_DIGESTS = {
    "Collection.bulk_write": "b392705685fa12b7",
    "Collection.update_many": "9a16d225cf57b39a",
    "Collection.insert_many": "4b7e0f6e7c88618d",
    "patch_datetime_awareness_in_document": "f8a38f3bf6b13a9d",
    "BulkOperationBuilder.execute": "dbb6e1b50c337014",
    "BulkWriteOperation.register_update_op": "9643d93be009a3c5",
    "Collection._update": "ab4310fcb7f940a6",
    "Collection._update_documents": "c78c42e919b933d4",
    "Collection._apply_update_document": "73715c74e7df7b4b",
    "Collection._apply_replace_document": "9e9fee74dd85c230",
    "Collection._insert": "ca5316fb398987f2",
    "Collection._update_document_fields": "2e64d3c5ddc75834",
    "Collection._update_document_fields_with_positional_awareness": "55bfef0e45c68524",
    "Collection._update_document_single_field": "047b188f496597e3",
    "_set_updater": "f604fceb3e6180ac",
    "_bson_encode": "56e5a260f28a0fe2",
    "_validate_data_fields": "ce09e12452d00487",
    "validate_against_validator": "b99c8934872e497f",
}
