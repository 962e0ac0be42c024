"""``python -m PaymentProcess.treasury -p PE --db-uri URI --out DIR``: write the bank files of
a finished payment event (ACH, positive pay, check register) and print their paths. Exit
codes follow spec section 11 (2 usage, configuration or bank data, 3 event not final, 4
failure, the directory or a file in it not writable included)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from PaymentProcess.data.repositories.collections import SEQUENCES, TREASURY_FILE
from PaymentProcess.treasury.writer import write_treasury_files
from PaymentProcess.utils.error_handling import PaymentProcessError
from PaymentProcess.utils.logging import configure_logging, redact


@click.command()
@click.option("-p", "--payment-event-id", required=True, help="The finished payment event.")
@click.option(
    "--db-uri", envvar="PAYMENT_DB_URI", required=True, help="Store URI (or PAYMENT_DB_URI)."
)
@click.option(
    "--out",
    "out_dir",
    envvar="PAYMENT_TREASURY_DIR",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory the bank files are written to (or PAYMENT_TREASURY_DIR).",
)
def main(payment_event_id: str, db_uri: str, out_dir: Path) -> None:
    """Write the bank files of a finished payment event."""
    from PaymentProcess.common.functions import close_connection, get_connection

    configure_logging()  # JSON lines on stderr: stdout holds only the paths
    try:
        store = get_connection(db_uri)
        paths = write_treasury_files(
            store.db, payment_event_id, out_dir,
            checkpoint=lambda: store.checkpoint([TREASURY_FILE, SEQUENCES]),
        )
    except PaymentProcessError as error:
        click.echo(f"error: {redact(str(error))}", err=True)
        sys.exit(error.exit_code)
    finally:
        close_connection()
    for path in paths:
        click.echo(str(path))


if __name__ == "__main__":
    main()
