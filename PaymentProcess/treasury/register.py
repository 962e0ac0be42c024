"""The check register: every disbursement of an event, whatever its method, as CSV.

Columns (UTF-8, RFC 4180, CRLF, header line): ``payment_event_id, funding_source_id, method,
number, amount, payment_center_id, payee_key, payee_name, issue_date``. No account number
appears in it: it is an accounting record, not a bank instruction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from PaymentProcess.treasury.model import Disbursement, cents_text
from PaymentProcess.utils.text import plain_ascii

REGISTER_HEADER = ("payment_event_id", "funding_source_id", "method", "number", "amount",
                   "payment_center_id", "payee_key", "payee_name", "issue_date")


def build_check_register(disbursements: Iterable[Disbursement]) -> bytes:
    """The register of ``disbursements``, in the order given."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(REGISTER_HEADER)
    for d in disbursements:
        writer.writerow((d.payment_event_id, d.funding_source_id, d.method, d.number,
                         cents_text(d.amount_cents), d.payment_center_id, d.payee_key,
                         plain_ascii(d.payee_name), d.issue_date.isoformat()))
    return buffer.getvalue().encode("utf-8")


def totals_by_method(disbursements: Iterable[Disbursement]) -> dict[str, int]:
    """Cents disbursed per method (``CHECK``, ``EFT``), methods in alphabetical order."""
    totals: dict[str, int] = {}
    for d in sorted(disbursements, key=lambda d: d.method):
        totals[d.method] = totals.get(d.method, 0) + d.amount_cents
    return totals
