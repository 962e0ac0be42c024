"""Batching helpers: chunk iterables and write documents as unordered bulk upserts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

from pymongo import ReplaceOne
from pymongo.collection import Collection

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
