"""Run options: sources and precedence (command line > environment > YAML > defaults), errors."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest

import argument as argument_shim
from PaymentProcess import argument
from PaymentProcess.argument import DEFAULT_BATCH_SIZE, RunOptions, parse_args
from PaymentProcess.common import functions
from PaymentProcess.data.models.event import RunMode
from PaymentProcess.data.models.payment_center import PaymentCenterType

BASE = ["-p", "PE-2026-11-20", "-m", "dry-run", "--db-uri", "mongomock://"]


@pytest.fixture(autouse=True)
def no_payment_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PAYMENT_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(functions.os, "cpu_count", lambda: 3)


def yaml_file(tmp_path: Path, text: str, name: str = "run.yml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def usage_error(argv: list[str]) -> click.ClickException:
    with pytest.raises(click.ClickException) as caught:
        parse_args(argv)
    assert caught.value.exit_code == 2
    return caught.value


# --- defaults and values -------------------------------------------------------------------


def test_defaults() -> None:
    assert parse_args(BASE) == RunOptions(
        payment_event_id="PE-2026-11-20", mode=RunMode.DRY_RUN, workers=3,
        batch_size=DEFAULT_BATCH_SIZE, log_level="INFO", config_path=None, db_uri="mongomock://",
        resume=False, pc_type=None, validate_only=False, json=False, log_dir=None)
    assert DEFAULT_BATCH_SIZE == 1000


def test_default_workers_are_capped_at_eight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(functions.os, "cpu_count", lambda: 64)
    assert parse_args(BASE).workers == 8


def test_every_option_on_the_command_line(tmp_path: Path) -> None:
    config = yaml_file(tmp_path, "")
    options = parse_args(["--payment-event-id", "PE-1", "--mode", "final", "--workers", "2",
                          "--batch-size", "50", "--log-level", "debug", "--db-uri",
                          "mongodb://h/payments", "--resume", "--pc-type", "DMR",
                          "--validate-only", "--json", "--config-path", config,
                          "--log-dir", "/tmp/logs", "--db-timeout", "2.5"])
    assert options == RunOptions(
        payment_event_id="PE-1", mode=RunMode.FINAL, workers=2, batch_size=50,
        log_level="DEBUG", config_path=Path(config), db_uri="mongodb://h/payments", resume=True,
        pc_type=PaymentCenterType.DMR, validate_only=True, json=True, log_dir="/tmp/logs",
        db_timeout_s=2.5)


def test_db_timeout_from_the_environment_and_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_args(BASE).db_timeout_s == 10.0
    monkeypatch.setenv("PAYMENT_DB_TIMEOUT_S", "3")
    assert parse_args(BASE).db_timeout_s == 3.0
    for bad in ("0", "-1", "soon"):
        monkeypatch.setenv("PAYMENT_DB_TIMEOUT_S", bad)
        with pytest.raises(click.UsageError) as error:
            parse_args(BASE)
        assert "'--db-timeout'" in error.value.format_message()


def test_resume_applies_to_a_final_run_only() -> None:
    with pytest.raises(click.UsageError, match="--resume completes a final run"):
        parse_args([*BASE, "--resume"])


def test_log_dir_of_the_config_file_must_be_text(tmp_path: Path) -> None:
    config = yaml_file(tmp_path, "log_dir: [a, b]\n")
    with pytest.raises(click.BadParameter, match="log_dir must be text"):
        parse_args([*BASE, "--config-path", config])


@pytest.mark.parametrize(("value", "expected"), [("provider", PaymentCenterType.PROVIDER),
                                                 ("Provider", PaymentCenterType.PROVIDER),
                                                 ("dmr", PaymentCenterType.DMR)])
def test_pc_type(value: str, expected: PaymentCenterType) -> None:
    assert parse_args([*BASE, "--pc-type", value]).pc_type is expected


def test_root_shim_is_the_same_parser() -> None:
    assert argument_shim.parse_args is argument.parse_args
    assert argument_shim.RunOptions is RunOptions


# --- precedence ----------------------------------------------------------------------------


def test_yaml_beats_defaults(tmp_path: Path) -> None:
    config = yaml_file(tmp_path, "workers: 4\nbatch_size: 10\nlog_level: warning\n"
                                 "pc_type: dmr\nlog_dir: /var/log/from-yaml\n")
    options = parse_args([*BASE, "--config-path", config])
    assert (options.workers, options.batch_size, options.log_level, options.pc_type,
            options.log_dir) == (4, 10, "WARNING", PaymentCenterType.DMR, "/var/log/from-yaml")
    assert options.config_path == Path(config)


def test_environment_beats_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = yaml_file(tmp_path, "workers: 4\nbatch_size: 10\nlog_level: warning\n"
                                 "log_dir: /var/log/from-yaml\n")
    monkeypatch.setenv("PAYMENT_MAX_WORKERS", "5")
    monkeypatch.setenv("PAYMENT_BATCH_SIZE", "20")
    monkeypatch.setenv("PAYMENT_LOG_LEVEL", "ERROR")
    monkeypatch.setenv("PAYMENT_LOG_DIR", "/var/log/from-env")
    options = parse_args([*BASE, "--config-path", config])
    assert (options.workers, options.batch_size, options.log_level, options.log_dir) == (
        5, 20, "ERROR", "/var/log/from-env")


def test_command_line_beats_environment_and_yaml(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    config = yaml_file(tmp_path, "workers: 4\nbatch_size: 10\nlog_level: warning\n"
                                 "pc_type: dmr\n")
    monkeypatch.setenv("PAYMENT_MAX_WORKERS", "5")
    monkeypatch.setenv("PAYMENT_BATCH_SIZE", "20")
    monkeypatch.setenv("PAYMENT_LOG_LEVEL", "ERROR")
    monkeypatch.setenv("PAYMENT_EVENT_ID", "PE-FROM-ENV")
    monkeypatch.setenv("PAYMENT_DB_URI", "mongodb://env-host/payments")
    options = parse_args(["-p", "PE-CLI", "-m", "final", "--db-uri", "mongomock://cli",
                          "--config-path", config, "--workers", "6", "--batch-size", "30",
                          "--log-level", "DEBUG", "--pc-type", "provider"])
    assert (options.payment_event_id, options.db_uri, options.workers, options.batch_size,
            options.log_level, options.pc_type) == (
        "PE-CLI", "mongomock://cli", 6, 30, "DEBUG", PaymentCenterType.PROVIDER)


def test_event_id_and_db_uri_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_EVENT_ID", "PE-FROM-ENV")
    monkeypatch.setenv("PAYMENT_DB_URI", "mongodb://env-host/payments")
    options = parse_args(["-m", "dry-run"])
    assert (options.payment_event_id, options.db_uri) == ("PE-FROM-ENV",
                                                          "mongodb://env-host/payments")


def test_config_path_from_the_environment_and_overridden(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from_env = yaml_file(tmp_path, "workers: 4\n", "env.yml")
    from_cli = yaml_file(tmp_path, "workers: 7\n", "cli.yml")
    monkeypatch.setenv("PAYMENT_CONFIG_PATH", from_env)
    assert parse_args(BASE).workers == 4
    assert parse_args([*BASE, "--config-path", from_cli]).workers == 7


def test_empty_environment_values_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_DB_URI", "")
    error = usage_error(["-p", "PE-1", "-m", "dry-run"])
    assert "no database" in error.format_message()


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--workers", "0"], "--workers"),
        (["--workers", "-1"], "--workers"),
        (["--workers", "abc"], "--workers"),
        (["--workers", "2.5"], "--workers"),
        (["--batch-size", "0"], "--batch-size"),
        (["--log-level", "TRACE"], "--log-level"),
        (["--pc-type", "member"], "--pc-type"),
        (["--unknown"], "--unknown"),
    ],
)
def test_bad_options(extra: list[str], fragment: str) -> None:
    assert fragment in usage_error([*BASE, *extra]).format_message()


@pytest.mark.parametrize("mode", ["wet", "DRY-RUN", "validate", ""])
def test_unknown_mode(mode: str) -> None:
    assert "--mode" in usage_error(["-p", "PE-1", "-m", mode, "--db-uri", "mongomock://"]) \
        .format_message()


def test_missing_mode_and_event() -> None:
    assert "--mode" in usage_error(["-p", "PE-1", "--db-uri", "mongomock://"]).format_message()
    assert "--payment-event-id" in usage_error(["-m", "final", "--db-uri", "mongomock://"]) \
        .format_message()


def test_missing_db_uri() -> None:
    assert "no database" in usage_error(["-p", "PE-1", "-m", "final"]).format_message()


@pytest.mark.parametrize("uri", ["postgres://u:p@h/db", "localhost:27017", "mongomock:/x"])
def test_unsupported_db_uri(uri: str) -> None:
    message = usage_error(["-p", "PE-1", "-m", "final", "--db-uri", uri]).format_message()
    assert "mongodb://" in message
    assert ":p@" not in message


@pytest.mark.parametrize(("name", "value"), [("PAYMENT_MAX_WORKERS", "abc"),
                                             ("PAYMENT_MAX_WORKERS", "0"),
                                             ("PAYMENT_BATCH_SIZE", "-5"),
                                             ("PAYMENT_LOG_LEVEL", "LOUD")])
def test_bad_environment_values(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    usage_error(BASE)


@pytest.mark.parametrize(
    "event_id",
    ['{"$gt": ""}', "$where", "$ne", "", " PE-1", "PE 1", "-PE", ".PE", "_PE", "PE/1", "PE\n1",
     "PE;1", "PE*", "P" * 101, "PÉ-1", "PE-\u0661"],
)
def test_event_ids_that_are_rejected(event_id: str) -> None:
    error = usage_error(["-p", event_id, "-m", "dry-run", "--db-uri", "mongomock://"])
    assert "letters, digits" in error.format_message()


def test_event_id_from_the_environment_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_EVENT_ID", "$where")
    usage_error(["-m", "dry-run", "--db-uri", "mongomock://"])


@pytest.mark.parametrize("event_id", ["PE-2026-11-20", "a", "9", "P" * 100, "PE:G1.x_y-z"])
def test_event_ids_that_are_accepted(event_id: str) -> None:
    assert parse_args(["-p", event_id, "-m", "final", "--db-uri", "mongomock://"]) \
        .payment_event_id == event_id


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("workers: 2\nthreads: 4\n", "unknown keys threads"),
        ("batch-size: 5\n", "unknown keys batch-size"),
        ("db_uri: mongodb://u:s3cret@h/\n", "unknown keys db_uri"),
        ("- workers\n", "<root>"),
        ("just text\n", "<root>"),
        ("workers: [1\n", "not valid YAML"),
        ("workers: 0\n", "--workers"),
        ("workers: many\n", "--workers"),
        ("batch_size: -1\n", "--batch-size"),
        ("log_level: LOUD\n", "--log-level"),
        ("pc_type: member\n", "--pc-type"),
    ],
)
def test_bad_config_files(tmp_path: Path, text: str, fragment: str) -> None:
    message = usage_error([*BASE, "--config-path", yaml_file(tmp_path, text)]).format_message()
    assert fragment in message
    assert "s3cret" not in message


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_config_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "nothing.yml"
    if kind == "directory":
        path.mkdir()
    message = usage_error([*BASE, "--config-path", str(path)]).format_message()
    assert f"cannot read {path}" in message


def test_empty_config_file_is_no_config(tmp_path: Path) -> None:
    options = parse_args([*BASE, "--config-path", yaml_file(tmp_path, "# nothing\n")])
    assert (options.workers, options.batch_size) == (3, DEFAULT_BATCH_SIZE)


@pytest.mark.parametrize("text", ["workers: true\n", "workers: 2.5\n", "batch_size: 12.9\n"])
def test_non_integer_yaml_counts_are_rejected(tmp_path: Path, text: str) -> None:
    usage_error([*BASE, "--config-path", yaml_file(tmp_path, text)])


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(click.exceptions.Exit) as caught:
        parse_args(["--help"])
    assert caught.value.exit_code == 0
    out = capsys.readouterr().out
    for option in ("--payment-event-id", "--mode", "--workers", "--batch-size", "--db-uri",
                   "--config-path", "--resume", "--validate-only", "--pc-type", "--json"):
        assert option in out
    assert "--log-dir" not in out
