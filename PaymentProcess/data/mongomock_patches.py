"""Linear-time and correctness fixes for mongomock-ng 7.11.1, applied on import.

The embedded store (``mongomock://``) is mongomock-ng, which evaluates every query by
scanning the whole collection. Each patch below replaces one of its functions; each is
listed in :data:`PATCHES` with the signature of the function it replaces, and
``tests/unit/test_mongomock_patches.py`` fails when an installed mongomock-ng has another
signature (or lacks the private attributes a patch reads). What each patch saves is
measured in ``docs/performance.md`` (``python -m tests.performance.bench_patches``).

* ``cursor``: ``Cursor.__next__`` re-slices ``results[skip:]`` for every document it
  returns (quadratic in the documents a cursor returns).
* ``lookup``: a filter on ``_id`` (every upsert by ``_id``, every ``update_many`` on a
  batch of ``_id``s) scans the collection although documents are stored in a dict keyed
  by ``_id``; a filter on another field (the claims of an event, the ledger entries of a
  batch's chains) scans it whatever the indexes, so one query a batch makes a cycle
  quadratic. A plain equality or ``$in`` of strings/integers on a top-level field (or a
  ``$or`` whose every branch has one) is answered from a hash index of that field, built
  on first use and kept up to date on every insert and update (hooks on
  ``CollectionStore.__setitem__`` and ``Collection._ensure_uniques``). The index is a
  *superset*: it may keep stale entries of updated or deleted documents, and every
  candidate is still checked by the filter, in the collection's order. The plainest
  filter shapes (string equality, ``$in`` of strings, ``$exists``, ``$or`` of those) are
  checked directly; a document whose field is not a plain string is decided by
  mongomock-ng's ``filter_applies``.
* ``in``: ``$in``/``$nin`` compare the document's value with every listed value; with
  only strings and integers on both sides a (cached) set answers the same.
* ``copy``: every document returned is copied field by field with ``copy.copy`` even
  for immutable values. The patched copy shares immutable values, giving equal
  documents.
* ``clone``: every updated document is first snapshotted (for a rollback) by a copy
  that tests each value against a chain of types; the patched copy dispatches on the
  exact type.
* ``datetime``: every inserted or updated document is rebuilt by a generic walk that
  normalises datetimes; the patched walk returns immutable values as they are.
* ``sort``: sorting wraps every value in an object whose ``<`` runs ``bson_compare``
  (n log n Python calls); the patched key orders by (type rank, value) natively for
  null, numbers, strings and booleans, the same order.
* ``writes``: a ``bulk_write`` of upserts by ``_id`` (``ReplaceOne``) and an
  ``update_many`` by ``_id`` ``$in`` with a ``$set`` of plain top-level values (the
  engine's own write shapes) go through the fork's generic update machinery, which
  copies, walks and BSON-encodes each document two or three times. The patched methods
  check every operation first (encodable, no ``$`` field, no validator, session, hint...)
  and then apply them with one copy and one encoding a document, calling the fork's
  ``_ensure_uniques`` as it does; anything else, or any check that fails, goes to the
  fork's own method, which then writes or raises exactly as before.
* ``projection``: a plain inclusion projection (``{"a": 1, "_id": 0}``) builds a nested
  spec and walks every field of every returned document; the patched one takes the
  included fields directly.

Four functions are not replacements but use the store's internals for the embedded
store itself: :func:`insert_parsed` loads the documents of a store file in bulk with the
checks ``insert_many`` makes, :func:`stored_documents` lets a checkpoint encode the
stored documents without copying each first, :func:`find_stored` gives a reader the
claims of an event in ``find``'s order without copying them, and :func:`insert_built`
stores the documents a final run builds and hands over (ledger entries, PaymentInfo)
with an insert's checks, without copying them.

One patch is about correctness, not speed: ``decimal``. mongomock-ng compares two
Decimal128 values as floats (inexact, and NaN unordered) and raises ``TypeError`` when a
Decimal128 meets an int or a float; MongoDB compares them as numbers, NaN below every
other number, and so does the patched ``bson_compare``.

Only the order of documents returned by an *unsorted* query on ``_id`` may differ (the
order of the ids asked for), which MongoDB does not define either. A real MongoDB is
untouched by any of this.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial
from operator import lt
from typing import Any

import bson
import mongomock_ng.codec_options
import mongomock_ng.collection
import mongomock_ng.filtering
import mongomock_ng.helpers
import mongomock_ng.results
import mongomock_ng.store
from bson.codec_options import CodecOptions
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.objectid import ObjectId
from mongomock_ng import BulkWriteError, DuplicateKeyError, WriteError
from pymongo import ReplaceOne

_filtering = mongomock_ng.filtering
_HASHABLE_IDS = (str, int)
_IN_CACHE_SIZE = 16
_in_sets: OrderedDict[int, tuple[Any, frozenset[Any]]] = OrderedDict()
_ABSENT = object()
_UNHASHABLE = frozenset({dict, list, OrderedDict})
_IMMUTABLE = frozenset({str, int, float, bool, type(None), bytes, datetime, Decimal128, ObjectId})
_NO_DATETIME = frozenset({str, int, float, bool, type(None), bytes, Decimal128, ObjectId})

_original_iter_documents = mongomock_ng.collection.Collection._iter_documents
_original_in_op = _filtering._in_op
_original_setitem = mongomock_ng.store.CollectionStore.__setitem__
_original_ensure_uniques = mongomock_ng.collection.Collection._ensure_uniques
_original_copy_field = mongomock_ng.collection._copy_field
_original_clone_document = mongomock_ng.collection._clone_document
_original_patch_datetime = mongomock_ng.helpers.patch_datetime_awareness_in_document
_original_resolve_sort_key = _filtering.resolve_sort_key
_original_bson_compare = _filtering.bson_compare
_cast_document_class = mongomock_ng.collection._cast_document_class
_original_bulk_write = mongomock_ng.collection.Collection.bulk_write
_original_update_many = mongomock_ng.collection.Collection.update_many


# --- cursor ------------------------------------------------------------------------------

def _cursor_next(self: mongomock_ng.collection.Cursor) -> Any:
    """Index ``skip + emitted`` into the results mongomock-ng computed once; stop at ``limit``."""
    if self._limit and self._emitted >= abs(self._limit):
        raise StopIteration
    results = self._compute_results(with_limit_and_skip=False)
    index = self._skip + self._emitted
    if index >= len(results):
        raise StopIteration
    self._emitted += 1
    return _cast_document_class(results[index], self.collection.codec_options.document_class)


# --- copies ----------------------------------------------------------------------------

def _copy_field(value: Any, container: type) -> Any:
    """mongomock-ng's copy of a returned document, without copying immutable values."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is dict:
        return _copy_dict(value, container)
    if kind is list:
        return _copy_list(value, container)
    if isinstance(value, list):
        return _copy_list(value, container)
    if isinstance(value, dict):
        return _copy_dict(value, container)
    return _original_copy_field(value, container)


