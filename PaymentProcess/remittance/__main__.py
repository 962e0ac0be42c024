"""``python -m PaymentProcess.remittance -p PE --db-uri URI --out DIR``: write the 835s of a
finished payment event, one per payee, and print their paths. Exit codes follow spec
section 11 (2 usage or configuration, 3 event not final, 4 failure, the directory
or a file in it not writable included)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from PaymentProcess.data.repositories.collections import REMITTANCE_FILE, SEQUENCES
from PaymentProcess.remittance.writer import write_remittances
from PaymentProcess.utils.error_handling import PaymentProcessError


@click.command()
@click.option("-p", "--payment-event-id", required=True, help="The finished payment event.")
@click.option(
    "--db-uri", envvar="PAYMENT_DB_URI", required=True, help="Store URI (or PAYMENT_DB_URI)."
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory the 835 files are written to.",
)
def main(payment_event_id: str, db_uri: str, out_dir: Path) -> None:
    """Write one 835 per payee of a finished payment event."""
    from PaymentProcess.common.functions import close_connection, get_connection

    try:
        store = get_connection(db_uri)
        paths = write_remittances(
            store.db, payment_event_id, out_dir,
            checkpoint=lambda: store.checkpoint([REMITTANCE_FILE, SEQUENCES]),
        )
    except PaymentProcessError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    finally:
        close_connection()
    for path in paths:
        click.echo(str(path))


if __name__ == "__main__":
    main()
