"""The bank-file step of ``main.py --treasury-dir``: checked before any money moves, written
after, as the 835 step (:mod:`PaymentProcess.remittance.final_step`).

Before a dry or final run the funding source must name its bank and payer and the
directory must take a file (the payees' bank data is judged by the run itself:
``BANK_INVALID``). When the files still cannot be written once the event is ``FINAL``,
the payments stand: the run prints its summary and ends with exit 5, and
``python -m PaymentProcess.treasury`` writes them later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PaymentProcess.common.functions import Store
from PaymentProcess.data.models.stats import PaymentEventStats
from PaymentProcess.data.repositories.collections import SEQUENCES, TREASURY_FILE
from PaymentProcess.remittance.final_step import (
    RemittanceNotWrittenError,
    write_files_after_final,
)
from PaymentProcess.remittance.writer import FINAL
from PaymentProcess.treasury.source import load_funding_bank, load_originator
from PaymentProcess.treasury.writer import check_output_directory, write_treasury_files
from PaymentProcess.utils.error_handling import ConfigurationError


class BankFilesNotWrittenError(RemittanceNotWrittenError):
    """The payments are FINAL but the bank files could not be written (exit 5, summary
    printed: the run's output files were not all written)."""


def check_treasury_ready(db: Any, payment_event_id: str, out_dir: Path) -> None:
    """Before a dry or final run: the event's funding source has valid ``bank`` data and a
    payer identity (ConfigurationError, exit 2, naming the fields), and ``out_dir`` takes a
    file (TreasuryError, exit 4). An unknown or already FINAL event, or one without its
    funding source, is left to the run, which reports it in its own words."""
    event = db.PaymentEvent.find_one({"_id": payment_event_id})
    if event is None or event.get("stage") == FINAL:
        return
    source_id = event.get("funding_source_id")
    if db.FundingSource.find_one({"_id": source_id}) is None:
        return
    try:
        load_originator(db, source_id, load_funding_bank(db, source_id))
    except ConfigurationError as error:
        raise ConfigurationError(f"--treasury-dir: {error}") from error
    check_output_directory(out_dir)


def write_event_bank_files(store: Store, payment_event_id: str, out_dir: Path) -> list[Path]:
    """Write the event's bank files, saving their records at the writer's checkpoint (the
    final run and ``python -m PaymentProcess.treasury`` both do this)."""
    return write_treasury_files(store.db, payment_event_id, out_dir,
                                checkpoint=lambda: store.checkpoint([TREASURY_FILE, SEQUENCES]))


def write_bank_files_after_final(store: Store, payment_event_id: str, out_dir: Path,
                                 stats: PaymentEventStats) -> None:
    """Write the bank files of the event just paid and list them in ``stats.written``.

    BankFilesNotWrittenError (exit 5), carrying ``stats``, when they cannot be written.
    """
    paths = write_files_after_final(
        lambda: write_event_bank_files(store, payment_event_id, out_dir),
        payment_event_id, out_dir, stats, "bank files", "PaymentProcess.treasury",
        BankFilesNotWrittenError)
    stats.written.append(f"{len(paths)} bank files in {out_dir}")