def _copy_dict(value: dict, container: type) -> Any:
    """``_copy_field`` of a document: immutable values are taken without a call each.

    Into a plain ``dict`` the document is copied whole in C (``dict.copy``, same order)
    and only its containers and other mutable values are replaced by copies.
    """
    if container is dict:
        new = value.copy()
        for key, item in value.items():
            if type(item) not in _IMMUTABLE:
                new[key] = _copy_mutable(item, dict)
        return new
    new = container()
    for key, item in value.items():
        new[key] = item if type(item) in _IMMUTABLE else _copy_mutable(item, container)
    return new


def _copy_mutable(item: Any, container: type) -> Any:
    """A copy of a document, an array or another mutable value, by exact type first."""
    kind = type(item)
    if kind is dict:
        return _copy_dict(item, container)
    if kind is list:
        return _copy_list(item, container)
    return _copy_field(item, container)


def _copy_list(value: list, container: type) -> list:
    """``_copy_field`` of an array (always a plain list, as mongomock-ng makes it)."""
    return [item if type(item) in _IMMUTABLE else _copy_field(item, container)
            for item in value]


def _clone_document(value: Any) -> Any:
    """mongomock-ng's snapshot of a stored document before an update, by exact type.

    The same copy (immutable values shared, dicts and lists rebuilt), with one type test
    a value instead of a chain of ``isinstance`` calls; other types go to the original.
    """
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is dict:
        return {key: _clone_document(item) for key, item in value.items()}
    if kind is list:
        return [_clone_document(item) for item in value]
    return _original_clone_document(value)


# --- lookup: by _id and by a field index ---------------------------------------------------

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


class _FieldIndex:
    """Hash indexes (field -> value -> ids) of one collection's documents, and their order."""

    __slots__ = ("documents", "fields", "position", "next_position")

    def __init__(self, documents: OrderedDict) -> None:
        self.documents = documents  # the dict indexed; ``drop`` replaces it
        self.fields: dict[str, dict[Any, set[Any]]] = {}
        self.position: dict[Any, int] = {}
        self.next_position = 0
        for key in documents:
            self.placed(key)

    def placed(self, key: Any) -> None:
        """Record the place of a document inserted at the end of the collection."""
        self.position[key] = self.next_position
        self.next_position += 1

    def add(self, key: Any, document: dict, names: Iterable[str] | None = None) -> None:
        """Index the document's current values (old values stay: the index is a superset)."""
        for name in self.fields if names is None else names:
            value = document.get(name, _ABSENT)
            if value is _ABSENT:
                continue
            index = self.fields[name]
            for item in value if type(value) is list else (value,):
                if type(item) in _UNHASHABLE:  # documents and lists: never a plain value
                    continue
                try:
                    index.setdefault(item, set()).add(key)
                except TypeError:  # another unhashable value
                    continue

    def field(self, name: str) -> dict[Any, set[Any]]:
        index = self.fields.get(name)
        if index is None:
            index = self.fields[name] = {}
            for key, document in self.documents.items():
                self.add(key, document, (name,))
        return index


def _field_index(store: Any, create: bool) -> _FieldIndex | None:
    index = getattr(store, "_pp_index", None)
    if index is not None and index.documents is store._documents:
        return index
    if not create:
        return None
    index = _FieldIndex(store._documents)
    store._pp_index = index
    return index


