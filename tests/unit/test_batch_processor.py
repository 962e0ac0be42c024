"""Batching helpers: chunking and the idempotent bulk upsert."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

import mongomock_ng
import pytest
from pymongo.errors import BulkWriteError

from PaymentProcess.processing.optimization.batch_processor import (
    UpsertResult,
    batch_iterable,
    bulk_upsert,
    insert_or_replace,
)

# The embedded store's write and the server's (inserts first): the same documents and counts.
WRITERS = pytest.mark.parametrize("write", [bulk_upsert, insert_or_replace])


@pytest.mark.parametrize(
    ("items", "size", "expected"),
    [
        ([], 3, []),
        ([1], 1, [[1]]),
        ([1, 2, 3], 1, [[1], [2], [3]]),
        ([1, 2, 3], 3, [[1, 2, 3]]),
        ([1, 2, 3], 2, [[1, 2], [3]]),
        ([1, 2, 3, 4], 2, [[1, 2], [3, 4]]),
        ([1, 2, 3], 10, [[1, 2, 3]]),
        (list(range(7)), 3, [[0, 1, 2], [3, 4, 5], [6]]),
    ],
)
def test_batch_boundaries(items: list[int], size: int, expected: list[list[int]]) -> None:
    assert list(batch_iterable(items, size)) == expected
    assert list(batch_iterable(iter(items), size)) == expected


def test_batches_are_taken_lazily() -> None:
    source = count()
    batches = batch_iterable(source, 3)
    assert next(batches) == [0, 1, 2]
    assert next(source) == 3  # nothing read beyond the first batch
    assert next(batches) == [4, 5, 6]


@pytest.mark.parametrize("size", [0, -1])
def test_batch_size_must_be_positive(size: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(batch_iterable([1, 2], size))


def documents(version: int) -> list[dict]:
    return [{"_id": f"PE-1:C{i}", "amount": i * version, "v": version} for i in range(1, 6)]


@WRITERS
def test_bulk_upsert_twice_leaves_the_same_documents(write: Callable[..., UpsertResult]) -> None:
    coll = mongomock_ng.MongoClient().db.PaymentInfo
    first = write(coll, documents(1), batch_size=2)
    assert first == UpsertResult(matched=0, upserted=5)
    snapshot = list(coll.find(sort=[("_id", 1)]))
    second = write(coll, documents(1), batch_size=2)
    assert second == UpsertResult(matched=5, upserted=0)
    assert list(coll.find(sort=[("_id", 1)])) == snapshot
    assert coll.count_documents({}) == 5


@WRITERS
def test_bulk_upsert_replaces_whole_documents(write: Callable[..., UpsertResult]) -> None:
    coll = mongomock_ng.MongoClient().db.Payments
    write(coll, [{"_id": "a", "x": 1, "old": True}, {"_id": "b", "x": 2}])
    result = write(coll, [{"_id": "a", "x": 10}, {"_id": "c", "x": 3}], batch_size=1)
    assert result == UpsertResult(matched=1, upserted=1)
    assert list(coll.find(sort=[("_id", 1)])) == [{"_id": "a", "x": 10}, {"_id": "b", "x": 2},
                                                  {"_id": "c", "x": 3}]


@WRITERS
def test_bulk_upsert_of_nothing(write: Callable[..., UpsertResult]) -> None:
    coll = mongomock_ng.MongoClient().db.Payments
    assert write(coll, []) == UpsertResult(matched=0, upserted=0)
    assert coll.count_documents({}) == 0


@WRITERS
def test_bulk_upsert_counts_across_many_batches(write: Callable[..., UpsertResult]) -> None:
    coll = mongomock_ng.MongoClient().db.ClaimFinCore
    docs = [{"_id": f"PE:C{i:04d}", "n": i} for i in range(25)]
    assert write(coll, docs[:12], batch_size=10) == UpsertResult(0, 12)
    assert write(coll, docs, batch_size=10) == UpsertResult(12, 13)
    assert coll.count_documents({}) == 25


def test_collect_per_batch_pauses_automatic_collection_and_restores_it() -> None:
    import gc

    from PaymentProcess.processing.optimization.batch_processor import collect_per_batch

    assert gc.isenabled()
    with collect_per_batch():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collect_per_batch():
        raise RuntimeError("a failed batch")
    assert gc.isenabled()
    gc.disable()
    try:
        with collect_per_batch():
            pass
        assert not gc.isenabled()  # a caller that disabled it keeps it disabled
    finally:
        gc.enable()


def test_collect_per_batch_frees_the_cyclic_garbage_of_each_batch() -> None:
    import gc
    import weakref

    from PaymentProcess.processing.optimization.batch_processor import collect_per_batch

    class Node:
        pass

    with collect_per_batch() as collect:
        for _ in range(3):
            node = Node()
            node.self = node  # a cycle: only the collector frees it
            ref = weakref.ref(node)
            del node
            assert ref() is not None  # automatic collection is off
            collect()
            assert ref() is None  # freed at the end of its batch
    assert gc.isenabled()


def test_a_process_forked_inside_collect_per_batch_collects_only_its_own_objects() -> None:
    import gc
    import os

    from PaymentProcess.processing.optimization.batch_processor import collect_per_batch

    with collect_per_batch():
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: a worker is forked like this
            # it collects, but never the heap it inherited (a full collection would copy it)
            os.write(write, b"1" if gc.isenabled() and gc.get_freeze_count() > 0 else b"0")
            os._exit(0)
        os.close(write)
        child_enabled = os.read(read, 1)
        os.close(read)
        os.waitpid(pid, 0)
        assert not gc.isenabled()
    assert child_enabled == b"1"
    gc.disable()
    try:
        with collect_per_batch():  # collection was off before: a child keeps it off
            pid = os.fork()
            if pid == 0:
                os._exit(0 if not gc.isenabled() else 1)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
    finally:
        gc.enable()


def test_insert_or_replace_replaces_the_existing_documents_of_a_mixed_batch() -> None:
    coll = mongomock_ng.MongoClient().db.ClaimFinCore
    coll.insert_many([{"_id": "b", "x": 0, "old": True}, {"_id": "d", "x": 0}])
    result = insert_or_replace(coll, [{"_id": c, "x": n} for n, c in enumerate("abcde")],
                               batch_size=3)
    assert result == UpsertResult(matched=2, upserted=3)
    assert list(coll.find(sort=[("_id", 1)])) == [{"_id": c, "x": n}
                                                  for n, c in enumerate("abcde")]


class RefusingCollection:
    """A collection whose inserts fail with the given bulk write error details."""

    def __init__(self, details: dict) -> None:
        self.details = details

    def insert_many(self, documents: list, ordered: bool) -> None:
        raise BulkWriteError(self.details)


@pytest.mark.parametrize("details", [
    {"writeErrors": [{"index": 0, "code": 121, "errmsg": "Document failed validation"}],
     "nInserted": 0},
    {"writeErrors": [{"index": 0, "code": 11000, "errmsg": "E11000 duplicate key"}],
     "writeConcernErrors": [{"code": 64, "errmsg": "waiting for replication timed out"}],
     "nInserted": 1},
    {"writeErrors": [], "writeConcernErrors": [{"code": 64, "errmsg": "timed out"}],
     "nInserted": 2},
])
def test_insert_or_replace_raises_every_error_but_duplicate_keys(details: dict) -> None:
    with pytest.raises(BulkWriteError):
        insert_or_replace(RefusingCollection(details), [{"_id": "a"}, {"_id": "b"}])
