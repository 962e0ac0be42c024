"""Pydantic building blocks shared by the document models: money and date fields."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

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


Money = Annotated[Decimal, PlainValidator(_money)]
DateField = Annotated[date, PlainValidator(_date)]
Text = Annotated[str, PlainValidator(_text)]
OptionalText = Annotated[str | None, BeforeValidator(_optional_text)]

DOCUMENT_CONFIG = ConfigDict(extra="ignore", frozen=True, strict=True)
