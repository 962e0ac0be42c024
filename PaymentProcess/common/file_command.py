"""What the file-writing commands (``python -m PaymentProcess.remittance``, ``...treasury``)
share: the options of a finished event's files, and one line on stderr with the spec's exit
code for every failure."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from PaymentProcess.common import functions
from PaymentProcess.common.functions import Store
from PaymentProcess.utils.error_handling import PaymentProcessError
from PaymentProcess.utils.logging import configure_logging, redact


def file_command(help_text: str, out_help: str,
                 out_envvar: str | None = None) -> Callable[[Callable[..., Any]], click.Command]:
    """A click command with ``-p/--payment-event-id``, ``--db-uri``, ``--out`` and
    ``--db-timeout``."""
    def decorate(function: Callable[..., Any]) -> click.Command:
        function.__doc__ = help_text
        options = [
            click.option("-p", "--payment-event-id", required=True,
                         help="The finished payment event."),
            click.option("--db-uri", envvar="PAYMENT_DB_URI", required=True,
                         help="Store URI (or PAYMENT_DB_URI)."),
            click.option("--out", "out_dir", envvar=out_envvar, required=True,
                         type=click.Path(file_okay=False, path_type=Path), help=out_help),
            click.option("--db-timeout", envvar="PAYMENT_DB_TIMEOUT_S",
                         default=functions.DEFAULT_DB_TIMEOUT_S, show_default=True,
                         type=click.FloatRange(min=0, min_open=True, max=3600),
                         help="Seconds a MongoDB server may take to answer."),
        ]
        for option in reversed(options):
            function = option(function)
        return click.command()(function)
    return decorate


def run_file_command(db_uri: str, db_timeout: float,
                     write: Callable[[Store], list[Path]]) -> None:
    """Open the store, ``write`` the files and print their paths; a failure is one line
    ``error: ...`` on stderr and the error's exit code (4 for an unexpected one). Logs are
    JSON lines on stderr, as the run's: stdout holds only the paths."""
    configure_logging()
    try:
        # looked up at call time (tests patch it)
        store = functions.get_connection(db_uri, timeout_s=db_timeout)
        paths = write(store)
    except PaymentProcessError as error:
        click.echo(f"error: {redact(str(error))}", err=True)
        sys.exit(error.exit_code)
    except Exception as error:  # a crash (store lost, disk error): one line, exit 4
        click.echo(f"error: failed: {type(error).__name__}: {redact(str(error))[:300]}",
                   err=True)
        sys.exit(4)
    finally:
        functions.close_connection()
    for path in paths:
        click.echo(str(path))
