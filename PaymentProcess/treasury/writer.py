"""Writing the bank files of a finished payment event, exactly once and replayably.

Files (``docs/treasury.md``), in ``out_dir``:

- ``<event>_<funding source>.ach``: the NACHA file of the EFTs, per funding source paying one;
- ``<event>_<funding source>.positive-pay.csv`` and ``.positive-pay.txt``: the checks;
- ``<event>.check-register.csv``: every disbursement;
- per finished void or reissue (spec 14) of the event, ``<action id>.positive-pay.csv`` and
  ``.positive-pay.txt`` (the voided check's ``VOID`` line, a reissued check's ``ISSUE``) or
  ``<action id>.ach`` (the reissued EFT), the action id's ``:`` as ``_``. The event's own
  files hold only its original disbursements, so a void never changes them.

Each file is recorded in ``TreasuryFile`` (``_id "<event>:<file name>"``) with the SHA-256
of its bytes; an ACH file's record also holds its creation time and file id modifier. A
modifier comes from the ``Sequences`` document ``ach:<immediate origin>:<YYMMDD>`` (A-Z, then
0-9), so one origin never uses one twice on one day. Writing goes in three steps, as for
the 835s, so no failure or kill can make a modifier used twice or a file differ from its
record:

1. every file is built and checked (the ACH read back by :mod:`.ach_reader`) and a file
   recorded before must give the same bytes again, else nothing is written;
2. the new files' modifiers are reserved and every new record stored, then ``checkpoint``
   makes them durable;
3. the files are written atomically with mode 0640.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import ReturnDocument

from PaymentProcess.data.models.bank import mask_account
from PaymentProcess.data.repositories.collections import TREASURY_FILE
from PaymentProcess.remittance.writer import finished_event
from PaymentProcess.treasury.ach import FILE_ID_MODIFIERS, build_ach_file
from PaymentProcess.treasury.ach_reader import read_ach_file
from PaymentProcess.treasury.model import AchEntry, AchOriginator, TreasuryError
from PaymentProcess.treasury.positive_pay import build_positive_pay_csv, build_positive_pay_fixed
from PaymentProcess.treasury.register import build_check_register
from PaymentProcess.treasury.source import (
    FundingSourceFiles,
    TreasuryInputs,
    load_treasury_inputs,
)
from PaymentProcess.treasury.void_files import load_void_files
from PaymentProcess.utils.files import prove_writable_directory, write_private_file_atomically
from PaymentProcess.utils.logging import get_logger

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _AchPlan:
    """An ACH file to build once its modifier and creation time are known."""

    entries: tuple[AchEntry, ...]
    originator: AchOriginator


@dataclass(slots=True)
class _Planned:
    """One file on its way out: its record key, bytes (or ACH plan) and record."""

    event_id: str
    name: str
    key: str
    kind: str
    data: bytes | None
    ach: _AchPlan | None
    record: dict[str, Any] | None
    summary: dict[str, Any]


def write_treasury_files(db: Any, payment_event_id: str, out_dir: Path,
                         checkpoint: Callable[[], None] = lambda: None,
                         now: datetime | None = None) -> list[Path]:
    """Write the bank files of the finished event and of its finished voids into
    ``out_dir``; return their paths.

    ``checkpoint`` makes the records durable before any file is written (the embedded
    store's checkpoint); ``now`` is the creation time of new ACH files (default: the
    clock; UTC, naive meaning UTC, kept to the minute). ConfigurationError (exit 2) for an
    unknown event or missing bank data, StageError (exit 3) for an event not ``FINAL``,
    TreasuryError (exit 4) when the stored payments cannot make a valid file, differ from a
    file already written, or ``out_dir`` cannot be written.
    """
    event = finished_event(db, payment_event_id)
    now = now or datetime.now(UTC)
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)  # stored dates are naive UTC
    created = now.replace(second=0, microsecond=0)
    planned = [_prepare(db, plan, created) for plan in _plan(load_treasury_inputs(db, event),
                                                            load_void_files(db, event))]
    check_output_directory(out_dir, tuple(out_dir / p.name for p in planned))
    for plan in planned:
        _record(db, plan, created)
    checkpoint()
    paths = []
    for plan in planned:
        path = out_dir / plan.name
        try:
            write_private_file_atomically(path, plan.data or b"")
        except OSError as error:
            raise TreasuryError(f"cannot write the bank file {path}: {error.strerror or error}; "
                                "it is recorded, so writing the files again gives the same "
                                "bytes") from error
        log.info("treasury file written", file=str(path), kind=plan.kind, **plan.summary)
        paths.append(path)
    return paths


def file_name(payment_event_id: str, suffix: str, funding_source_id: str | None = None) -> str:
    """``<event>[_<funding source>]<suffix>``, characters unsafe in a file name as ``_``."""
    parts = [payment_event_id] + ([funding_source_id] if funding_source_id else [])
    return "_".join(_UNSAFE.sub("_", part) for part in parts) + suffix


def _plan(inputs: TreasuryInputs, voids: list[tuple[str, FundingSourceFiles]]) -> list[_Planned]:
    event_id = inputs.payment_event_id
    planned = []
    for files in inputs.funding_sources:
        planned += _bank_files(event_id, file_name(event_id, "", files.funding_source_id),
                               files)
    planned.append(_new(event_id, file_name(event_id, ".check-register.csv"), "CHECK_REGISTER",
                        build_check_register(inputs.disbursements), None,
                        {"disbursements": len(inputs.disbursements),
                         "total_cents": sum(d.amount_cents for d in inputs.disbursements)}))
    for action_id, files in voids:
        planned += _bank_files(event_id, file_name(action_id, ""), files)
    return planned


def _bank_files(event_id: str, stem: str, files: FundingSourceFiles) -> list[_Planned]:
    """The ACH file (``<stem>.ach``) and positive pay files of one funding source's records."""
    planned = []
    if files.ach_entries:
        planned.append(_new(event_id, stem + ".ach", "ACH", None,
                            _AchPlan(files.ach_entries, files.originator),
                            {"entries": len(files.ach_entries),
                             "total_cents": sum(e.amount_cents for e in files.ach_entries),
                             "odfi_account": mask_account(files.bank.account)}))
    if files.checks:
        summary = {"checks": len(files.checks),
                   "total_cents": sum(c.amount_cents for c in files.checks),
                   "account": mask_account(files.bank.account)}
        planned.append(_new(event_id, stem + ".positive-pay.csv", "POSITIVE_PAY_CSV",
                            build_positive_pay_csv(files.checks), None, summary))
        planned.append(_new(event_id, stem + ".positive-pay.txt", "POSITIVE_PAY_FIXED",
                            build_positive_pay_fixed(files.checks), None, summary))
    return planned


