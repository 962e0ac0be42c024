"""``python -m PaymentProcess.controls COMMAND``: the controls after the dry run (spec 14).

Commands: ``approve``, ``history``, ``show``, ``compare``, ``void``, ``report``. Each prints
what it did on stdout and, on a refusal or failure, one line on stderr with the exit code
of spec section 11 (1 findings or differences, 2 usage, 3 refused by the event's state,
4 failure, 5 a void done whose 835 or bank file could not be written).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from bson import json_util

from PaymentProcess.argument import _check_event_id, _load_config_file
from PaymentProcess.common.env_file import load_env_file
from PaymentProcess.common.functions import Store, close_connection, get_connection, resolve_db_uri
from PaymentProcess.controls.approval import (
    DISTINCT_APPROVER_ENV,
    ApprovalPolicy,
    approve,
    check_person,
)
from PaymentProcess.controls.compare import compare_with_approved
from PaymentProcess.controls.history import event_history, render_history, show
from PaymentProcess.controls.report import write_report
from PaymentProcess.controls.void import VoidProcessor, VoidRequest
from PaymentProcess.core.run_control import current_user
from PaymentProcess.data.models.controls import ActionKind, VoidReason
from PaymentProcess.data.repositories.collections import (
    PAYMENT_EVENT,
    REMITTANCE_FILE,
    SEQUENCES,
    TREASURY_FILE,
    ensure_indexes,
)
from PaymentProcess.data.repositories.control_repository import ControlRepository
from PaymentProcess.remittance.final_step import check_remittance_ready
from PaymentProcess.remittance.writer import write_remittances
from PaymentProcess.treasury.void_files import check_void_files_ready
from PaymentProcess.treasury.writer import check_output_directory, write_treasury_files
from PaymentProcess.utils.error_handling import PaymentProcessError
from PaymentProcess.utils.logging import redact

PROG = "paymentprocess-controls"
HISTORY_KINDS = ("DRY_RUN", "VALIDATE_ONLY", "FINAL", "RESUME", "APPROVAL", "VOID", "REISSUE")


def fail(message: str, exit_code: int) -> None:
    """One line on stderr, then exit with ``exit_code``."""
    click.echo(f"{PROG}: {redact(message)}", err=True)
    sys.exit(exit_code)


@contextmanager
def open_store(db_uri: str | None) -> Iterator[Store]:
    """The process's store for a command; any engine error becomes one line and its exit code."""
    try:
        store = get_connection(resolve_db_uri(db_uri))
        ensure_indexes(store.db)
        yield store
    except PaymentProcessError as exc:
        fail(str(exc), exc.exit_code)
    except Exception as exc:  # a crash: one line, exit 4
        fail(f"failed: {type(exc).__name__}: {str(exc)[:300]}", 4)
    finally:
        close_connection()


def event_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``-p/--payment-event-id`` (checked) and ``--db-uri``, shared by every command."""
    function = click.option("--db-uri", envvar="PAYMENT_DB_URI",
                            help="mongodb://..., mongodb+srv://... or mongomock://PATH.")(function)
    return click.option("-p", "--payment-event-id", envvar="PAYMENT_EVENT_ID", required=True,
                        callback=_check_event_id, help="The payment event.")(function)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Controls after the dry run: approval, history, comparison, void and reissue, report."""
    load_env_file()


@cli.command("approve")
@click.option("--config-path", envvar="PAYMENT_CONFIG_PATH", is_eager=True,
              callback=_load_config_file, help="YAML file with run defaults.")
@event_option
@click.option("--run-id", required=True, help="The dry run to approve (its run id).")
@click.option("--approver", help="Who approves (default: the operating-system user).")
@click.option("--require-distinct-approver/--allow-same-approver", envvar=DISTINCT_APPROVER_ENV,
              default=False, show_default=True,
              help="Refuse an approver who ran the dry run.")
def approve_command(config_path: str | None, payment_event_id: str, db_uri: str | None,
                    run_id: str, approver: str | None, require_distinct_approver: bool) -> None:
    """Approve the event's latest dry run: the final run then pays exactly that dry run."""
    with open_store(db_uri) as store:
        approval = approve(ControlRepository(store.db), payment_event_id, run_id,
                           approver if approver is not None else current_user(),
                           ApprovalPolicy(require_distinct=require_distinct_approver))
        store.checkpoint([PAYMENT_EVENT])
    click.echo(f"approved dry run {approval['run_id']} of {payment_event_id} by "
               f"{approval['approver']} at {approval['approved_at']:%Y-%m-%dT%H:%M:%SZ}")


@cli.command("history")
@event_option
@click.option("--kind", "kind", type=click.Choice(HISTORY_KINDS),
              help="Only the entries of this kind.")
@click.option("--ids", is_flag=True, help="Print only the ids, one a line (for scripts).")
@click.option("--json", "json_output", is_flag=True, help="Print the entries as JSON.")
def history_command(payment_event_id: str, db_uri: str | None, kind: str | None,
                    ids: bool, json_output: bool) -> None:
    """List the event's runs and control actions: kind, id, who, when, status, totals."""
    with open_store(db_uri) as store:
        rows = event_history(ControlRepository(store.db), payment_event_id)
    rows = [row for row in rows if kind in (None, row.kind)]
    if ids:
        click.echo("\n".join(row.id for row in rows))
    elif json_output:
        click.echo(json.dumps([row.as_json() for row in rows], indent=2))
    else:
        click.echo(render_history(payment_event_id, rows))


