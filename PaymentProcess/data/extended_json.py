"""Fast MongoDB Extended JSON (relaxed) for the embedded store's files.

``bson.json_util`` converts every value in Python before and after the ``json`` module
runs, which costs about 150-180 µs per claim document each way. Here orjson writes and
the C ``json`` decoder reads, and only the types a payment store holds are converted in
hooks: Decimal128 (``$numberDecimal``), dates (``$date``), ObjectId (``$oid``) and the
integer/double wrappers. Anything else — binary data, regular expressions, dates
before 1970, NaN — falls back to ``json_util`` for that one document.

Lines are written compact (``{"a":1,"b":"é"}``, as mongoexport writes them) where
json_util writes ``{"a": 1, "b": "\\u00e9"}``: the bytes differ, the documents do not —
``json_util.loads`` reads every line as it reads json_util's own output for the same
document (same values, types and key order; tests compare both on random documents of
every type and on every collection of the golden and synthetic stores). Reading gives
what ``json_util.loads`` gives, for either form.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from operator import countOf
from typing import Any

import orjson
from bson import json_util
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.objectid import ObjectId

from PaymentProcess.utils.money import decimal128_from_text, decimal128_text

_EPOCH = datetime(1970, 1, 1)


class Unsupported(Exception):
    """A value only json_util knows how to write or read."""


class _BoundedCache(dict):
    """``cache[key]``: the value ``make(key)`` made for it, kept while fewer than ``size``
    are; for immutable values only, which every caller may share."""

    def __init__(self, make: Callable[[Any], Any] | None, size: int) -> None:
        super().__init__()
        self.make, self.size = make, size

    def __missing__(self, key: Any) -> Any:
        return self.add(key, self.make(key))

    def add(self, key: Any, value: Any) -> Any:
        """Keep ``value`` for ``key`` if there is room; return it."""
        if len(self) < self.size:
            self[key] = value
        return value


def _encode_date(value: datetime) -> dict[str, str]:
    """A naive UTC date as ``{"$date": ISO text}``, in json_util's relaxed range only."""
    if value < _EPOCH or value.year > 9999:
        raise Unsupported
    millis = value.microsecond // 1000
    fraction = f".{millis:03d}" if millis else ""
    return {"$date": f"{value:%Y-%m-%dT%H:%M:%S}{fraction}Z"}


# Amounts and dates repeat: each text is parsed once, and the encoder hook's wrapper of
# an amount (by its two BID words) or a naive date built once (never mutated: shared).
_CACHE_SIZE = 200_000
_decimals = _BoundedCache(decimal128_from_text, _CACHE_SIZE)
_encoded_decimals = _BoundedCache(None, _CACHE_SIZE)  # filled by the hook, which has the value
_encoded_dates = _BoundedCache(_encode_date, _CACHE_SIZE)
_decimal_state = Decimal128.__getstate__


def _encode_value(value: Any) -> Any:
    kind = type(value)
    if kind is Decimal128:
        state = _decimal_state(value)
        wrapped = _encoded_decimals.get(state)
        if wrapped is None:
            wrapped = _encoded_decimals.add(state, {"$numberDecimal": decimal128_text(value)})
        return wrapped
    if kind is datetime:
        if value.tzinfo is None:
            return _encoded_dates[value]
        return _encode_date(value.astimezone(UTC).replace(tzinfo=None))
    if kind is ObjectId:
        return {"$oid": str(value)}
    if kind is Int64:
        return int(value)  # as json_util's relaxed mode writes it
    if kind is OrderedDict:  # documents the store's upserts insert
        return dict(value)
    raise Unsupported


_OPTIONS = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
            | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_APPEND_NEWLINE)


def _finite(value: Any) -> bool:
    """No NaN or infinite float anywhere in ``value`` (orjson writes those as ``null``)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(map(_finite, value.values()))
    if isinstance(value, (list, tuple)):
        return all(map(_finite, value))
    return True


def dumps_line(document: dict[str, Any]) -> bytes:
    """One document as a line of relaxed Extended JSON: UTF-8, compact, ending in a newline.

    orjson writes what it knows (str keys; str, int within 64 bits, float, bool, None,
    dict, list, tuple) and the hook the store's value types; anything else, or a float
    orjson would write as ``null`` (NaN, infinities), sends the document to json_util.
    ``json_util.loads`` reads the line back as it reads json_util's own output for
    ``document``. For documents a store can hold: values BSON encodes with the store's
    codec options (mongomock checks every write), so no ``uuid.UUID`` or plain ``Enum``,
    which orjson would write as their text or value.
    """
    try:
        line = orjson.dumps(document, default=_encode_value, option=_OPTIONS)
    except orjson.JSONEncodeError:  # the hook's Unsupported, big ints, keys, surrogates
        return _json_util_line(document)
    # every null in the line is a None at the top, or the line needs a closer look
    if line.count(b"null") != countOf(document.values(), None) and not _finite(document):
        return _json_util_line(document)
    return line


def _json_util_line(document: dict[str, Any]) -> bytes:
    text = json_util.dumps(document, json_options=json_util.RELAXED_JSON_OPTIONS)
    return text.encode() + b"\n"  # json_util escapes every non-ASCII character


def dumps(document: dict[str, Any]) -> str:
    """:func:`dumps_line` as text, without the newline."""
    return dumps_line(document)[:-1].decode()


def _decode_object(pairs: dict[str, Any]) -> Any:
    key = next(iter(pairs), "")
    if not key.startswith("$"):  # type wrappers ($binary/$type, $regex/$options, ...) lead
        return pairs
    if len(pairs) != 1:
        raise Unsupported
    value = pairs[key]
    kind = type(value)
    if key == "$numberDecimal" and kind is str:
        return _decimals[value]
    if key == "$date":
        if kind is str and value.endswith("Z") and len(value) in (20, 24) and value[10] == "T":
            date = datetime.fromisoformat(value[:-1])
            if date.tzinfo is None and not date.microsecond % 1000:  # as the store keeps dates
                return date
            raise Unsupported
        if kind is int:
            return _EPOCH + timedelta(milliseconds=value)
    if key == "$numberInt" and kind is str and value.lstrip("-").isdigit():
        return int(value)
    if key == "$numberLong" and kind is str and value.lstrip("-").isdigit():
        return Int64(value)
    if key == "$oid" and kind is str and len(value) == 24:
        return ObjectId(value)
    if key == "$oid" and value is None:  # json_util would read a new ObjectId every time
        raise ValueError('{"$oid": null} names no ObjectId')
    raise Unsupported


_decoder = json.JSONDecoder(object_hook=_decode_object)  # json.loads(text, object_hook=...)
# would build a decoder and its scanner for every line


def loads_plain(text: str) -> Any:
    """Parse one line with the fast decoder alone; :class:`Unsupported` if only json_util can.

    Every value is a new object and every date naive UTC in whole milliseconds, as
    mongomock stores dates (see :func:`PaymentProcess.data.mongomock_patches.insert_parsed`).
    """
    if text.startswith("\ufeff"):
        return json.loads(text)  # refused as json.loads refuses it
    return _decoder.decode(text)


def loads(text: str) -> Any:
    """Parse one line of Extended JSON (relaxed or canonical). ``{"$oid": null}`` is a
    ValueError: json_util would read it as a new ObjectId on every read."""
    try:
        return loads_plain(text)
    except Unsupported:
        return json_util.loads(text)
