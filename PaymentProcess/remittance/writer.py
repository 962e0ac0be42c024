"""Writing the 835 files of a finished payment event, replayably.

Each payee of the event (one ``PaymentSettlement``) gets ``<event>_<PaymentCenter_ID>.835``.
Its interchange control number comes from the ``Sequences`` document ``x12:interchange``
the first time and is recorded in ``RemittanceFile`` (``_id "<PE>:<PaymentCenter_ID>"``),
together with the SHA-256 of the bytes first written. A rerun reuses the number and
must produce the same bytes: if the stored figures changed meanwhile, it refuses rather
than send different content under a control number already used.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from pymongo import ReturnDocument

from PaymentProcess.data.repositories.collections import REMITTANCE_FILE
from PaymentProcess.remittance.builder import build_remittance, load_payer
from PaymentProcess.remittance.model import Payer, Remittance, RemittanceError, imbalances
from PaymentProcess.remittance.x835 import render
from PaymentProcess.utils.error_handling import ConfigurationError, StageError

SEQUENCE_ID = "x12:interchange"
FINAL = "FINAL"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def write_remittances(
    db: Any, payment_event_id: str, out_dir: Path, payer: Payer | None = None
) -> list[Path]:
    """Write one 835 per payee of the finished event into ``out_dir``; return the paths.

    ``payer`` defaults to the identity stored on the event's funding source. Raises
    ConfigurationError for an unknown event or a missing payer identity, StageError for
    an event that is not ``FINAL``, RemittanceError when the stored figures do not make a
    balanced file or differ from those of a file already written.
    """
    event = db.PaymentEvent.find_one({"_id": payment_event_id})
    if event is None:
        raise ConfigurationError(f"unknown payment event {payment_event_id!r}")
    if event.get("stage") != FINAL:
        raise StageError(f"payment event {payment_event_id} is {event.get('stage')}, not {FINAL}")
    payer = payer or load_payer(db, event)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    settlements = db.PaymentSettlement.find({"PaymentEvent_ID": payment_event_id})
    for settlement in settlements.sort("PaymentCenter_ID", 1):
        remittance = build_remittance(db, event, settlement, payer)
        problems = imbalances(remittance)
        if problems:
            raise RemittanceError(f"{settlement['_id']} does not balance: {'; '.join(problems)}")
        paths.append(_write(db, remittance, out_dir))
    return paths


def file_name(payment_event_id: str, payment_center_id: int) -> str:
    """``<event>_<PaymentCenter_ID>.835``, characters unsafe in a file name replaced by ``_``."""
    return f"{_UNSAFE.sub('_', payment_event_id)}_{payment_center_id}.835"


def _write(db: Any, remittance: Remittance, out_dir: Path) -> Path:
    key = f"{remittance.payment_event_id}:{remittance.payment_center_id}"
    record = db[REMITTANCE_FILE].find_one({"_id": key})
    if record is None:
        record = db[REMITTANCE_FILE].find_one_and_update(
            {"_id": key},
            {
                "$setOnInsert": {
                    "PaymentEvent_ID": remittance.payment_event_id,
                    "PaymentCenter_ID": remittance.payment_center_id,
                    "control_number": _allocate_control_number(db),
                }
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
    data = render(remittance, record["control_number"])
    digest = hashlib.sha256(data).hexdigest()
    if record.get("sha256") is None:
        db[REMITTANCE_FILE].update_one({"_id": key, "sha256": None}, {"$set": {"sha256": digest}})
    elif record["sha256"] != digest:
        raise RemittanceError(
            f"the 835 of {key} no longer matches the file first written with control number "
            f"{record['control_number']}; the stored figures changed since (delete "
            f"RemittanceFile {key!r} to issue it under a new control number)"
        )
    path = out_dir / file_name(remittance.payment_event_id, remittance.payment_center_id)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return path


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
