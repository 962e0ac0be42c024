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
  immutable values (strings, numbers, Decimal128, dates), most of a read's cost;
* a filter on any other field (the claims of an event, the ledger entries of a batch's
  chains) scans the whole collection, whatever the indexes: one query a batch makes a
  cycle quadratic.

Writes pay for ``copy.deepcopy`` (of every replacement document, and a snapshot of every
updated one) and a recursive rewrite of every datetime, both of which reconstruct each
Decimal128 and string through the generic copy protocol. The patched versions share
immutable values and copy only dicts and lists, giving equal documents.

For a filter on another field, a plain equality or ``$in`` of strings/integers on a top-level field
(or a ``$or`` whose every branch has one) is answered from a hash index of that field,
built on first use and kept up to date on every insert and update. The index is a
*superset*: it may keep stale entries of updated or deleted documents, and every
candidate is still checked by mongomock's own filter, in the collection's order.

Reads of a whole event (twice a final run, plus the duplicate check each pass) also paid
for mongomock's general machinery on every document:

* sorting compares through a Python wrapper calling ``bson_compare`` (n log n calls);
  when a sort field holds a ``str`` in every document (or an ``int`` in every one) the
  value itself is an equivalent key;
* the filter of every candidate is interpreted by ``filter_applies``; the plainest
  shapes (string equality, ``$in`` of strings, ``$exists``, ``$or`` of those) are
  checked directly, and any document whose field is not a plain string (or missing)
  is still decided by ``filter_applies``;
* an inclusion projection of top-level fields looked every field of every document up
  in the combined spec; it now takes the named fields directly, in the same order.

One patch is about correctness, not speed: mongomock cannot order a Decimal128 at all
(``NotImplementedError`` from a sort, ``TypeError`` from ``$lt``), so a claim whose
``ParentClaimCore_ID`` was stored as a decimal made reading the event's claims crash.
Decimal128 values are compared as numbers here, NaN below every other number, as
MongoDB orders them.

The patches keep mongomock's semantics: candidates found by ``_id`` are still checked
with mongomock's filter, and ``$in`` falls back to the original for unhashable or
regular-expression values. Only the order of documents returned by an *unsorted* query
on ``_id`` may differ (the order of the ids asked for), which MongoDB does not define
either. A real MongoDB is untouched by any of this.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import partial
from operator import itemgetter
from types import SimpleNamespace
from typing import Any

import mongomock.collection
import mongomock.filtering
import mongomock.helpers
import mongomock.store
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
    if kind is dict:
        return _copy_dict(value, container)
    if kind is list:
        return _copy_list(value, container)
    if isinstance(value, dict):
        return _copy_dict(value, container)
    if isinstance(value, list):
        return _copy_list(value, container)
    return copy.copy(value)


def _copy_dict(value: dict, container: type) -> Any:
    """``_copy_field`` of a document: immutable values are taken without a call each."""
    new = container()
    for key, item in value.items():
        kind = type(item)
        if kind in _IMMUTABLE:
            new[key] = item
        elif kind is dict:
            new[key] = _copy_dict(item, container)
        elif kind is list:
            new[key] = _copy_list(item, container)
        else:
            new[key] = _copy_field(item, container)
    return new


def _copy_list(value: list, container: type) -> list:
    """``_copy_field`` of an array (always a plain list, as mongomock makes it)."""
    return [item if type(item) in _IMMUTABLE else _copy_field(item, container)
            for item in value]


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


_ABSENT = object()
_UNHASHABLE = frozenset({dict, list, OrderedDict})


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


