"""Fast MongoDB Extended JSON (relaxed) for the embedded store's files.

``bson.json_util`` converts every value in Python before and after the ``json`` module
runs, which costs about 150-180 µs per claim document each way. Here the C ``json``
encoder and decoder do the work and only the types a payment store holds are converted
in hooks: Decimal128 (``$numberDecimal``), dates (``$date``), ObjectId (``$oid``) and the
integer/double wrappers. Anything else — binary data, regular expressions, dates
before 1970, NaN — falls back to ``json_util`` for that one document, so the output is
byte for byte what ``json_util.dumps(doc, json_options=RELAXED_JSON_OPTIONS)`` writes
and the input is read as ``json_util.loads`` reads it (tests compare both on every
collection of the golden and synthetic stores).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

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
    raise Unsupported


_encoder = json.JSONEncoder(allow_nan=False, check_circular=False, default=_encode_value)


def dumps(document: dict[str, Any]) -> str:
    """One document as relaxed Extended JSON, identical to json_util's output."""
    try:
        return _encoder.encode(document)
    except (Unsupported, ValueError):
        return json_util.dumps(document, json_options=json_util.RELAXED_JSON_OPTIONS)


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
    """Parse one line of Extended JSON (relaxed or canonical)."""
    try:
        return loads_plain(text)
    except Unsupported:
        return json_util.loads(text)
