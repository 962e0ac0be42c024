"""NACHA ACH file of CCD credits with the HIPAA reassociation addenda (spec 13).

:func:`build_ach_file` is a pure function over explicit entries, so a reissue (spec 14)
builds its file the same way as a final run. The layout (docs/treasury.md):

- ``1`` file header: immediate destination = the funding source's routing (the ODFI),
  immediate origin, creation date and time, file id modifier, 094/10/1;
- per effective date, one batch: ``5`` header (service class 220 credits only, ``CCD``,
  entry description ``HCCLAIMPMT``), per payee a ``6`` entry (transaction code 22 checking
  or 32 savings credit) followed by one ``7`` addenda of type 05 carrying
  ``TRN*1*<EFT number>*1<payer TIN>\\``, the same trace as the payee's 835, and an ``8``
  control (entry/addenda count, entry hash, totals);
- ``9`` file control, then records of nines up to a multiple of ten (blocking factor 10).

Every record is 94 ASCII characters followed by a newline; amounts are integer cents.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from PaymentProcess.data.models.bank import AccountType
from PaymentProcess.remittance.x835 import ELEMENT, RenderError, reassociation_trace
from PaymentProcess.treasury.model import AchEntry, AchOriginator, TreasuryError
from PaymentProcess.utils.text import plain_ascii

RECORD_LENGTH = 94
BLOCKING_FACTOR = 10
FILLER = "9" * RECORD_LENGTH
SERVICE_CLASS_CREDITS = "220"
SEC_CODE = "CCD"
ENTRY_DESCRIPTION = "HCCLAIMPMT"
"""The company entry description NACHA requires on health care claim payments."""
TRANSACTION_CODES = {AccountType.CHECKING: "22", AccountType.SAVINGS: "32"}
ADDENDA_TERMINATOR = "\\"
FILE_ID_MODIFIERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
MAX_ENTRY_CENTS = 10**10 - 1
MAX_TOTAL_CENTS = 10**12 - 1


def build_ach_file(entries: Iterable[AchEntry], originator: AchOriginator,
                   file_id_modifier: str, created_at: datetime) -> bytes:
    """The NACHA file crediting ``entries`` (one batch per effective date, in date order,
    entries by PaymentCenter_ID), created at ``created_at`` with ``file_id_modifier``."""
    if len(file_id_modifier) != 1 or file_id_modifier not in FILE_ID_MODIFIERS:
        raise TreasuryError(f"file id modifier {file_id_modifier!r} is not one of A-Z, 0-9")
    by_date: defaultdict[date, list[AchEntry]] = defaultdict(list)
    for entry in entries:
        by_date[entry.effective_date].append(entry)
    if not by_date:
        raise TreasuryError("an ACH file needs at least one entry")
    records = [_file_header(originator, file_id_modifier, created_at)]
    sequence = 0
    file_count = file_hash = file_credit = 0
    for batch_number, effective_date in enumerate(sorted(by_date), start=1):
        batch = sorted(by_date[effective_date], key=lambda e: e.payment_center_id)
        records.append(_batch_header(originator, effective_date, batch_number))
        entry_hash = credit = 0
        for entry in batch:
            sequence += 1
            records.extend(_entry(entry, originator, sequence))
            entry_hash += int(entry.routing[:8])
            credit += entry.amount_cents
        count = 2 * len(batch)
        records.append(_batch_control(originator, count, entry_hash, credit, batch_number))
        file_count += count
        file_hash += entry_hash
        file_credit += credit
    if file_credit > MAX_TOTAL_CENTS:
        raise TreasuryError(f"ACH file total {file_credit} cents does not fit 12 digits")
    block_count = -(-(len(records) + 1) // BLOCKING_FACTOR)
    records.append(_file_control(len(by_date), block_count, file_count, file_hash, file_credit))
    records.extend([FILLER] * (block_count * BLOCKING_FACTOR - len(records)))
    for record in records:
        if len(record) != RECORD_LENGTH or not record.isascii():
            raise TreasuryError(f"ACH record of type {record[:1]} is not 94 ASCII characters")
    return "".join(record + "\n" for record in records).encode("ascii")


def addenda_trace(eft_number: str, payer_tax_id: str) -> str:
    """``TRN*1*<EFT number>*1<payer TIN>\\``: the 835's TRN segment as addenda text."""
    try:
        trace = reassociation_trace(eft_number, payer_tax_id)
    except RenderError as error:
        raise TreasuryError(f"the ACH addenda cannot carry it: {error}") from None
    return ELEMENT.join(trace) + ADDENDA_TERMINATOR


