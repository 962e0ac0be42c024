"""Reading a NACHA file back, strictly: the writer's own check of what it is about to send.

:func:`read_ach_file` parses every record by position and checks the structure (record
order, 94 characters, blocking), the batch and file counts, entry hashes and totals. The
tests use it too, to compare every entry with ``Payments`` and the payee's 835.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PaymentProcess.treasury.ach import BLOCKING_FACTOR, FILLER, RECORD_LENGTH
from PaymentProcess.treasury.model import TreasuryError


@dataclass(frozen=True, slots=True)
class AchEntryRead:
    """One entry detail with its addenda text."""

    transaction_code: str
    routing: str
    account: str
    amount_cents: int
    identification: str
    name: str
    trace_number: str
    addenda: str


@dataclass(slots=True)
class AchBatchRead:
    """One batch: its header fields and entries."""

    company_id: str
    sec_code: str
    entry_description: str
    effective_date: str
    entries: list[AchEntryRead] = field(default_factory=list)


@dataclass(slots=True)
class AchFileRead:
    """A parsed, checked ACH file."""

    immediate_destination: str
    immediate_origin: str
    creation_date: str
    creation_time: str
    file_id_modifier: str
    batches: list[AchBatchRead] = field(default_factory=list)
    total_credit_cents: int = 0
    total_debit_cents: int = 0
    entry_hash: int = 0

    @property
    def entries(self) -> list[AchEntryRead]:
        """Every entry of every batch, in file order."""
        return [entry for batch in self.batches for entry in batch.entries]


def read_ach_file(data: bytes) -> AchFileRead:
    """Parse and check ``data``; TreasuryError naming the first record that is wrong."""
    try:
        lines = data.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise TreasuryError("the ACH file is not ASCII") from None
    if lines[-1] != "":
        raise TreasuryError("the ACH file does not end with a newline")
    lines.pop()
    for number, line in enumerate(lines, start=1):
        if len(line) != RECORD_LENGTH:
            raise TreasuryError(f"ACH record {number} is {len(line)} characters, not 94")
    if not lines or len(lines) % BLOCKING_FACTOR:
        raise TreasuryError(f"the ACH file has {len(lines)} records, not a multiple of 10")
    records = list(lines)
    while records and records[-1] == FILLER:
        records.pop()
    return _Reader(records, len(lines) // BLOCKING_FACTOR).read()


class _Reader:
    def __init__(self, records: list[str], blocks: int) -> None:
        self.records = records
        self.blocks = blocks
        self.position = 0

    def take(self, kind: str) -> str:
        if self.position >= len(self.records):
            raise TreasuryError(f"the ACH file ends where a type {kind} record is expected")
        record = self.records[self.position]
        self.position += 1
        if record[0] != kind:
            raise TreasuryError(f"ACH record {self.position} is type {record[0]}, "
                                f"expected {kind}")
        return record

    def peek(self) -> str:
        return self.records[self.position][0] if self.position < len(self.records) else ""

    def read(self) -> AchFileRead:
        header = self.take("1")
        if header[34:40] != "094101":
            raise TreasuryError("the ACH file header does not say 94-character records, "
                                "blocking factor 10, format 1")
        result = AchFileRead(immediate_destination=header[3:13], immediate_origin=header[13:23],
                             creation_date=header[23:29], creation_time=header[29:33],
                             file_id_modifier=header[33])
        count = 0
        while self.peek() == "5":
            batch, batch_count, batch_hash = self.batch(len(result.batches) + 1)
            result.batches.append(batch)
            count += batch_count
            result.entry_hash += batch_hash
            result.total_credit_cents += sum(e.amount_cents for e in batch.entries)
        control = self.take("9")
        expected = (len(result.batches), self.blocks, count, result.entry_hash % 10**10,
                    0, result.total_credit_cents)
        found = (int(control[1:7]), int(control[7:13]), int(control[13:21]),
                 int(control[21:31]), int(control[31:43]), int(control[43:55]))
        if found != expected:
            raise TreasuryError(f"ACH file control {found} does not match the file {expected}")
        if self.position != len(self.records):
            raise TreasuryError(f"ACH record {self.position + 1} follows the file control")
        return result

    def batch(self, number: int) -> tuple[AchBatchRead, int, int]:
        header = self.take("5")
        batch = AchBatchRead(company_id=header[40:50], sec_code=header[50:53],
                             entry_description=header[53:63], effective_date=header[69:75])
        if int(header[87:94]) != number:
            raise TreasuryError(f"ACH batch {number} is numbered {header[87:94]}")
        entry_hash = 0
        while self.peek() == "6":
            detail = self.take("6")
            addenda = self.take("7") if detail[78] == "1" else None
            if addenda is not None and (addenda[1:3] != "05" or addenda[87:94] != detail[87:94]):
                raise TreasuryError(f"ACH addenda at record {self.position} is not a 05 "
                                    "addenda of the entry before it")
            batch.entries.append(AchEntryRead(
                transaction_code=detail[1:3], routing=detail[3:12], account=detail[12:29].strip(),
                amount_cents=int(detail[29:39]), identification=detail[39:54].strip(),
                name=detail[54:76].strip(), trace_number=detail[79:94],
                addenda=addenda[3:83].rstrip() if addenda else ""))
            entry_hash += int(detail[3:11])
        control = self.take("8")
        count = len(batch.entries) + sum(1 for e in batch.entries if e.addenda)
        credit = sum(e.amount_cents for e in batch.entries)
        expected = (count, entry_hash % 10**10, 0, credit, batch.company_id, number)
        found = (int(control[4:10]), int(control[10:20]), int(control[20:32]),
                 int(control[32:44]), control[44:54], int(control[87:94]))
        if found != expected:
            raise TreasuryError(f"ACH batch {number} control {found} does not match {expected}")
        return batch, count, entry_hash
