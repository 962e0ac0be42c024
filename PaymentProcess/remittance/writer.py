"""Writing the 835 files of a finished payment event, replayably.

Each payee of the event (one ``PaymentSettlement``) gets ``<event>_<PaymentCenter_ID>.835``,
and each reissued payment (spec 14, ``Payments`` ``<event>:<id>:R<n>``) the same remittance
under its new number and issue date, ``<event>_<id>_R<n>.835`` (record ``_id`` its payment id).
Its interchange control number (also the group control number) comes from the
``Sequences`` document ``x12:interchange`` the first time and is recorded in
``RemittanceFile`` (``_id "<PE>:<PaymentCenter_ID>"``) together with the SHA-256 of the
file's bytes. Writing goes in three steps, so no failure or kill can make a number used
twice:

1. every payee's remittance is built, balanced and rendered (no number is used yet, so an
   inconsistent store uses none), and a file recorded before is checked to render the
   same bytes under its number;
2. the numbers of the payees without a record are allocated and recorded, and
   ``checkpoint`` makes the records durable (the embedded store writes them to disk);
3. the files are written, each atomically and readable only by owner and group.

A rerun reuses the recorded numbers and must produce the same bytes: if the stored figures
changed meanwhile, it refuses rather than send different content under a number in use.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pymongo import ReturnDocument

from PaymentProcess.data.repositories.collections import REMITTANCE_FILE
from PaymentProcess.remittance.builder import (
    build_remittance,
    given_denial_reasons,
    load_payer,
)
from PaymentProcess.remittance.model import Payer, Remittance, RemittanceError, imbalances
from PaymentProcess.remittance.x835 import render
from PaymentProcess.utils.error_handling import ConfigurationError, StageError
from PaymentProcess.utils.files import prove_writable_directory, write_private_file_atomically

SEQUENCE_ID = "x12:interchange"
FINAL = "FINAL"
TRIAL_CONTROL_NUMBER = 1
"""The number a remittance is rendered with before it has one, to find what cannot be written."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class RemittanceOutputError(RemittanceError):
    """The 835 directory or a file in it cannot be written (exit 4)."""


@dataclass(frozen=True)
class _Pending:
    """One payee's remittance on its way to a file: its record key and recorded number."""

    key: str
    remittance: Remittance
    control_number: int | None
    file: str


def write_remittances(
    db: Any,
    payment_event_id: str,
    out_dir: Path,
    payer: Payer | None = None,
    checkpoint: Callable[[], None] = lambda: None,
) -> list[Path]:
    """Write one 835 per payee of the finished event into ``out_dir``; return the paths.

    ``payer`` defaults to the identity stored on the event's funding source; ``checkpoint``
    makes the recorded control numbers durable before any file is written (the embedded
    store's checkpoint; nothing to do on MongoDB). Raises ConfigurationError for an unknown
    event or a missing payer identity, StageError for an event that is not ``FINAL``,
    RemittanceError when the stored figures do not make a balanced file or differ from
    those of a file already written, RemittanceOutputError when ``out_dir`` or a file in
    it cannot be written.
    """
    event = finished_event(db, payment_event_id)
    payer = payer or load_payer(db, event)
    denials = given_denial_reasons(db)
    pending = [_prepare(db, event, settlement, payer, denials) for settlement in
               db.PaymentSettlement.find({"PaymentEvent_ID": payment_event_id})
               .sort("PaymentCenter_ID", 1)]
    pending += [_prepare_reissue(db, event, payment, payer, denials) for payment in
                db.Payments.find({"PaymentEvent_ID": payment_event_id,
                                  "reissue_of": {"$exists": True}}).sort("_id", 1)]
    check_output_directory(out_dir)
    targets = [out_dir / p.file for p in pending]
    for target in targets:
        if target.exists() and not target.is_file():
            raise RemittanceOutputError(f"cannot write the 835 file {target}: something other "
                                        "than a file is in the way")
    documents = [_record(db, p) for p in pending]
    checkpoint()
    for target, data in zip(targets, documents, strict=True):
        try:
            write_private_file_atomically(target, data)
        except OSError as error:
            raise RemittanceOutputError(
                f"cannot write the 835 file {target}: {error.strerror or error}; its control "
                "number is recorded, so writing them again reuses it") from error
    return targets


