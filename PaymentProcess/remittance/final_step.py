"""The 835 step of ``main.py --remittance-dir``: checked before any money moves, written after.

The dry run and the final run check, before computing anything, that the 835s will be
writable: the funding source names its payer and the directory takes a file. When the
files still cannot be written once the event is ``FINAL``, the payments stand: the run
prints its summary and ends with
:data:`~PaymentProcess.utils.error_handling.PAID_NOT_WRITTEN` (never the code of a run that did
nothing), and ``python -m PaymentProcess.remittance`` writes them later.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PaymentProcess.common.functions import Store
from PaymentProcess.data.models.stats import PaymentEventStats
from PaymentProcess.data.repositories.collections import REMITTANCE_FILE, SEQUENCES
from PaymentProcess.remittance.builder import denial_reason, load_payer
from PaymentProcess.remittance.model import RemittanceError
from PaymentProcess.remittance.writer import FINAL, check_output_directory, write_remittances
from PaymentProcess.utils.error_handling import (
    ConfigurationError,
    PaidNotWrittenError,
    PaymentProcessError,
)


class RemittanceNotWrittenError(PaidNotWrittenError):
    """The payments are FINAL but the 835 files could not be written (exit 5).

    ``stats`` is the final run's record, so its summary is printed all the same.
    """


def check_remittance_ready(db: Any, payment_event_id: str, out_dir: Path,
                           final: bool = False) -> None:
    """Before a dry or final run: the 835s of the event will be writable.

    The payer identity is present, every ``denial_reason`` given on the event's claims is
    well formed, and ``out_dir`` takes a file. ConfigurationError (exit 2) names the payer
    fields missing or the claim; RemittanceOutputError (exit 4) names the directory. An
    unknown event, one already FINAL (unless ``final``: a reissue of a FINAL event's
    payment) or one without its funding source is left to the run, which reports it in its
    own words.
    """
    event = db.PaymentEvent.find_one({"_id": payment_event_id})
    if event is None or (event.get("stage") == FINAL) != final:
        return
    if db.FundingSource.find_one({"_id": event.get("funding_source_id")}) is None:
        return
    try:
        load_payer(db, event)
        for claim in db.ClaimWSCore.find(
                {"PaymentEvent_ID": payment_event_id, "denial_reason": {"$exists": True}},
                {"ClaimCore_ID": 1, "denial_reason": 1}):
            denial_reason(str(claim.get("ClaimCore_ID")), claim["denial_reason"])
    except (ConfigurationError, RemittanceError) as error:
        raise ConfigurationError(f"--remittance-dir: {error}") from error
    check_output_directory(out_dir)


def write_event_remittances(store: Store, payment_event_id: str, out_dir: Path) -> list[Path]:
    """Write the event's 835s, saving their control-number records at the writer's
    checkpoint (the final run and ``python -m PaymentProcess.remittance`` both do this)."""
    return write_remittances(store.db, payment_event_id, out_dir,
                             checkpoint=lambda: store.checkpoint([REMITTANCE_FILE, SEQUENCES]))


def write_after_final(store: Store, payment_event_id: str, out_dir: Path,
                      stats: PaymentEventStats) -> None:
    """Write the 835s of the event just paid and list them in ``stats.written``.

    RemittanceNotWrittenError (exit 5), carrying ``stats``, when they cannot be written.
    """
    paths = write_files_after_final(
        lambda: write_event_remittances(store, payment_event_id, out_dir),
        payment_event_id, out_dir, stats, "835 files", "PaymentProcess.remittance",
        RemittanceNotWrittenError)
    stats.written.append(f"{len(paths)} X12 835 files in {out_dir}")


def write_files_after_final(write: Callable[[], list[Path]], payment_event_id: str,
                            out_dir: Path, stats: PaymentEventStats, what: str, command: str,
                            error: type[RemittanceNotWrittenError]) -> list[Path]:
    """``write()`` the output files of the event just paid; a failure becomes ``error``
    (exit 5, carrying ``stats``) saying the payments are FINAL, why the ``what`` were not
    written and which ``python -m command`` writes them."""
    try:
        return write()
    except PaymentProcessError as failure:
        raise error(
            f"the payments of {payment_event_id} are FINAL, but its {what} were not "
            f"written: {failure}; write them with python -m {command} "
            f"-p {payment_event_id} --out {out_dir}", stats) from failure
