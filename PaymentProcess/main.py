"""Command-line entry point: ``python main.py`` or ``python -m PaymentProcess.main``."""

from __future__ import annotations

import contextlib
import os
import sys

import click

from PaymentProcess.argument import RunOptions, parse_args
from PaymentProcess.common.env_file import load_env_file
from PaymentProcess.common.functions import close_connection, get_connection
from PaymentProcess.core.payment_processor import PaymentProcessor, Repositories, RunSettings
from PaymentProcess.data.config.config_loader import ConfigLoader
from PaymentProcess.data.models.event import RunMode
from PaymentProcess.data.models.stats import PaymentEventStats
from PaymentProcess.data.repositories.collections import ensure_indexes
from PaymentProcess.utils.error_handling import PaidNotWrittenError, PaymentProcessError
from PaymentProcess.utils.logging import bind_run, configure_logging, get_logger, redact
from PaymentProcess.utils.report import render_json, render_summary

log = get_logger("PaymentProcess.main")


def run(options: RunOptions) -> PaymentEventStats:
    """Open the store, build the processor and run the requested mode."""
    store = get_connection(options.db_uri, timeout_s=options.db_timeout_s)
    ensure_indexes(store.db)
    settings = RunSettings(db_uri=store.uri, workers=options.workers,
                           batch_size=options.batch_size, log_level=options.log_level,
                           pc_type=options.pc_type, resume=options.resume)
    processor = PaymentProcessor(ConfigLoader(store.db),
                                 Repositories.for_store(store, options.batch_size), settings, store)
    # The 835 and bank-file steps are imported only by a run that writes those files: they
    # cost ~27 ms of every start otherwise.
    if options.remittance_dir is not None:
        from PaymentProcess.remittance import final_step as remittance
    if options.treasury_dir is not None:
        from PaymentProcess.treasury import final_step as treasury
    if options.remittance_dir is not None and not options.validate_only:
        remittance.check_remittance_ready(store.db, options.payment_event_id,
                                          options.remittance_dir)
    if options.treasury_dir is not None and not options.validate_only:
        treasury.check_treasury_ready(store.db, options.payment_event_id, options.treasury_dir)
    if options.validate_only:
        return processor.run_validate_only(options.payment_event_id)
    if options.mode is RunMode.DRY_RUN:
        return processor.run_dry_run(options.payment_event_id)
    stats = processor.run_final_run(options.payment_event_id)
    if options.remittance_dir is not None and stats.status == "SUCCEEDED":
        remittance.write_after_final(store, options.payment_event_id, options.remittance_dir,
                                     stats)
    if options.treasury_dir is not None and stats.status == "SUCCEEDED":
        treasury.write_bank_files_after_final(store, options.payment_event_id,
                                              options.treasury_dir, stats)
    return stats


def main(argv: list[str] | None = None) -> int:
    """Run the engine; returns the exit code of spec section 11."""
    load_env_file()
    try:
        options = parse_args(argv)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        print(f"paymentprocess: error: {redact(exc.format_message())}", file=sys.stderr)
        return 2
    try:
        configure_logging(options.log_level, log_dir=options.log_dir)
    except PaymentProcessError as exc:
        print(f"paymentprocess: error: {redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    bind_run(payment_event_id=options.payment_event_id, run_kind=options.mode.value)
    log.info("starting", db=redact(options.db_uri), workers=options.workers,
             batch_size=options.batch_size)
    try:
        stats = run(options)
    except PaymentProcessError as exc:
        if isinstance(exc, PaidNotWrittenError):  # paid: the summary stands
            print_output(render_json(exc.stats) if options.json else render_summary(exc.stats))
        log.error("run stopped", error=str(exc), exit_code=exc.exit_code)
        print(f"paymentprocess: {redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # a crash: logged with its traceback, reported in one line
        log.exception("run failed")
        print(f"paymentprocess: failed: {type(exc).__name__}: {redact(str(exc))[:300]}"
              f"{_resume_advice(options)}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:  # Ctrl-C: its workers are stopped, the store as at a crash
        log.error("run interrupted")
        print(f"paymentprocess: interrupted{_resume_advice(options)}", file=sys.stderr)
        return 4
    finally:
        close_connection()
    log.info("run finished", status=stats.status, exit_code=stats.exit_code,
             disbursed=str(stats.totals.disbursed), counts=stats.counts)
    print_output(render_json(stats) if options.json else render_summary(stats))
    return stats.exit_code


def _resume_advice(options: RunOptions) -> str:
    """What an operator can do after a run that stopped midway."""
    if options.mode is RunMode.FINAL and not options.validate_only:
        return "; the final run can be resumed with --resume"
    return ""


def print_output(text: str) -> None:
    """Print the run's output; a closed stdout or a broken pipe is logged, never fatal.

    The run is done and recorded by then: its exit code stands whoever reads stdout.
    """
    try:
        print(text, flush=True)
    except (BrokenPipeError, ValueError, OSError) as exc:  # ValueError: stdout closed
        log.warning("summary not printed", reason=type(exc).__name__)
        with contextlib.suppress(OSError, ValueError):  # no second error at interpreter exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