def finished_event(db: Any, payment_event_id: str) -> dict[str, Any]:
    """The event document; ConfigurationError when unknown, StageError when not FINAL."""
    event = db.PaymentEvent.find_one({"_id": payment_event_id})
    if event is None:
        raise ConfigurationError(f"unknown payment event {payment_event_id!r}")
    if event.get("stage") != FINAL:
        raise StageError(f"payment event {payment_event_id} is {event.get('stage')}, not {FINAL}")
    return event


def check_output_directory(out_dir: Path) -> None:
    """Create ``out_dir`` if needed and prove a file can be created in it.

    RemittanceOutputError, naming the directory and the reason, when it cannot (a file in
    the way, a missing permission, a read-only file system). The probe file is removed.
    """
    try:
        prove_writable_directory(out_dir)
    except OSError as error:
        raise RemittanceOutputError(
            f"cannot write 835 files to {out_dir}: {error.strerror or error}") from error


def file_name(payment_event_id: str, payment_center_id: int) -> str:
    """``<event>_<PaymentCenter_ID>.835``, characters unsafe in a file name replaced by ``_``."""
    return f"{_UNSAFE.sub('_', payment_event_id)}_{payment_center_id}.835"


def _prepare(db: Any, event: dict[str, Any], settlement: dict[str, Any], payer: Payer,
             denials: dict[str, Any]) -> _Pending:
    """Build and check one payee's remittance without using a control number."""
    remittance = build_remittance(db, event, settlement, payer, denials)
    problems = imbalances(remittance)
    if problems:
        raise RemittanceError(f"{settlement['_id']} does not balance: {'; '.join(problems)}")
    return _checked(db, f"{remittance.payment_event_id}:{remittance.payment_center_id}",
                    remittance, file_name(remittance.payment_event_id,
                                          remittance.payment_center_id))


def _prepare_reissue(db: Any, event: dict[str, Any], payment: dict[str, Any], payer: Payer,
                     denials: dict[str, Any]) -> _Pending:
    """A reissued payment's remittance: its payee's, under the new number and issue date."""
    settlement = db.PaymentSettlement.find_one(
        {"_id": f"{event['_id']}:{payment['PaymentCenter_ID']}"})
    if settlement is None:
        raise RemittanceError(f"{payment['_id']}: the payee's PaymentSettlement is missing")
    original = _prepare(db, event, settlement, payer, denials).remittance
    remittance = replace(original, trace_number=str(payment["number"]),
                         issue_date=payment["issue_date"].date())
    return _checked(db, payment["_id"], remittance, f"{_UNSAFE.sub('_', payment['_id'])}.835")


def _checked(db: Any, key: str, remittance: Remittance, file: str) -> _Pending:
    """The remittance with its recorded control number, checked to render the bytes recorded."""
    record = db[REMITTANCE_FILE].find_one({"_id": key})
    if record is None:
        render(remittance, TRIAL_CONTROL_NUMBER)  # what cannot be written fails here
        return _Pending(key, remittance, None, file)
    data = render(remittance, record["control_number"])
    if record.get("sha256") not in (None, _digest(data)):
        raise RemittanceError(
            f"the 835 of {key} no longer matches the file first written with control number "
            f"{record['control_number']}; the stored figures changed since (delete "
            f"RemittanceFile {key!r} to issue it under a new control number)"
        )
    return _Pending(key, remittance, record["control_number"], file)


def _record(db: Any, pending: _Pending) -> bytes:
    """The file's bytes, its control number and digest recorded in ``RemittanceFile``."""
    if pending.control_number is not None:
        data = render(pending.remittance, pending.control_number)
        db[REMITTANCE_FILE].update_one({"_id": pending.key, "sha256": None},
                                       {"$set": {"sha256": _digest(data)}})
        return data
    number = _allocate_control_number(db)
    data = render(pending.remittance, number)
    record = db[REMITTANCE_FILE].find_one_and_update(
        {"_id": pending.key},
        {"$setOnInsert": {"PaymentEvent_ID": pending.remittance.payment_event_id,
                          "PaymentCenter_ID": pending.remittance.payment_center_id,
                          "control_number": number, "sha256": _digest(data)}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    if record["control_number"] != number:  # another writer recorded this payee meanwhile
        return _record(db, replace(pending, control_number=record["control_number"]))
    return data


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _allocate_control_number(db: Any) -> int:
    """The next interchange control number; ``next`` holds the number to give next, and a
    missing sequence starts at 1."""
    while True:
        sequence = db.Sequences.find_one_and_update(
            {"_id": SEQUENCE_ID},
            {"$inc": {"next": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        number = sequence["next"] - 1
        if number >= 1:
            return number
