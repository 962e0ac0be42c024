"""Positive pay: the checks the bank may honour (``ISSUE``) and must refuse (``VOID``).

Two layouts of the same records, both described with a sample in docs/treasury.md:

- CSV (RFC 4180, CRLF): ``record_type,account,check_number,amount,issue_date,payee_name``
  with a header line; amounts with two decimals, dates ``YYYY-MM-DD``;
- fixed width, 80 characters a line (newline-terminated): detail lines ``I`` (issue) or
  ``V`` (void), then one ``T`` trailer with the record count and the issued and voided
  totals in cents.

The functions are pure: a void or a reissue (spec 14) passes its own records.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from PaymentProcess.treasury.model import CheckRecord, CheckRecordKind, TreasuryError, cents_text
from PaymentProcess.utils.text import plain_ascii

CSV_HEADER = ("record_type", "account", "check_number", "amount", "issue_date", "payee_name")
FIXED_WIDTH = 80
NAME_LIMIT = 60
_FIXED_CODES = {CheckRecordKind.ISSUE: "I", CheckRecordKind.VOID: "V"}


def build_positive_pay_csv(records: Iterable[CheckRecord]) -> bytes:
    """The CSV layout of ``records``, in the order given."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for record in records:
        writer.writerow((record.kind.value, record.account, record.check_number,
                         cents_text(record.amount_cents), record.issue_date.isoformat(),
                         plain_ascii(record.payee_name)[:NAME_LIMIT]))
    return buffer.getvalue().encode("ascii")


def build_positive_pay_fixed(records: Iterable[CheckRecord]) -> bytes:
    """The fixed-width layout of ``records``, in the order given, with its trailer.

    Detail: 1 record code (I/V), 2-18 account (left-justified), 19-28 check number,
    29-40 amount in cents, 41-48 issue date YYYYMMDD, 49-80 payee name (upper case).
    Trailer: 1 ``T``, 2-9 detail count, 10-23 issued cents, 24-37 voided cents.
    """
    lines = []
    totals = {CheckRecordKind.ISSUE: 0, CheckRecordKind.VOID: 0}
    for record in records:
        totals[record.kind] += record.amount_cents
        lines.append(_FIXED_CODES[record.kind] + record.account.ljust(17)
                     + _digits(record.check_number, 10, "check number")
                     + _digits(record.amount_cents, 12, "amount")
                     + record.issue_date.strftime("%Y%m%d")
                     + plain_ascii(record.payee_name).upper()[:32].ljust(32))
    lines.append(("T" + _digits(len(lines), 8, "record count")
                  + _digits(totals[CheckRecordKind.ISSUE], 14, "issued total")
                  + _digits(totals[CheckRecordKind.VOID], 14, "voided total")).ljust(FIXED_WIDTH))
    if any(len(line) != FIXED_WIDTH for line in lines):
        raise TreasuryError("a positive pay record is not 80 characters (account too long?)")
    return "".join(line + "\n" for line in lines).encode("ascii")


def _digits(value: int, width: int, what: str) -> str:
    text = str(value)
    if value < 0 or len(text) > width:
        raise TreasuryError(f"positive pay {what} {value} does not fit {width} digits")
    return text.zfill(width)
