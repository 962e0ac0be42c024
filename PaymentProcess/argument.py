"""Command-line options of a run, their sources and their validation.

Precedence, highest first: the command line, the environment (``PAYMENT_*``), a
``.env`` file (loaded by ``main`` without overriding the environment), the YAML file
named by ``--config-path``/``PAYMENT_CONFIG_PATH``, and the built-in defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from PaymentProcess.common.functions import (
    DEFAULT_DB_TIMEOUT_S,
    get_default_workers,
    resolve_db_uri,
)
from PaymentProcess.data.models.event import RunMode, is_event_id
from PaymentProcess.data.models.payment_center import PaymentCenterType
from PaymentProcess.utils.error_handling import ConfigurationError

DEFAULT_BATCH_SIZE = 1000
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
CONFIG_KEYS = {"workers", "batch_size", "log_level", "pc_type", "log_dir",
               "require_distinct_approver"}  # the last one: python -m PaymentProcess.controls


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Validated options of one run."""

    payment_event_id: str
    mode: RunMode
    workers: int
    batch_size: int
    log_level: str
    config_path: Path | None
    db_uri: str
    resume: bool
    pc_type: PaymentCenterType | None
    validate_only: bool
    json: bool
    log_dir: str | None
    remittance_dir: Path | None = None
    treasury_dir: Path | None = None
    db_timeout_s: float = DEFAULT_DB_TIMEOUT_S


def _load_config_file(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Eager: read the YAML config file into click's default map (below env and CLI)."""
    if not value:
        return None
    import yaml  # only with a config file: PyYAML costs ~8 ms of every start

    path = Path(value)
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise click.BadParameter(f"{path} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(content, dict) or not set(content) <= CONFIG_KEYS:
        unknown = sorted(set(content) - CONFIG_KEYS) if isinstance(content, dict) else ["<root>"]
        raise click.BadParameter(f"{path}: unknown keys {', '.join(map(str, unknown))} "
                                 f"(allowed: {', '.join(sorted(CONFIG_KEYS))})")
    for key in ("workers", "batch_size"):
        count = content.get(key)
        if count is not None and (type(count) is not int or count < 1):
            option = "--" + key.replace("_", "-")
            raise click.BadParameter(f"{path}: {key} ({option}) must be a whole number of "
                                     f"at least 1, not {count!r}")
    for key in ("log_dir", "log_level", "pc_type"):
        if content.get(key) is not None and not isinstance(content[key], str):
            raise click.BadParameter(f"{path}: {key} must be text, not {content[key]!r}")
    ctx.default_map = {**(ctx.default_map or {}), **content}
    return value


def _check_event_id(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not is_event_id(value):
        raise click.BadParameter(
            "must be 1-100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit")
    return value


def build_arg_parser() -> click.Command:
    """The click command holding every option of a run (``--help`` lists them)."""

    @click.command(name="paymentprocess", context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--config-path", envvar="PAYMENT_CONFIG_PATH", is_eager=True,
                  callback=_load_config_file, help="YAML file with run defaults.")
    @click.option("-p", "--payment-event-id", envvar="PAYMENT_EVENT_ID", required=True,
                  callback=_check_event_id, help="The payment event to run.")
    @click.option("-m", "--mode", type=click.Choice([m.value for m in RunMode]), required=True,
                  help="dry-run estimates and writes nothing of record; final pays.")
    @click.option("--workers", envvar="PAYMENT_MAX_WORKERS", type=click.IntRange(min=1),
                  help="Processes computing chains (default: CPU count, at most 8).")
    @click.option("--batch-size", envvar="PAYMENT_BATCH_SIZE", type=click.IntRange(min=1),
                  default=DEFAULT_BATCH_SIZE, show_default=True,
                  help="Claims read, computed and written per batch.")
    @click.option("--log-level", envvar="PAYMENT_LOG_LEVEL", default="INFO", show_default=True,
                  type=click.Choice(LOG_LEVELS, case_sensitive=False))
    @click.option("--db-uri", envvar="PAYMENT_DB_URI",
                  help="mongodb://..., mongodb+srv://... or mongomock://PATH.")
    @click.option("--resume", is_flag=True, help="Complete a final run that died.")
    @click.option("--pc-type", type=click.Choice(["provider", "dmr"], case_sensitive=False),
                  help="Override the event's payee type.")
    @click.option("--validate-only", is_flag=True, help="Validate only: no calculation.")
    @click.option("--json", "json_output", is_flag=True,
                  help="Print the stats document as JSON instead of the summary.")
    @click.option("--remittance-dir", envvar="PAYMENT_REMITTANCE_DIR",
                  type=click.Path(file_okay=False),
                  help="After a final run, write one X12 835 per payee here.")
    @click.option("--treasury-dir", envvar="PAYMENT_TREASURY_DIR",
                  type=click.Path(file_okay=False),
                  help="After a final run, write the bank files (ACH, positive pay) here.")
    @click.option("--db-timeout", envvar="PAYMENT_DB_TIMEOUT_S",
                  type=click.FloatRange(min=0, min_open=True, max=3600),
                  default=DEFAULT_DB_TIMEOUT_S, show_default=True,
                  help="Seconds a MongoDB server may take to answer before the run stops.")
    @click.option("--log-dir", envvar="PAYMENT_LOG_DIR", hidden=True)
    def command(**values: Any) -> dict[str, Any]:
        return values

    return command


def validate_args(values: dict[str, Any]) -> RunOptions:
    """Apply the cross-option rules and resolve defaults into :class:`RunOptions`."""
    try:
        db_uri = resolve_db_uri(values.get("db_uri"))
        workers = values.get("workers") or get_default_workers()
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise click.UsageError("workers must be a whole number of at least 1")
    batch_size = values["batch_size"]
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise click.UsageError("batch_size must be a whole number of at least 1")
    pc_type = values.get("pc_type")
    if values["resume"] and values["mode"] != RunMode.FINAL.value:
        raise click.UsageError("--resume completes a final run that died: it does not apply "
                               "to a dry run")
    return RunOptions(
        payment_event_id=values["payment_event_id"],
        mode=RunMode(values["mode"]),
        workers=workers,
        batch_size=batch_size,
        log_level=str(values["log_level"]).upper(),
        config_path=Path(values["config_path"]) if values.get("config_path") else None,
        db_uri=db_uri,
        resume=values["resume"],
        pc_type=PaymentCenterType(pc_type.upper()) if pc_type else None,
        validate_only=values["validate_only"],
        json=values["json_output"],
        log_dir=values.get("log_dir") or None,
        remittance_dir=Path(values["remittance_dir"]) if values.get("remittance_dir") else None,
        treasury_dir=Path(values["treasury_dir"]) if values.get("treasury_dir") else None,
        db_timeout_s=values["db_timeout"],
    )


def parse_args(argv: list[str] | None = None) -> RunOptions:
    """Parse and validate; raises ``click.ClickException`` (exit 2) or ``click.exceptions.Exit``."""
    values = build_arg_parser().main(args=argv, standalone_mode=False)
    if isinstance(values, int):  # --help printed
        raise click.exceptions.Exit(values)
    return validate_args(values)
