"""What the bank receives for each finished void or reissue of an event (spec 14).

A voided check gets a positive-pay ``VOID`` line; a reissued check an ``ISSUE`` line for
its new number; a reissued EFT a one-entry ACH credit carrying the new EFT number as its
trace (the reissue's 835 ``TRN``). A voided EFT without reissue needs nothing: the money
was never held back by the bank and is owed again as an ``UNDER`` record. The records are
the same :class:`~PaymentProcess.treasury.source.FundingSourceFiles` the event's own files
are built from, so :mod:`.writer` writes them the same way, exactly once.
"""

from __future__ import annotations

from typing import Any

from PaymentProcess.data.models.controls import ActionKind, ActionStatus
from PaymentProcess.data.models.payment_center import PaymentMethod
from PaymentProcess.data.repositories.control_repository import ControlRepository
from PaymentProcess.treasury.model import CheckRecordKind, TreasuryError
from PaymentProcess.treasury.source import (
    Document,
    FundingSourceFiles,
    ach_entry,
    check_record,
    disbursement_of,
    load_funding_bank,
    load_originator,
)
from PaymentProcess.utils.error_handling import ConfigurationError


def load_void_files(db: Any, event: Document) -> list[tuple[str, FundingSourceFiles]]:
    """``(action id, records)`` of each finished void of ``event`` that the bank must
    know of, oldest first; an unfinished void (``STARTED``) is left to its ``--resume``."""
    result = []
    for action in ControlRepository(db).actions(event["_id"]):
        if action.get("status") != ActionStatus.DONE.value:
            continue
        files = void_records(db, action)
        if files is not None:
            result.append((action["_id"], files))
    return result


def void_records(db: Any, action: Document) -> FundingSourceFiles | None:
    """The bank records of one finished ``ControlAction``; None for a plain EFT void."""
    original = _payment(db, action["payment_id"], action["_id"])
    center = db.PaymentCenter.find_one({"_id": original.get("PaymentCenter_ID")}) or {}
    voided = disbursement_of(original, center)
    bank = load_funding_bank(db, voided.funding_source_id)
    checks = []
    if voided.method == PaymentMethod.CHECK.value:
        checks.append(check_record(CheckRecordKind.VOID, bank, voided))
    entries = []
    if action.get("kind") == ActionKind.REISSUE.value:
        reissued = disbursement_of(_payment(db, action.get("reissue_id"), action["_id"]),
                                   center)
        if reissued.method == PaymentMethod.CHECK.value:
            checks.append(check_record(CheckRecordKind.ISSUE, bank, reissued))
        else:
            entries.append(ach_entry(reissued, center))
    if not (checks or entries):
        return None
    originator = load_originator(db, voided.funding_source_id, bank) if entries else None
    return FundingSourceFiles(voided.funding_source_id, bank, originator, tuple(entries),
                              tuple(checks))


def _payment(db: Any, payment_id: Any, action_id: str) -> Document:
    payment = db.Payments.find_one({"_id": payment_id})
    if payment is None:
        raise TreasuryError(f"ControlAction {action_id!r}: its payment {payment_id!r} is "
                            "missing")
    return payment


def check_void_files_ready(db: Any, payment_id: str, reissue: bool) -> None:
    """Before a void with ``--treasury-dir``: the bank data its files need is valid
    (ConfigurationError, exit 2, naming the field), so nothing is voided that cannot be
    told to the bank. An unknown payment is left to the void, which refuses it."""
    payment = db.Payments.find_one({"_id": payment_id})
    if payment is None or (payment.get("method") == PaymentMethod.EFT.value and not reissue):
        return
    center = db.PaymentCenter.find_one({"_id": payment.get("PaymentCenter_ID")}) or {}
    try:
        voided = disbursement_of(payment, center)
        bank = load_funding_bank(db, voided.funding_source_id)
        if voided.method == PaymentMethod.EFT.value:
            load_originator(db, voided.funding_source_id, bank)
            ach_entry(voided, center)
    except ConfigurationError as error:
        raise ConfigurationError(f"--treasury-dir: {error}") from error