def alphameric(value: str, width: int) -> str:
    """Free text as a NACHA alphameric field: ASCII, upper case, cut and padded to ``width``."""
    return plain_ascii(value).upper()[:width].ljust(width)


def _number(value: int, width: int, what: str) -> str:
    text = str(value)
    if value < 0 or len(text) > width:
        raise TreasuryError(f"{what} {value} does not fit {width} digits")
    return text.zfill(width)


def _file_header(originator: AchOriginator, modifier: str, created_at: datetime) -> str:
    return ("1" + "01" + " " + originator.routing + originator.immediate_origin.rjust(10)
            + created_at.strftime("%y%m%d") + created_at.strftime("%H%M") + modifier
            + "094" + "10" + "1" + alphameric(originator.odfi_name, 23)
            + alphameric(originator.company_name, 23) + " " * 8)


def _batch_header(originator: AchOriginator, effective_date: date, batch_number: int) -> str:
    return ("5" + SERVICE_CLASS_CREDITS + alphameric(originator.company_name, 16) + " " * 20
            + originator.company_id + SEC_CODE + ENTRY_DESCRIPTION + " " * 6
            + effective_date.strftime("%y%m%d") + " " * 3 + "1" + originator.routing[:8]
            + _number(batch_number, 7, "batch number"))


def _entry(entry: AchEntry, originator: AchOriginator, sequence: int) -> list[str]:
    if not 0 < entry.amount_cents <= MAX_ENTRY_CENTS:
        raise TreasuryError(f"the EFT {entry.eft_number} of {entry.amount_cents} cents is not "
                            "a credit that fits 10 digits")
    trace_sequence = _number(sequence, 7, "entry sequence")
    detail = ("6" + TRANSACTION_CODES[entry.account_type] + entry.routing
              + entry.account.ljust(17) + _number(entry.amount_cents, 10, "amount")
              + _number(entry.payment_center_id, 15, "PaymentCenter_ID")
              + alphameric(entry.payee_name, 22) + "  " + "1"
              + originator.routing[:8] + trace_sequence)
    trace = addenda_trace(entry.eft_number, originator.payer_tax_id)
    if len(trace) > 80:
        raise TreasuryError(f"the trace of EFT {entry.eft_number} is longer than 80 characters")
    addenda = "7" + "05" + trace.ljust(80) + "0001" + trace_sequence
    return [detail, addenda]


def _batch_control(originator: AchOriginator, count: int, entry_hash: int, credit: int,
                   batch_number: int) -> str:
    return ("8" + SERVICE_CLASS_CREDITS + _number(count, 6, "entry/addenda count")
            + str(entry_hash)[-10:].zfill(10) + "0" * 12
            + _number(credit, 12, "batch total") + originator.company_id + " " * 19
            + " " * 6 + originator.routing[:8] + _number(batch_number, 7, "batch number"))


def _file_control(batches: int, blocks: int, count: int, entry_hash: int, credit: int) -> str:
    return ("9" + _number(batches, 6, "batch count") + _number(blocks, 6, "block count")
            + _number(count, 8, "entry/addenda count") + str(entry_hash)[-10:].zfill(10)
            + "0" * 12 + _number(credit, 12, "file total") + " " * 39)