def _plain_values(condition: Any) -> list[Any] | None:
    """The values a field condition is an equality or ``$in`` of, when all plain."""
    if _plain_id(condition):
        return [condition]
    if (type(condition) is dict and len(condition) == 1 and "$in" in condition
            and isinstance(condition["$in"], list | tuple)
            and all(map(_plain_id, condition["$in"]))):
        return list(condition["$in"])
    return None


def _indexable(selector: Any) -> list[tuple[str, list[Any]]] | None:
    """(field, values) pairs whose matches are a superset of the selector's, or None."""
    if type(selector) is not dict:
        return None
    for name, condition in selector.items():
        if name.startswith("$") or "." in name or name == "_id":
            continue
        values = _plain_values(condition)
        if values is not None:
            return [(name, values)]
    branches = selector.get("$or")
    if isinstance(branches, list) and branches:
        pairs: list[tuple[str, list[Any]]] = []
        for branch in branches:
            found = _indexable(branch)
            if found is None:
                return None
            pairs += found
        return pairs
    return None


def _indexed_candidates(collection: mongomock_ng.collection.Collection,
                        selector: Any) -> list[dict] | None:
    pairs = _indexable(selector)
    if pairs is None:
        return None
    store = collection._store
    store._remove_expired_documents()
    index = _field_index(store, create=True)
    keys: set[Any] = set()
    for name, values in pairs:
        by_value = index.field(name)
        for value in values:
            found = by_value.get(value)
            if found:
                keys |= found
    documents = store._documents
    position = index.position
    return [documents[k] for k in sorted((k for k in keys if k in documents),
                                         key=position.__getitem__)]


# A compiled filter term: the document's answer, or None when mongomock-ng must decide.
_Term = Callable[[dict], bool | None]


def _equals(name: str, value: str) -> _Term:
    def term(document: dict) -> bool | None:
        found = document.get(name, _ABSENT)
        if type(found) is str:
            return found == value
        return False if found is _ABSENT else None  # arrays, other types: mongomock-ng

    return term


def _not_equals(name: str, value: str) -> _Term:
    def term(document: dict) -> bool | None:
        found = document.get(name, _ABSENT)
        if type(found) is str:
            return found != value
        return True if found is _ABSENT else None

    return term


def _is_in(name: str, values: frozenset[str]) -> _Term:
    def term(document: dict) -> bool | None:
        found = document.get(name, _ABSENT)
        if type(found) is str:
            return found in values
        if type(found) is list and all(type(item) is str for item in found):
            return not values.isdisjoint(found)  # an array matches by any element
        return False if found is _ABSENT else None

    return term


def _exists(name: str, wanted: bool) -> _Term:
    return lambda document: (name in document) is wanted


def _all_of(terms: list[_Term]) -> _Term:
    def term(document: dict) -> bool | None:
        for check in terms:
            answer = check(document)
            if answer is not True:
                return answer  # False, or None: mongomock-ng decides the whole document
        return True

    return term


def _any_of(terms: list[_Term]) -> _Term:
    def term(document: dict) -> bool | None:
        for check in terms:
            answer = check(document)
            if answer is not False:
                return answer
        return False

    return term


def _compile(selector: Any) -> _Term | None:
    """The filter as Python checks, for the plainest shapes only, or None.

    Covered: a document (exact ``dict``) whose entries are a top-level field equal to a
    ``str``, ``$ne`` a ``str``, ``$in`` a list of ``str``, ``{"$exists": bool}``, and
    ``$or`` of such documents. For a field holding a ``str`` or missing (and for ``$in``
    an array of ``str``, which matches by any element), these answer what
    ``filter_applies`` answers (equality of strings, membership, presence; a missing
    field equals no string); for any other value (other arrays, numbers, null...) the
    term answers None and the whole document is handed to ``filter_applies``. Terms are
    checked in its order and none can raise, so a False found before any None is its
    answer too.
    """
    if type(selector) is not dict:
        return None
    terms: list[_Term] = []
    for name, condition in selector.items():
        if name == "$or":
            if type(condition) is not list or not condition:
                return None
            branches = [_compile(branch) for branch in condition]
            if any(branch is None for branch in branches):
                return None
            terms.append(_any_of(branches))  # type: ignore[arg-type]
            continue
        if type(name) is not str or not name or name.startswith("$") or "." in name:
            return None
        if type(condition) is str:
            terms.append(_equals(name, condition))
        elif type(condition) is dict and len(condition) == 1:
            [(operator, operand)] = condition.items()
            if operator == "$exists" and type(operand) is bool:
                terms.append(_exists(name, operand))
            elif operator == "$ne" and type(operand) is str:
                terms.append(_not_equals(name, operand))
            elif (operator == "$in" and type(operand) is list
                  and all(type(value) is str for value in operand)):
                terms.append(_is_in(name, frozenset(operand)))
            else:
                return None
        else:
            return None
    return _all_of(terms)


def _matching(selector: Any, candidates: list[dict]) -> Iterator[dict]:
    """The candidates the selector matches, each decided as mongomock-ng decides it."""
    if not candidates:  # every upsert of a new document: nothing to compile
        return iter(())
    compiled = _compile(selector)
    filter_applies = _filtering.filter_applies
    if compiled is None:
        return (d for d in candidates if filter_applies(selector, d))
    return (d for d in candidates
            if (answer := compiled(d)) or (answer is None and filter_applies(selector, d)))