def _indexed_candidates(collection: mongomock.collection.Collection,
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


# A compiled filter term: the document's answer, or None when mongomock must decide.
_Term = Callable[[dict], bool | None]


def _equals(name: str, value: str) -> _Term:
    def term(document: dict) -> bool | None:
        found = document.get(name, _ABSENT)
        if type(found) is str:
            return found == value
        return False if found is _ABSENT else None  # arrays, other types: mongomock

    return term


def _is_in(name: str, values: frozenset[str]) -> _Term:
    def term(document: dict) -> bool | None:
        found = document.get(name, _ABSENT)
        if type(found) is str:
            return found in values
        return False if found is _ABSENT else None

    return term


def _exists(name: str, wanted: bool) -> _Term:
    return lambda document: (name in document) is wanted


def _all_of(terms: list[_Term]) -> _Term:
    def term(document: dict) -> bool | None:
        for check in terms:
            answer = check(document)
            if answer is not True:
                return answer  # False, or None: mongomock decides the whole document
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
    ``str``, ``$in`` a list of ``str``, ``{"$exists": bool}``, and ``$or`` of such
    documents. For a field holding a ``str`` or missing, these answer what mongomock's
    ``filter_applies`` answers (equality of strings, membership, presence; a missing
    field equals no string); for any other value (arrays, numbers, null...) the term
    answers None and the whole document is handed to ``filter_applies``. Terms are
    checked in mongomock's order and none can raise, so a False found before any None
    is mongomock's answer too.
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
            elif (operator == "$in" and type(operand) is list
                  and all(type(value) is str for value in operand)):
                terms.append(_is_in(name, frozenset(operand)))
            else:
                return None
        else:
            return None
    return _all_of(terms)


def _matching(selector: Any, candidates: list[dict]) -> Iterator[dict]:
    """The candidates the selector matches, each decided as mongomock decides it."""
    if not candidates:  # every upsert of a new document: nothing to compile
        return iter(())
    compiled = _compile(selector)
    filter_applies = mongomock.filtering.filter_applies
    if compiled is None:
        return (d for d in candidates if filter_applies(selector, d))
    return (d for d in candidates
            if (answer := compiled(d)) or (answer is None and filter_applies(selector, d)))


def _iter_documents(self: mongomock.collection.Collection, selector: Any) -> Iterable[dict]:
    """Look documents up by ``_id`` or a field index instead of scanning, when possible."""
    ids = _ids_of(selector)
    if ids is None:
        candidates = _indexed_candidates(self, selector)
        if candidates is None:
            return _original_iter_documents(self, selector)
        if not candidates:  # validate the filter as mongomock would on the first document
            mongomock.filtering.filter_applies(selector, {})
        return _matching(selector, candidates)
    documents = self._store._documents
    return _matching(selector, [documents[i] for i in ids if i in documents])


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


_original_setitem = mongomock.store.CollectionStore.__setitem__
_original_ensure_uniques = mongomock.collection.Collection._ensure_uniques


def _setitem(self: Any, key: Any, value: dict) -> None:
    """Every insert (and rollback) goes through here: keep the field index current."""
    index = _field_index(self, create=False)
    if index is not None:
        new = key not in self._documents
        _original_setitem(self, key, value)
        if new:
            index.placed(key)
        index.add(key, value)
        return
    _original_setitem(self, key, value)


def _ensure_uniques(self: mongomock.collection.Collection, new_data: dict) -> None:
    """Called after every insert and every in-place update: index the new values."""
    index = _field_index(self._store, create=False)
    if index is not None and "_id" in new_data:
        key = new_data["_id"]
        if type(key) is dict:
            key = mongomock.helpers.hashdict(key)
        index.add(key, new_data)
    _original_ensure_uniques(self, new_data)


_SORTABLE_ALONE = (frozenset({str}), frozenset({int}))


def _plain_sort_key(name: str, documents: list[dict]) -> Callable[[dict], Any] | None:
    """A sort key ordering ``documents`` exactly as mongomock's ``resolve_sort_key`` does.

    mongomock wraps every value in an object whose ``<`` runs ``bson_compare``; when a
    top-level field holds a ``str`` in every document (or an ``int`` in every one), that
    comparison is the values' own ``<``, so the value itself is an equivalent key and
    the (stable) sort gives the same order. Anything else (a missing field, arrays, mixed
    or other types, dotted paths) returns None: mongomock's key.
    """
    if "." in name or not documents:
        return None
    kinds = frozenset(type(document.get(name, _ABSENT)) for document in documents)
    return itemgetter(name) if kinds in _SORTABLE_ALONE else None


def _get_dataset(self: mongomock.collection.Collection, spec: Any, sort: Any, fields: Any,
                 as_class: Any) -> Iterator[dict]:
    """mongomock's ``_get_dataset`` with a plain sort key where it orders the same.

    The Python-level comparison of mongomock's key costs a few microseconds; sorting
    the claims of an event by chain (twice a final run) took ~0.15 s a 10,000 claims,
    and n log n of it.
    """
    dataset: Iterable[dict] = self._iter_documents(spec)
    if sort:
        if isinstance(sort, dict):
            sort = sort.items()
        for sort_key, sort_direction in reversed(sort):
            if sort_key == "$natural":
                if sort_direction < 0:
                    dataset = iter(reversed(list(dataset)))
                continue
            if sort_key.startswith("$"):
                raise NotImplementedError(
                    f"Sorting by {sort_key} is not implemented in mongomock yet")
            documents = list(dataset)
            key = _plain_sort_key(sort_key, documents) or partial(_resolve_sort_key, sort_key)
            dataset = iter(sorted(documents, key=key, reverse=sort_direction < 0))
    for document in dataset:
        yield self._copy_only_fields(document, fields, as_class)


def _included_names(fields: Any) -> list[str] | None:
    """The top-level fields an inclusion projection names (``_id`` aside), or None."""
    if type(fields) is not dict:
        return None
    names = []
    for name, value in fields.items():
        if name == "_id":
            if type(value) not in (int, bool):
                return None
            continue
        if (type(name) is not str or not name or "." in name or name.startswith("$")
                or type(value) not in (int, bool) or value != 1):
            return None
        names.append(name)
    return names or None


def _copy_only_fields(self: mongomock.collection.Collection, doc: dict, fields: Any,
                      container: type) -> Any:
    """mongomock's projection, directly for an inclusion of top-level fields.

    ``{"ClaimCore_ID": 1, "_id": 0}`` (the duplicate check reads every claim of the
    event so) went through mongomock's general projection, which looks every field of
    every document up in the combined spec. The result is built the same way: the named
    fields present, in the document's order, copied; then ``_id`` last unless excluded;
    and ``fields`` is left as mongomock leaves it (``_id`` moved to its end).
    """
    names = _included_names(fields)
    if names is None:
        return _original_copy_only_fields(self, doc, fields, container)
    id_value = fields.pop("_id", 1)
    projected = container()
    if len(names) == 1:
        [name] = names
        if name in doc:
            projected[name] = _copy_field(doc[name], container)
    else:
        wanted = set(names)
        for key, value in doc.items():
            if key in wanted:
                projected[key] = _copy_field(value, container)
    if id_value == 0:
        projected.pop("_id", None)
    elif "_id" in doc:
        projected["_id"] = doc["_id"]
    fields["_id"] = id_value
    return projected


def _resolve_sort_key(name: str, document: dict) -> Any:
    return mongomock.filtering.resolve_sort_key(name, document)


_original_get_dataset = mongomock.collection.Collection._get_dataset
_original_copy_field = mongomock.collection._copy_field
_original_copy_only_fields = mongomock.collection.Collection._copy_only_fields
_original_patch_datetime = mongomock.helpers.patch_datetime_awareness_in_document
_NO_DATETIME = frozenset({str, int, float, bool, type(None), bytes, Decimal128, ObjectId})


def _deepcopy(value: Any, memo: dict | None = None) -> Any:
    """``copy.deepcopy`` of a stored document: dicts and lists copied, immutables shared."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is dict:
        return {key: _deepcopy(item) for key, item in value.items()}
    if kind is list:
        return [_deepcopy(item) for item in value]
    return copy.deepcopy(value, memo)


def _patch_datetime(value: Any) -> Any:
    """mongomock's datetime normalisation (naive UTC, milliseconds), without the generic walk."""
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


mongomock.collection.copy = SimpleNamespace(copy=copy.copy, deepcopy=_deepcopy)
_original_compare_type = mongomock.filtering._get_compare_type
_original_bson_compare = mongomock.filtering.bson_compare
_NUMBER_TYPE = _original_compare_type(0)


def _compare_type(value: Any) -> int:
    return _NUMBER_TYPE if isinstance(value, Decimal128) else _original_compare_type(value)


def _number_key(value: Any) -> tuple[int, Any]:
    """A number as MongoDB orders it: NaN first, then by value (exact for decimals)."""
    if isinstance(value, Decimal128):
        value = value.to_decimal()
    return (0, 0) if value != value else (1, value)  # NaN is the one value unequal to itself


def _bson_compare(op: Any, a: Any, b: Any, can_compare_types: bool = True) -> bool:
    if isinstance(a, Decimal128) or isinstance(b, Decimal128):
        a_type, b_type = _compare_type(a), _compare_type(b)
        if a_type != b_type:
            return can_compare_types and op(a_type, b_type)
        return op(_number_key(a), _number_key(b))
    return _original_bson_compare(op, a, b, can_compare_types)


mongomock.filtering._get_compare_type = _compare_type
mongomock.filtering.bson_compare = _bson_compare
mongomock.helpers.patch_datetime_awareness_in_document = _patch_datetime
mongomock.store.CollectionStore.__setitem__ = _setitem
mongomock.collection.Collection._ensure_uniques = _ensure_uniques
mongomock.collection.Cursor.__next__ = _cursor_next
mongomock.collection.Cursor.next = _cursor_next
mongomock.collection.Collection._iter_documents = _iter_documents
mongomock.collection._copy_field = _copy_field
mongomock.collection.Collection._get_dataset = _get_dataset
mongomock.collection.Collection._copy_only_fields = _copy_only_fields
mongomock.filtering._filterer_inst._operator_map["$in"] = _in_op
mongomock.filtering._filterer_inst._operator_map["$nin"] = lambda dv, sv: not _in_op(dv, sv)
