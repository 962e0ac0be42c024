"""``python -m PaymentProcess.remittance -p PE --db-uri URI --out DIR``: write the 835s of a
finished payment event, one per payee, and print their paths. Exit codes follow spec
section 11 (2 usage or configuration, 3 event not final, 4 failure, the directory
or a file in it not writable included)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from PaymentProcess.common.env_file import load_env_file
from PaymentProcess.common.functions import DEFAULT_DB_TIMEOUT_S
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
@click.option("--db-timeout", envvar="PAYMENT_DB_TIMEOUT_S", default=DEFAULT_DB_TIMEOUT_S,
              type=click.FloatRange(min=0, min_open=True, max=3600), show_default=True,
              help="Seconds a MongoDB server may take to answer.")
def main(payment_event_id: str, db_uri: str, out_dir: Path, db_timeout: float) -> None:
    """Write one 835 per payee of a finished payment event."""
    from PaymentProcess.common.functions import close_connection, get_connection

    try:
        store = get_connection(db_uri, timeout_s=db_timeout)
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
    load_env_file()
    main()