def _iter_documents(self: mongomock_ng.collection.Collection, filter: Any) -> Iterable[dict]:  # noqa: A002
    """Look documents up by ``_id`` or a field index instead of scanning, when possible."""
    ids = _ids_of(filter)
    if ids is None:
        candidates = _indexed_candidates(self, filter)
        if candidates is None:
            return _original_iter_documents(self, filter)
        if not candidates:  # validate the filter as mongomock-ng would on the first document
            if _compile(filter) is None:  # (a compiled one is of a valid shape)
                _filtering.filter_applies(filter, {})
            return iter(())
        return _matching(filter, candidates)
    documents = self._store._documents
    return _matching(filter, [documents[i] for i in ids if i in documents])


def _setitem(self: Any, key: Any, val: dict) -> None:
    """Every insert (and rollback) goes through here: keep the field index current."""
    index = _field_index(self, create=False)
    if index is not None:
        new = key not in self._documents
        _original_setitem(self, key, val)
        if new:
            index.placed(key)
        index.add(key, val)
        return
    _original_setitem(self, key, val)


def _ensure_uniques(self: mongomock_ng.collection.Collection, new_data: dict) -> None:
    """Called after every insert and every in-place update: index the new values."""
    index = _field_index(self._store, create=False)
    if index is not None and "_id" in new_data:
        key = new_data["_id"]
        if type(key) is dict:
            key = mongomock_ng.helpers.hashdict(key)
        index.add(key, new_data)
    _original_ensure_uniques(self, new_data)