@cli.command("show")
@event_option
@click.option("--run-id", required=True, help="A run id or control action id (see history).")
def show_command(payment_event_id: str, db_uri: str | None, run_id: str) -> None:
    """Print one run's stats document (or one control action) as Extended JSON."""
    with open_store(db_uri) as store:
        document = show(ControlRepository(store.db), payment_event_id, run_id)
    click.echo(json_util.dumps(document, json_options=json_util.RELAXED_JSON_OPTIONS, indent=2))


@cli.command("compare")
@event_option
@click.option("--run-id", help="The final run (default: the event's final run).")
def compare_command(payment_event_id: str, db_uri: str | None, run_id: str | None) -> None:
    """Compare the final run with its approved dry run payee by payee (exit 1 on a difference)."""
    with open_store(db_uri) as store:
        comparison = compare_with_approved(ControlRepository(store.db), payment_event_id, run_id)
    if comparison.equal:
        click.echo(f"final run {comparison.final_run_id} equals the approved dry run "
                   f"{comparison.dry_run_id}: {comparison.payees} payees")
        return
    click.echo(f"final run {comparison.final_run_id} differs from the approved dry run "
               f"{comparison.dry_run_id} in {len(comparison.differences)} places:")
    click.echo("\n".join(f"  {line}" for line in comparison.differences))
    sys.exit(1)


@cli.command("void")
@event_option
@click.option("--payment-id", required=True,
              help="The disbursement: <PE>:<PaymentCenter_ID>, or <PE>:<id>:R<n> for a reissue.")
@click.option("--reason", required=True, type=click.Choice([r.value for r in VoidReason]),
              help="Why it is voided.")
@click.option("--reissue", is_flag=True,
              help="Pay the same amount again at once, with a new number.")
@click.option("--by", "by", help="Who voids (default: the operating-system user).")
@click.option("--resume", is_flag=True, help="Complete a void that died.")
@click.option("--remittance-dir", envvar="PAYMENT_REMITTANCE_DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="With --reissue: write the reissue's 835 here (with the event's others).")
@click.option("--treasury-dir", envvar="PAYMENT_TREASURY_DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Write the void's bank file here (with the event's others): a voided "
                   "check's positive-pay VOID, a reissue's ISSUE or ACH entry.")
def void_command(payment_event_id: str, db_uri: str | None, payment_id: str, reason: str,
                 reissue: bool, by: str | None, resume: bool, remittance_dir: Path | None,
                 treasury_dir: Path | None) -> None:
    """Void one disbursement of a FINAL event, once (its amount owed again, or reissued)."""
    unwritten: list[str | None] = []
    with open_store(db_uri) as store:
        if reissue and remittance_dir is not None:
            check_remittance_ready(store.db, payment_event_id, remittance_dir, final=True)
        if treasury_dir is not None:
            check_void_files_ready(store.db, payment_id, reissue)
            check_output_directory(treasury_dir)
        action = VoidProcessor(store).run(VoidRequest(
            payment_event_id, payment_id, VoidReason(reason),
            check_person(by if by is not None else current_user(), "--by"), reissue, resume))
        if action.kind is ActionKind.REISSUE and remittance_dir is not None:
            unwritten.append(unwritten_file(
                lambda: write_remittances(store.db, payment_event_id, remittance_dir,
                                          checkpoint=lambda: store.checkpoint(
                                              [REMITTANCE_FILE, SEQUENCES])),
                "835", f"PaymentProcess.remittance -p {payment_event_id} --out {remittance_dir}"))
        if treasury_dir is not None:
            unwritten.append(unwritten_file(
                lambda: write_treasury_files(store.db, payment_event_id, treasury_dir,
                                             checkpoint=lambda: store.checkpoint(
                                                 [TREASURY_FILE, SEQUENCES])),
                "bank file", f"PaymentProcess.treasury -p {payment_event_id} --out "
                             f"{treasury_dir}"))
    failed = [why for why in unwritten if why is not None]
    if action.kind is ActionKind.REISSUE:
        click.echo(f"voided {action.payment_id} ({action.reason}, {action.amount}) and "
                   f"reissued it as {action.reissue_id} number {action.number}")
    else:
        click.echo(f"voided {action.payment_id} ({action.reason}, {action.amount}): UNDER "
                   f"record {action.under_id} is paid in the payee's next cycle")
    if failed:
        fail(f"the {action.kind.value.lower()} is done, but " + "; and ".join(failed), 5)


def unwritten_file(write: Callable[[], object], what: str, module_args: str) -> str | None:
    """None when ``write()`` wrote the files, else why not and the command to write them."""
    try:
        write()
    except PaymentProcessError as error:
        return f"its {what} was not written: {error}; write it with python -m {module_args}"
    return None


@cli.command("report")
@event_option
@click.option("--run-id", help="The run (default: the final run, else the latest dry run).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML file to write.")
def report_command(payment_event_id: str, db_uri: str | None, run_id: str | None,
                   out: Path) -> None:
    """Write the auditor's report of a run: one self-contained HTML file."""
    with open_store(db_uri) as store:
        path = write_report(ControlRepository(store.db), payment_event_id, out, run_id)
    click.echo(str(path))


def main(argv: list[str] | None = None) -> int:
    """Run a command; returns its exit code (usage errors: 2)."""
    try:
        cli.main(args=argv, prog_name="python -m PaymentProcess.controls", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"{PROG}: error: {redact(exc.format_message())}", err=True)
        return 2
    except click.exceptions.Abort:
        return 2
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
