"""``python -m PaymentProcess.remittance -p PE --db-uri URI --out DIR``: write the 835s of a
finished payment event, one per payee, and print their paths. Exit codes follow spec
section 11 (2 usage or configuration, 3 event not final, 4 failure, the directory
or a file in it not writable included)."""

from __future__ import annotations

from pathlib import Path

from PaymentProcess.common.env_file import load_env_file
from PaymentProcess.common.file_command import file_command, run_file_command
from PaymentProcess.remittance.final_step import write_event_remittances


@file_command("Write one 835 per payee of a finished payment event.",
              "Directory the 835 files are written to.")
def main(payment_event_id: str, db_uri: str, out_dir: Path, db_timeout: float) -> None:
    run_file_command(db_uri, db_timeout,
                     lambda store: write_event_remittances(store, payment_event_id, out_dir))


if __name__ == "__main__":
    load_env_file()
    main()
