"""Linear-time fixes for mongomock 4.3.0, applied on import (the embedded store uses them).

mongomock evaluates every query by scanning the whole collection and has three costs
that make a payment cycle quadratic in the number of claims:

* ``Cursor.__next__`` re-slices ``results[skip:]`` for every document it returns;
* a filter on ``_id`` (every upsert by ``_id``, every ``update_many`` on a batch of
  ``_id``s) scans the collection although documents are stored in a dict keyed by
  ``_id``;
* ``$in`` rebuilds a list of "is this a regex" flags and searches the value list
  linearly, for every document it tests;
* every document returned is copied field by field with ``copy.copy`` even for
  immutable values (strings, numbers, Decimal128, dates), most of a read's cost.

The patches keep mongomock's semantics: candidates found by ``_id`` are still checked
with mongomock's own filter, and ``$in`` falls back to the original for unhashable or
regular-expression values. Only the order of documents returned by an *unsorted* query
on ``_id`` may differ (the order of the ids asked for), which MongoDB does not define
either. A real MongoDB is untouched by any of this.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import mongomock.collection
import mongomock.filtering
from bson.decimal128 import Decimal128
from bson.objectid import ObjectId

_HASHABLE_IDS = (str, int)
_original_iter_documents = mongomock.collection.Collection._iter_documents
_original_in_op = mongomock.filtering._in_op
_IN_CACHE_SIZE = 16
_in_sets: OrderedDict[int, tuple[Any, frozenset[Any]]] = OrderedDict()


def _cursor_next(self: mongomock.collection.Cursor) -> Any:
    """Index ``skip + emitted`` into the results mongomock computed once; stop at ``limit``."""
    if self._limit and self._emitted >= abs(self._limit):
        raise StopIteration
    results = self._compute_results(with_limit_and_skip=False)
    index = self._skip + self._emitted
    if index >= len(results):
        raise StopIteration
    self._emitted += 1
    return results[index]


_IMMUTABLE = frozenset({str, int, float, bool, type(None), bytes, datetime, Decimal128, ObjectId})


def _copy_field(value: Any, container: type) -> Any:
    """mongomock's copy of a returned document, without copying immutable values."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is list:
        return [_copy_field(item, container) for item in value]
    if isinstance(value, dict):
        new = container()
        for key, item in value.items():
            new[key] = _copy_field(item, container)
        return new
    if isinstance(value, list):
        return [_copy_field(item, container) for item in value]
    return copy.copy(value)


def _plain_id(value: Any) -> bool:
    return type(value) in _HASHABLE_IDS


def _ids_of(selector: Any) -> list[Any] | None:
    """The ``_id`` values a filter is restricted to, when it says so plainly."""
    if not isinstance(selector, dict) or "_id" not in selector:
        return None
    wanted = selector["_id"]
    if _plain_id(wanted):
        return [wanted]
    if (isinstance(wanted, dict) and list(wanted) == ["$in"]
            and isinstance(wanted["$in"], list | tuple) and all(map(_plain_id, wanted["$in"]))):
        return list(dict.fromkeys(wanted["$in"]))
    return None


def _iter_documents(self: mongomock.collection.Collection, selector: Any) -> Iterable[dict]:
    """Look documents up by ``_id`` instead of scanning when the filter pins ``_id``."""
    ids = _ids_of(selector)
    if ids is None:
        return _original_iter_documents(self, selector)
    documents = self._store._documents
    candidates = [documents[i] for i in ids if i in documents]
    return (d for d in candidates if mongomock.filtering.filter_applies(selector, d))


def _value_set(search: Any) -> frozenset[Any] | None:
    """A set of the ``$in`` values, cached per list object, or None if a set cannot serve."""
    key = id(search)
    cached = _in_sets.get(key)
    if cached is not None and cached[0] is search:
        return cached[1]
    if not all(type(v) in _HASHABLE_IDS for v in search):
        return None
    values = frozenset(search)
    _in_sets[key] = (search, values)  # holding ``search`` keeps its id from being reused
    if len(_in_sets) > _IN_CACHE_SIZE:
        _in_sets.popitem(last=False)
    return values


def _in_op(doc_val: Any, search_val: Any) -> bool:
    """``$in`` with a hash lookup when the values and the document's value are plain.

    With only ``str``/``int`` on both sides, set membership answers exactly what
    mongomock's ``x in search_val`` answers; anything else (regexes, ``None`` for a
    missing field, floats, bools, documents) goes to the original.
    """
    if isinstance(search_val, list | tuple) and doc_val is not mongomock.filtering.NOTHING:
        items = doc_val if isinstance(doc_val, list) else (doc_val,)
        if all(type(item) in _HASHABLE_IDS for item in items):
            values = _value_set(search_val)
            if values is not None:
                return any(item in values for item in items)
    return _original_in_op(doc_val, search_val)


mongomock.collection.Cursor.__next__ = _cursor_next
mongomock.collection.Cursor.next = _cursor_next
mongomock.collection.Collection._iter_documents = _iter_documents
mongomock.collection._copy_field = _copy_field
mongomock.filtering._filterer_inst._operator_map["$in"] = _in_op
mongomock.filtering._filterer_inst._operator_map["$nin"] = lambda dv, sv: not _in_op(dv, sv)