def _new(event_id: str, name: str, kind: str, data: bytes | None, ach: _AchPlan | None,
         summary: dict[str, Any]) -> _Planned:
    return _Planned(event_id, name, f"{event_id}:{name}", kind, data, ach, None, summary)


def _prepare(db: Any, plan: _Planned, created: datetime) -> _Planned:
    """Step 1: build (an unrecorded ACH file with a trial modifier) and compare with a record."""
    plan.record = db[TREASURY_FILE].find_one({"_id": plan.key})
    if plan.ach is not None:
        if plan.record is None:
            _checked_ach(plan.ach, FILE_ID_MODIFIERS[0], created)
            return plan
        plan.data = _checked_ach(plan.ach, plan.record["file_id_modifier"],
                                 plan.record["created_at"])
    if plan.record is not None and plan.record["sha256"] != _digest(plan.data or b""):
        raise TreasuryError(
            f"the bank file {plan.name} no longer matches the file first written (recorded in "
            f"TreasuryFile {plan.key!r}); the stored payments or bank data changed since. If "
            "the bank has not received it, delete that record to issue it anew")
    return plan


def _checked_ach(ach: _AchPlan, modifier: str, created: datetime) -> bytes:
    """The ACH file, read back: its entries and totals must be exactly those planned."""
    data = build_ach_file(ach.entries, ach.originator, modifier, created)
    parsed = read_ach_file(data)
    planned = sorted((e.eft_number, e.amount_cents) for e in ach.entries)
    found = sorted((e.addenda.split("*")[2], e.amount_cents) for e in parsed.entries)
    if found != planned or parsed.total_credit_cents != sum(c for _, c in planned):
        raise TreasuryError("the ACH file read back does not hold the planned entries")
    return data


def _record(db: Any, plan: _Planned, created: datetime) -> None:
    """Step 2: reserve an ACH file's modifier and store the new file's record."""
    if plan.record is not None:
        return
    fields: dict[str, Any] = {"PaymentEvent_ID": plan.event_id, "file": plan.name,
                              "kind": plan.kind}
    if plan.ach is not None:
        origin = plan.ach.originator.immediate_origin
        modifier = reserve_file_id_modifier(db, origin, created)
        plan.data = _checked_ach(plan.ach, modifier, created)
        fields.update(immediate_origin=origin, created_at=created, file_id_modifier=modifier)
    fields["sha256"] = _digest(plan.data or b"")
    record = db[TREASURY_FILE].find_one_and_update(
        {"_id": plan.key}, {"$setOnInsert": fields}, upsert=True,
        return_document=ReturnDocument.AFTER)
    if record["sha256"] != fields["sha256"]:  # another writer recorded this file meanwhile
        plan.record = None
        _prepare(db, plan, created)


def reserve_file_id_modifier(db: Any, origin: str, created: datetime) -> str:
    """The next file id modifier of ``origin`` on ``created``'s day (exit 4 after 36)."""
    sequence_id = f"ach:{origin}:{created:%y%m%d}"
    sequence = db.Sequences.find_one_and_update(
        {"_id": sequence_id}, {"$inc": {"next": 1}}, upsert=True,
        return_document=ReturnDocument.AFTER)
    index = sequence["next"] - 1
    if index >= len(FILE_ID_MODIFIERS):
        raise TreasuryError(f"immediate origin {origin} has used all 36 ACH file id modifiers "
                            f"on {created:%Y-%m-%d}; write the files again tomorrow")
    return FILE_ID_MODIFIERS[index]


def check_output_directory(out_dir: Path, targets: tuple[Path, ...] = ()) -> None:
    """Create ``out_dir`` if needed and prove files can be created there (exit 4)."""
    try:
        prove_writable_directory(out_dir)
    except OSError as error:
        raise TreasuryError(f"cannot write bank files to {out_dir}: "
                            f"{error.strerror or error}") from error
    for target in targets:
        if target.exists() and not target.is_file():
            raise TreasuryError(f"cannot write the bank file {target}: something other than "
                                "a file is in the way")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
