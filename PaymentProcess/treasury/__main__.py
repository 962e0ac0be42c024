"""``python -m PaymentProcess.treasury -p PE --db-uri URI --out DIR``: write the bank files of
a finished payment event (ACH, positive pay, check register) and print their paths. Exit
codes follow spec section 11 (2 usage, configuration or bank data, 3 event not final, 4
failure, the directory or a file in it not writable included)."""

from __future__ import annotations

from pathlib import Path

from PaymentProcess.common.env_file import load_env_file
from PaymentProcess.common.file_command import file_command, run_file_command
from PaymentProcess.treasury.final_step import write_event_bank_files


@file_command("Write the bank files of a finished payment event.",
              "Directory the bank files are written to (or PAYMENT_TREASURY_DIR).",
              out_envvar="PAYMENT_TREASURY_DIR")
def main(payment_event_id: str, db_uri: str, out_dir: Path, db_timeout: float) -> None:
    run_file_command(db_uri, db_timeout,
                     lambda store: write_event_bank_files(store, payment_event_id, out_dir))


if __name__ == "__main__":
    load_env_file()
    main()
