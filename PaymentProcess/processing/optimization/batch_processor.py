"""Batching helpers: chunk iterables, write documents as unordered bulk upserts, and keep
the cyclic garbage collector's work proportional to a batch."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import Any, TypeVar

from pymongo import ReplaceOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

T = TypeVar("T")


def batch_iterable(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Yield consecutive lists of at most ``size`` items (the last one may be shorter)."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass(frozen=True)
class UpsertResult:
    """How many documents a bulk upsert matched and inserted."""

    matched: int = 0
    upserted: int = 0


def bulk_upsert(
    coll: Collection, docs: list[dict[str, Any]], ordered: bool = False, batch_size: int = 1000
) -> UpsertResult:
    """Replace-or-insert ``docs`` by ``_id`` in unordered bulk writes of ``batch_size``.

    Replaying the same call leaves the same documents: this is the engine's basic
    idempotent write.
    """
    matched = upserted = 0
    for batch in batch_iterable(docs, batch_size):
        result = coll.bulk_write(
            [ReplaceOne({"_id": doc["_id"]}, doc, upsert=True) for doc in batch], ordered=ordered
        )
        matched += result.matched_count
        upserted += result.upserted_count
    return UpsertResult(matched=matched, upserted=upserted)


DUPLICATE_KEY = 11000


def insert_or_replace(coll: Collection, docs: list[dict[str, Any]],
                      batch_size: int = 1000) -> UpsertResult:
    """The same documents as :func:`bulk_upsert`, written as inserts first.

    Each batch is one unordered ``insert_many``; the documents whose ``_id`` exists
    already (a replayed or resumed write) fail with a duplicate key and are then replaced
    as :func:`bulk_upsert` does. On MongoDB a batch of new documents thus costs one insert
    each instead of an upsert's lookup and update (measured in docs/performance.md,
    session 8). Any other write error, and any write concern error, is raised.
    """
    matched = inserted = 0
    for batch in batch_iterable(docs, batch_size):
        try:
            inserted += len(coll.insert_many(batch, ordered=False).inserted_ids)
            continue
        except BulkWriteError as error:
            errors = error.details.get("writeErrors", [])
            if (not errors or error.details.get("writeConcernErrors")
                    or any(item.get("code") != DUPLICATE_KEY for item in errors)):
                raise
            inserted += error.details.get("nInserted", 0)
            existing = [batch[item["index"]] for item in errors]
        result = bulk_upsert(coll, existing, batch_size=batch_size)
        matched += result.matched
        inserted += result.upserted
    return UpsertResult(matched=matched, upserted=inserted)


_paused = False  # automatic collection is off because of collect_per_batch


def _after_fork_in_child() -> None:
    """A process forked inside the loop (a worker) collects what it allocates itself.

    The inherited heap is frozen first: the loop collected only the young generations,
    so the child's first automatic collection would otherwise be a full one, examining
    (and so copying, page by page) every object it inherited: the whole in-memory store,
    about a second a worker at 40,000 claims.
    """
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def collect_per_batch() -> Iterator[Callable[[], object]]:
    """Run a batch loop with the collector's young generations collected once a batch.

    Python's automatic collector examines the whole heap every time enough containers
    have been allocated since the last full collection. With the embedded store that
    heap *is* the database: every claim, ledger entry and PaymentInfo in memory. A
    final run allocates millions of short-lived containers, so it used to re-examine
    the whole store again and again (about 2 s of a 10,000-claim final run, 20 %).

    Inside the block automatic collection is off; the loop calls the function it gets
    after each batch, which collects the two young generations: everything allocated
    since the previous batch. The cyclic garbage a batch makes is freed at its end, so
    memory stays bounded by the batch, while the objects that live on (the documents
    stored) are examined once and then left alone; only a cycle among objects that
    outlived an earlier batch waits for the automatic collection, which is restored on
    exit as it was (a caller that disabled it keeps it disabled). A worker process
    forked inside the block starts with it on, the heap it inherited frozen.
    """
    global _paused
    enabled, paused = gc.isenabled(), _paused
    gc.disable()
    _paused = paused or enabled
    try:
        yield partial(gc.collect, 1)
    finally:
        _paused = paused
        if enabled:
            gc.enable()
