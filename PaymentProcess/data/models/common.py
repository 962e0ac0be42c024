"""Pydantic building blocks shared by the document models: money and date fields."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Annotated, Any

from bson.decimal128 import Decimal128
from pydantic import BeforeValidator, ConfigDict, PlainValidator
from pydantic_core import PydanticCustomError

from PaymentProcess.utils.money import BadAmount, parse_amount

MAX_TEXT = 200  # identifiers and names longer than this are malformed


def _money(value: Any) -> Decimal:
    try:
        return parse_amount(value)
    except BadAmount as exc:
        raise PydanticCustomError("bad_amount", "bad amount: {reason}",
                                  {"reason": str(exc)}) from None


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.date()
    if isinstance(value, date):
        return value
    raise PydanticCustomError("bad_date", "not a date")


def _text(value: Any) -> str:
    """Identifiers: non-empty, at most 200 characters, no control characters.

    Control and format characters (NUL, newline, ESC, bidi overrides) have no place in
    an identifier and would reach keys, file names and terminals.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise PydanticCustomError("bad_text", "not a non-empty string of at most 200 characters")
    if not value.isprintable():
        raise PydanticCustomError("bad_text", "contains control characters")
    return value


def _optional_text(value: Any) -> str | None:
    """Identifiers the business rules check themselves: absent, null and '' all mean missing."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return _text(value)


UNITS_LIMIT = 10**6
MAX_UNITS = Decimal(UNITS_LIMIT)


def _units(value: Any) -> int | Decimal128 | None:
    """Service units: absent, or a number from 0 to a million with at most 3 decimals.

    Stored back as an int when whole, else Decimal128 (never a float): units reach
    PaymentInfo and the 835 (SVC05), where NaN, text or a document would break them.
    """
    if value is None:
        return None
    if type(value) is int and 0 <= value < UNITS_LIMIT:  # the usual case, whole units
        return value
    if isinstance(value, bool):
        raise PydanticCustomError("bad_units", "units must be a number")
    try:
        if isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, Decimal128):
            number = value.to_decimal()
        elif isinstance(value, float):
            number = Decimal(repr(value))
        elif isinstance(value, str) and len(value) <= 20:
            number = Decimal(value.strip())
        else:
            raise PydanticCustomError("bad_units", "units must be a number")
    except (InvalidOperation, ValueError):
        raise PydanticCustomError("bad_units", "units must be a number") from None
    if not number.is_finite() or not 0 <= number < MAX_UNITS or number != number.quantize(
            Decimal("0.001"), rounding=ROUND_DOWN):
        raise PydanticCustomError(
            "bad_units", "units must be between 0 and 1,000,000 with at most 3 decimals")
    return int(number) if number == number.to_integral_value() else Decimal128(number)


def _free_text(value: Any, limit: int, where: str = "") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        raise PydanticCustomError(
            "bad_text", "{where}not a printable string of at most {limit} characters",
            {"limit": limit, "where": f"{where}: " if where else ""})
    return value


def _procedure_code(value: Any) -> str | None:
    return _free_text(value, 48)


ADDRESS_FIELDS = ("line1", "line2", "city", "state", "zip")


def _party(value: Any) -> dict[str, Any] | None:
    """``provider``/``member``: ``{name, address: {line1, line2, city, state, zip}}``.

    Only these fields are kept (they are copied to new payees and to PaymentInfo);
    each is absent, null or printable text, so no nested garbage reaches a record.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PydanticCustomError("bad_party", "not a document")
    party: dict[str, Any] = {"name": _free_text(value.get("name"), MAX_TEXT, "name")}
    address = value.get("address")
    if address is not None:
        if not isinstance(address, dict):
            raise PydanticCustomError("bad_party", "address is not a document")
        party["address"] = {key: _free_text(address.get(key), MAX_TEXT, f"address.{key}")
                            for key in ADDRESS_FIELDS if key in address}
    else:
        party["address"] = None
    return party


Money = Annotated[Decimal, PlainValidator(_money)]
DateField = Annotated[date, PlainValidator(_date)]
Text = Annotated[str, PlainValidator(_text)]
OptionalText = Annotated[str | None, BeforeValidator(_optional_text)]
Units = Annotated[Any, PlainValidator(_units)]
Party = Annotated[dict[str, Any] | None, PlainValidator(_party)]
ProcedureCode = Annotated[str | None, PlainValidator(_procedure_code)]

DOCUMENT_CONFIG = ConfigDict(extra="ignore", frozen=True, strict=True)