# --- $in -------------------------------------------------------------------------------

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

    With only ``str``/``int`` on both sides, set membership answers exactly what the
    original's equality tests answer; anything else (regexes, a missing field, floats,
    bools, documents) goes to the original.
    """
    if isinstance(search_val, list | tuple) and doc_val is not _filtering.NOTHING:
        items = doc_val if isinstance(doc_val, list) else (doc_val,)
        if all(type(item) in _HASHABLE_IDS for item in items):
            values = _value_set(search_val)
            if values is not None:
                return any(item in values for item in items)
    return _original_in_op(doc_val, search_val)


def _not_in_op(doc_val: Any, search_val: Any) -> bool:
    return not _in_op(doc_val, search_val)


# --- datetime normalisation of written documents ----------------------------------------

def _patch_datetime(value: Any) -> Any:
    """mongomock-ng's datetime normalisation (naive UTC, milliseconds), without the generic walk."""
    kind = type(value)
    if kind in _NO_DATETIME:
        return value
    if kind is dict:
        return {key: _patch_datetime(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_patch_datetime(item) for item in value]
    if kind is datetime and value.tzinfo is None:
        return value if value.microsecond % 1000 == 0 else value.replace(
            microsecond=value.microsecond // 1000 * 1000)
    return _original_patch_datetime(value)


# --- order: Decimal128 as numbers, and a native sort key --------------------------------

_NUMBER_RANK = _filtering._get_compare_type(0)
_NULL_RANK = _filtering._get_compare_type(None)
_STRING_RANK = _filtering._get_compare_type("")
_NATIVE_RANKS = frozenset({_NULL_RANK, _NUMBER_RANK, _STRING_RANK,
                           _filtering._get_compare_type(True)})
# MongoDB orders MinKey below every value and MaxKey above; mongomock-ng cannot sort them
# (NotImplementedError, which turned a MinKey in a sorted field into a crash, exit 4).
_KEY_BOUND_RANKS = {bson.MinKey: _NULL_RANK - 100, bson.MaxKey: 1000}


def _number_key(value: Any) -> tuple[int, Any]:
    """A number as MongoDB orders it: NaN first, then by value (exact for decimals)."""
    if isinstance(value, Decimal128):
        value = value.to_decimal()
    if isinstance(value, Decimal):
        return (0, 0) if value.is_nan() else (1, value)
    return (0, 0) if value != value else (1, value)  # NaN is the one value unequal to itself


def _bson_compare(op: Any, a: Any, b: Any, can_compare_types: bool = True) -> bool:
    """``bson_compare`` with Decimal128 compared as a number, exactly (NaN lowest)."""
    if isinstance(a, Decimal128) or isinstance(b, Decimal128):
        a_rank, b_rank = _filtering._get_compare_type(a), _filtering._get_compare_type(b)
        if a_rank != b_rank:
            return can_compare_types and op(a_rank, b_rank)
        return op(_number_key(a), _number_key(b))
    return _original_bson_compare(op, a, b, can_compare_types)


class _Compared:
    """A value ordered by ``bson_compare``, for the types without a native key."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Compared) -> bool:
        return _filtering.bson_compare(lt, self.value, other.value)


def _resolve_sort_key(key: str, doc: Any) -> tuple[int, int, Any]:
    """``resolve_sort_key`` as (missing/empty flag, type rank, value) compared natively.

    mongomock-ng's key wraps every value in an object whose ``<`` calls ``bson_compare``,
    which compares the type ranks, then the values. Here the rank is in the tuple; for
    null, numbers (Decimal128 as a Decimal, NaN first), strings and booleans the value
    compares natively as ``bson_compare`` does; other types keep a ``bson_compare``
    wrapper, only ever compared with another value of the same rank.
    """
    value = (doc.get(key, _filtering.NOTHING) if type(doc) is dict and "." not in key
             else _filtering.resolve_key(key, doc))
    if type(value) is str:  # ids, the usual sort key: no rank lookup
        return 1, _STRING_RANK, value
    flag = 1
    if value is _filtering.NOTHING:
        value = None
    elif isinstance(value, list | tuple):
        if not value:
            flag, value = 0, None
        else:
            value = value[0]
    bound = _KEY_BOUND_RANKS.get(type(value))
    if bound is not None:  # every MinKey (MaxKey) equals every other
        return flag, bound, None
    rank = _filtering._get_compare_type(value)
    if rank not in _NATIVE_RANKS:
        return flag, rank, _Compared(value)
    if rank == _NUMBER_RANK:
        return flag, rank, _number_key(value)
    return flag, rank, None if rank == _NULL_RANK else value


# --- load: documents parsed from the store's files, inserted in bulk -------------------

_PLAIN_KEYS = frozenset({str, int, Int64, ObjectId})


def _insertable(document: dict[str, Any], encode: Callable[[Any], Any]) -> bool:
    """Whether an insert of the fork accepts ``document`` as far as the document itself
    goes: no top-level field name starting with ``$``, and BSON encodes it (``encode``:
    :func:`_encoder`'s, with the collection's options). A refused one is the caller's to
    hand to the fork, whose insert or upsert says what is wrong with it."""
    if "$" in "".join(document) and any(name.startswith("$") for name in document):
        return False
    try:
        encode(document)
    except Exception:  # noqa: BLE001 - the fork's write names the error
        return False
    return True


def insert_parsed(collection: mongomock_ng.collection.Collection,
                  documents: list[dict[str, Any]]) -> int:
    """Insert the leading ``documents`` at once, as ``insert_many`` would; return how many.

    For documents fresh from :func:`PaymentProcess.data.extended_json.loads_plain` (new
    objects, dates naive UTC in whole milliseconds, keys strings), into a collection with
    no index, validator or TTL: ``Collection._insert`` would check each (a top-level
    field name starting with ``$``, a value or key BSON cannot hold, a duplicate
    ``_id``), normalise its dates (nothing to do) and store it, one call chain a
    document. Here the same checks run (``bson.encode`` in C) and the documents go into
    the collection's dict in one update. It stops before the first document it cannot
    vouch for (no ``_id`` of a plain type, a duplicate, a check failed): that one and
    the rest are the caller's, for ``insert_many`` to insert or refuse with its message.
    """
    store = collection._store
    encode = _encoder(collection)
    if store.indexes or store.options or store._ttl_indexes or encode is None:
        return 0
    stored = store._documents
    keys: list[Any] = []
    taken: set[Any] = set()
    for document in documents:
        key = document.get("_id")
        if type(key) not in _PLAIN_KEYS or key in stored or key in taken:
            break
        if not _insertable(document, encode):
            break
        keys.append(key)
        taken.add(key)
    inserted = documents[: len(keys)]
    with store._rwlock.writer():
        stored.update(zip(keys, inserted, strict=True))
    index = _field_index(store, create=False)
    if index is not None:
        for key, document in zip(keys, inserted, strict=True):
            index.placed(key)
            index.add(key, document)
    return len(keys)


_original_copy_only_fields = mongomock_ng.collection.Collection._copy_only_fields


def _included_fields(fields: Any) -> tuple[frozenset[str], bool] | None:
    """(top-level fields, keep ``_id``) of a plain inclusion projection, or None.

    Plain: a ``dict`` whose values are 1/True (``_id`` may also be 0/False) and whose
    other keys are field names without a dot or ``$``, at least one of them.
    """
    if type(fields) is not dict:
        return None
    names = []
    keep_id = True
    for name, value in fields.items():
        if type(value) not in (int, bool):
            return None
        if name == "_id":
            keep_id = value != 0
            continue
        if value != 1 or type(name) is not str or "." in name or name.startswith("$"):
            return None
        names.append(name)
    return (frozenset(names), keep_id) if names else None


def _copy_only_fields(self: mongomock_ng.collection.Collection, doc: dict, fields: Any,
                      container: type, filter: Any = None) -> Any:  # noqa: A002
    """The projection of a returned document; a plain inclusion without the generic walk.

    For ``{"a": 1, "b": 1}`` (``_id`` 0 or 1) into a plain ``dict`` mongomock-ng builds a
    nested spec and walks every field of the document; the same result (the included
    fields, copied, in the document's order, then ``_id`` unless excluded) is taken
    directly. Every other projection goes to the original.
    """
    plain = _included_fields(fields) if container is dict else None
    if plain is None:
        return _original_copy_only_fields(self, doc, fields, container, filter)
    names, keep_id = plain
    copy = {key: value if type(value) in _IMMUTABLE else _copy_field(value, dict)
            for key, value in doc.items() if key in names}
    if keep_id and "_id" in doc:
        copy["_id"] = doc["_id"]
    return copy


def stored_documents(collection: mongomock_ng.collection.Collection) -> Iterator[dict[str, Any]]:
    """The collection's documents themselves, in its order, for a caller that only reads.

    ``find({})`` returns the same documents, each copied first (``_copy_only_fields``) so
    that a caller cannot change the stored one; writing a checkpoint only encodes them.
    """
    return collection._store.documents


def find_stored(collection: mongomock_ng.collection.Collection, filter: Any,  # noqa: A002
                sort: list[tuple[str, int]]) -> Iterator[dict[str, Any]]:
    """``find(filter, sort=sort)``'s documents, for a caller that only reads them: the
    stored documents themselves, not copies (a plain ``dict`` each).

    ``find`` copies every document it returns (``_copy_only_fields``), whole, so that a
    caller cannot change the stored one: for the claims a run reads once a pass, a
    nested copy of each. Here the same documents are selected (``_iter_documents``)
    and ordered as the fork orders them (a stable sort by each key of ``sort``, last
    first, with ``resolve_sort_key``); one stored as another mapping class (an upsert's
    ``OrderedDict``) is given as a ``dict`` of its fields, as ``find`` gives it.
    """
    dataset: Iterable[dict] = collection._iter_documents(filter)
    for key, direction in reversed(sort):
        dataset = sorted(dataset, key=partial(_filtering.resolve_sort_key, key),
                         reverse=direction < 0)
    for document in dataset:
        yield document if type(document) is dict else dict(document)


# --- writes: the engine's upserts by _id and its update_many by _id $in -----------------

_SET_VALUES = frozenset({str, int, bool, type(None)})


def _stored_copy(value: Any) -> Any:
    """What the fork stores of a written value, ``_clone_document(_patch_datetime(value))``,
    in one walk: containers rebuilt, immutable values shared, datetimes normalised."""
    kind = type(value)
    if kind in _NO_DATETIME:
        return value
    if kind is dict:
        return _stored_dict(value)
    if kind is list or kind is tuple:
        return [item if type(item) in _NO_DATETIME else _stored_copy(item) for item in value]
    return _clone_document(_patch_datetime(value))


def _stored_dict(value: dict) -> dict:
    new = {}
    for key, item in value.items():
        kind = type(item)
        if kind in _NO_DATETIME:
            new[key] = item
        elif kind is dict:
            new[key] = _stored_dict(item)
        else:
            new[key] = _stored_copy(item)
    return new


def _encoder(collection: mongomock_ng.collection.Collection) -> Callable[[Any], Any] | None:
    """The BSON check of the fork's ``_bson_encode`` with the collection's codec options,
    converted once (None: the fork checks nothing with such options)."""
    options = collection.codec_options
    if not options:
        return bson.encode
    if isinstance(options, mongomock_ng.codec_options.CodecOptions):
        options = options.to_pymongo()
    if isinstance(options, CodecOptions):
        return lambda document: bson.encode(document, False, options)
    return None


def _plain_store(collection: mongomock_ng.collection.Collection) -> bool:
    """No validator and no TTL index: nothing the fork would check or expire on a write."""
    store = collection._store
    return not store.options.get("validator") and not store._ttl_indexes


def _prepared_upserts(collection: mongomock_ng.collection.Collection,
                      requests: list[Any]) -> list[tuple[str, dict]] | None:
    """(``_id``, document to store) of each request when every one is a plain upsert by
    ``_id`` the fork would accept, or None.

    An upsert is plain when it is a ``ReplaceOne`` with ``upsert=True``, no collation,
    hint or sort, a filter ``{"_id": <non-empty str>}``, and a replacement (a ``dict``) with
    the same ``_id`` or none, no top-level field starting with ``$``, that BSON-encodes
    (which also refuses what the fork's ``_validate_data_fields`` refuses: non-text keys
    and keys with a null character, at any depth). Nothing is written before every
    request passed, so the fork's method, given the same requests, fails as it did.
    """
    if not requests or not _plain_store(collection):
        return None
    encode = _encoder(collection)
    prepared = []
    for request in requests:
        if (type(request) is not ReplaceOne or request._upsert is not True
                or request._collation is not None or request._hint is not None
                or request._sort is not None):
            return None
        selector, document = request._filter, request._doc
        if type(selector) is not dict or len(selector) != 1 or type(document) is not dict:
            return None
        key = selector.get("_id")
        named = document.get("_id", key)
        if type(key) is not str or not key or type(named) is not str or named != key:
            return None
        for name in document:
            if type(name) is not str or name.startswith("$"):
                return None
        try:
            stored = _stored_dict(document)
            if encode is not None:
                encode(stored)
        except Exception:  # noqa: BLE001 - the fork's own method raises its own error
            return None
        if next(iter(stored), None) != "_id":
            stored = {"_id": key, **stored}
        prepared.append((key, stored))
    return prepared


def _store_updated(collection: mongomock_ng.collection.Collection, key: str, document: dict,
                   snapshot: dict | None) -> None:
    """Keep a document changed in place as ``_update_documents`` does: unique indexes
    checked, then stored; on a duplicate key the snapshot goes back and the error is raised."""
    try:
        collection._ensure_uniques(document)
        collection._store[key] = document
    except DuplicateKeyError:
        collection._store[key] = snapshot
        raise


def _apply_upserts(collection: mongomock_ng.collection.Collection,
                   prepared: list[tuple[str, dict]], ordered: bool) -> dict[str, Any]:
    """The fork's ``BulkOperationBuilder.execute`` of prepared upserts: each document
    inserted (an ``OrderedDict``, as the fork's upsert stores it), or replacing the stored
    one in place (modified when unequal), unique indexes checked and a failed write
    rolled back as ``_update_documents`` does."""
    mongomock_ng.collection._profiler_set_operation("update")
    store = collection._store
    documents = store._documents
    result: dict[str, Any] = {"nModified": 0, "nUpserted": 0, "nMatched": 0, "writeErrors": [],
                              "upserted": [], "writeConcernErrors": [], "nRemoved": 0,
                              "nInserted": 0}
    for index, (key, document) in enumerate(prepared):
        try:
            existing = documents.get(key)
            if existing is None:
                document = OrderedDict(document)  # as the fork's upsert builds it
                store[key] = document
                try:
                    collection._ensure_uniques(document)
                except DuplicateKeyError:
                    del store[key]
                    raise
                result["nUpserted"] += 1
                result["upserted"].append({"index": index, "_id": key})
                continue
            changed = existing != document
            snapshot = dict(existing) if changed else None
            existing.clear()
            existing.update(document)
            if changed:
                _store_updated(collection, key, existing, snapshot)
            result["nMatched"] += 1
            result["nModified"] += changed
        except WriteError as error:
            result["writeErrors"].append({"index": index, "code": error.code,
                                          "errmsg": str(error)})
            if ordered:
                break
    if result["writeErrors"]:
        raise BulkWriteError(result)
    return result


def _bulk_write(self: mongomock_ng.collection.Collection, requests: Any, ordered: bool = True,
                bypass_document_validation: bool = False, session: Any = None,
                comment: Any = None) -> Any:
    """``bulk_write``: a list of plain upserts by ``_id`` applied directly (same documents,
    counts, upserted ids and errors); anything else by the fork's own method."""
    prepared = None
    if (type(requests) is list and bypass_document_validation is False and session is None
            and comment is None):
        prepared = _prepared_upserts(self, requests)
    if prepared is None:
        return _original_bulk_write(self, requests, ordered, bypass_document_validation,
                                    session, comment)
    return mongomock_ng.results.BulkWriteResult(_apply_upserts(self, prepared, ordered), True)


def insert_built(collection: mongomock_ng.collection.Collection,
                 documents: list[dict[str, Any]]) -> int:
    """Insert the leading ``documents`` as they are, as ``insert_many`` would; return how many.

    For documents built for this write and handed over (the engine's ledger entries and
    PaymentInfo: :mod:`PaymentProcess.core.records`): new containers that no other
    document shares and the caller keeps no reference to, dates naive UTC in whole
    milliseconds. ``insert_many`` (like the upsert of ``bulk_write``) would copy each
    one, normalising its dates, and store it under the collection's lock; here the
    checks of an insert run (a text ``_id`` not stored yet, no top-level ``$`` name,
    ``bson.encode`` with the collection's options) and the documents themselves are
    stored, under one hold of the lock, the field index kept current. Only into a
    collection without a validator, TTL or unique index (the ledger's and PaymentInfo's:
    the fork's ``_ensure_uniques`` then checks nothing). It stops before the first
    document it cannot vouch for (one that exists: a resumed run's replacement; one a
    check refuses): that one and the rest are the caller's, for an upsert to replace or
    refuse with its message.
    """
    store = collection._store
    encode = _encoder(collection)
    if (encode is None or not _plain_store(collection)
            or any(index.get("unique") for index in store.indexes.values())):
        return 0
    stored = store._documents
    index = _field_index(store, create=False)
    count = 0
    with store._rwlock.writer():
        for document in documents:
            key = document.get("_id")
            if type(key) is not str or not key or key in stored:
                break
            if not _insertable(document, encode):
                break
            stored[key] = document
            if index is not None:
                index.placed(key)
                index.add(key, document)
            count += 1
    return count


def _planned_set(collection: mongomock_ng.collection.Collection, selector: Any,
                 update: Any) -> tuple[list[str], list[tuple[str, Any]]] | None:
    """(ids, fields) of ``{"_id": {"$in": [str...]}}`` / ``{"$set": {field: value}}`` when
    every field is a top-level name (not ``_id``, no ``$``, ``.`` or null character) and
    every value a ``str``, ``int``, ``bool`` or None that BSON-encodes, or None."""
    if type(selector) is not dict or len(selector) != 1 or type(update) is not dict \
            or len(update) != 1 or not _plain_store(collection):
        return None
    wanted = selector.get("_id")
    if type(wanted) is not dict or len(wanted) != 1:
        return None
    ids = wanted.get("$in")
    fields = update.get("$set")
    if (type(ids) is not list or any(type(key) is not str for key in ids)
            or type(fields) is not dict or not fields):
        return None
    encode = _encoder(collection)
    for name, value in fields.items():
        if (type(name) is not str or not name or name == "_id" or "$" in name or "." in name
                or "\0" in name or type(value) not in _SET_VALUES):
            return None
        try:
            if encode is not None:
                encode({name: value})
        except Exception:  # noqa: BLE001 - the fork's own method raises its own error
            return None
    return list(dict.fromkeys(ids)), list(fields.items())


def _update_many(self: mongomock_ng.collection.Collection, filter: Any, update: Any,  # noqa: A002
                 upsert: bool = False, array_filters: Any = None,
                 bypass_document_validation: bool = False, collation: Any = None,
                 hint: Any = None, session: Any = None, let: Any = None) -> Any:
    """``update_many``: a plain ``$set`` on documents named by ``_id`` applied directly
    (each field assigned in place, modified when a value differs, unique indexes checked
    and rolled back as ``_update_documents`` does; without a unique index, where the
    fork checks nothing, under one hold of the store's lock, each changed document's
    fields indexed once); anything else by the fork's method."""
    plan = None
    if (upsert is False and array_filters is None and bypass_document_validation is False
            and collation is None and hint is None and session is None and let is None):
        plan = _planned_set(self, filter, update)
    if plan is None:
        return _original_update_many(
            self, filter, update, upsert=upsert, array_filters=array_filters,
            bypass_document_validation=bypass_document_validation, collation=collation,
            hint=hint, session=session, let=let)
    ids, fields = plan
    mongomock_ng.collection._profiler_set_operation("update")
    store = self._store
    documents = store._documents
    unique = any(index.get("unique") for index in store.indexes.values())
    index = None if unique else _field_index(store, create=False)
    matched = modified = 0
    with nullcontext() if unique else store._rwlock.writer():
        for key in ids:
            document = documents.get(key)
            if document is None:
                continue
            matched += 1
            changed = False
            for name, value in fields:
                old = document.get(name, _ABSENT)
                if old is _ABSENT or not (old is value or old == value):
                    changed = True
                    break
            snapshot = dict(document) if changed and unique else None
            for name, value in fields:
                document[name] = value
            if changed:
                if unique:
                    _store_updated(self, key, document, snapshot)
                elif index is not None:
                    index.add(key, document)
                modified += 1
    return mongomock_ng.results.UpdateResult(
        {"connectionId": self.database.client._id, "err": None, "n": matched,
         "nModified": modified, "ok": 1, "upserted": None, "updatedExisting": matched > 0},
        acknowledged=True)


# --- the registry ----------------------------------------------------------------------

@dataclass
class Patch:
    """One replaced function: where it lives, its replacement, the signature relied on."""

    name: str
    owner: Any  # a module, a class, or the filterer's operator map (a dict)
    attribute: str
    replacement: Callable[..., Any]
    signature: str  # of the original, as ``str(inspect.signature(...))``
    original: Any = field(init=False)

    def __post_init__(self) -> None:
        self.original = self.current()

    def current(self) -> Any:
        """What the owner holds now."""
        if isinstance(self.owner, dict):
            return self.owner[self.attribute]
        return getattr(self.owner, self.attribute)

    def install(self, value: Any) -> None:
        """Put ``value`` (the replacement, or the original to undo) in place."""
        if isinstance(self.owner, dict):
            self.owner[self.attribute] = value
        else:
            setattr(self.owner, self.attribute, value)


_collection = mongomock_ng.collection
_operators = _filtering._filterer_inst._operator_map
PATCHES: tuple[Patch, ...] = (
    Patch("cursor", _collection.Cursor, "__next__", _cursor_next, "(self)"),
    Patch("cursor", _collection.Cursor, "next", _cursor_next, "(self)"),
    Patch("lookup", _collection.Collection, "_iter_documents", _iter_documents,
          "(self, filter)"),
    Patch("lookup", mongomock_ng.store.CollectionStore, "__setitem__", _setitem,
          "(self, key, val)"),
    Patch("lookup", _collection.Collection, "_ensure_uniques", _ensure_uniques,
          "(self, new_data)"),
    Patch("in", _operators, "$in", _in_op, "(doc_val, search_val)"),
    Patch("in", _operators, "$nin", _not_in_op, "(dv, sv)"),
    Patch("copy", _collection, "_copy_field", _copy_field, "(obj, container)"),
    Patch("clone", _collection, "_clone_document", _clone_document, "(d)"),
    Patch("projection", _collection.Collection, "_copy_only_fields", _copy_only_fields,
          "(self, doc, fields, container, filter=None)"),
    Patch("datetime", mongomock_ng.helpers, "patch_datetime_awareness_in_document",
          _patch_datetime, "(value)"),
    Patch("sort", _filtering, "resolve_sort_key", _resolve_sort_key, "(key, doc)"),
    Patch("decimal", _filtering, "bson_compare", _bson_compare,
          "(op, a, b, can_compare_types=True)"),
    Patch("writes", _collection.Collection, "bulk_write", _bulk_write,
          "(self, requests, ordered=True, bypass_document_validation=False, session=None, "
          "comment=None)"),
    Patch("writes", _collection.Collection, "update_many", _update_many,
          "(self, filter, update, upsert=False, array_filters=None, "
          "bypass_document_validation=False, collation=None, hint=None, session=None, "
          "let=None)"),
)


for _patch in PATCHES:
    _patch.install(_patch.replacement)
