"""``main``: exit codes, one-line errors without traceback or secret, .env loading."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from PaymentProcess import main as main_module
from PaymentProcess.argument import RunOptions
from PaymentProcess.common.functions import close_connection
from PaymentProcess.data.models.stats import PaymentEventStats
from PaymentProcess.main import main

SECRET_URI = "mongodb://user:s3cret@127.0.0.1:1/?serverSelectionTimeoutMS=300"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No PAYMENT_* variables; environment, logging and the store restored afterwards.

    ``main`` loads ``.env`` into ``os.environ`` and configures the root logger and
    structlog for the process, so every change is undone here.
    """
    saved_environment = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("PAYMENT_"):
            monkeypatch.delenv(name)
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_structlog = structlog.get_config()
    close_connection()
    yield
    close_connection()
    os.environ.clear()
    os.environ.update(saved_environment)
    for handler in list(root.handlers):
        if handler not in saved_handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in saved_handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(saved_level)
    structlog.configure(**saved_structlog)
    structlog.contextvars.clear_contextvars()


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def human_lines(stderr: str) -> list[str]:
    """stderr lines that are not the engine's JSON log records (each of which must parse)."""
    lines = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            assert {"event", "level", "timestamp"} <= set(record)
        else:
            lines.append(line)
    return lines


def assert_one_usage_line(code: int, out: str, err: str) -> str:
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("paymentprocess: error: ")
    return lines[0]


@pytest.fixture
def captured_options(monkeypatch: pytest.MonkeyPatch) -> list[RunOptions]:
    """Replace the run by a recorder: main parses, configures and 'runs' without a store."""
    seen: list[RunOptions] = []

    def fake_run(options: RunOptions) -> PaymentEventStats:
        seen.append(options)
        stats = PaymentEventStats(run_id="RUN-1", payment_event_id=options.payment_event_id,
                                  stage="DRY_RUN", started_at=None)
        stats.status = "SUCCEEDED"
        return stats

    monkeypatch.setattr(main_module, "run", fake_run)
    return seen


# --- help and usage errors -----------------------------------------------------------------


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "--help")
    assert code == 0
    assert "--payment-event-id" in out
    assert err == ""


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["-p", "PE-1", "-m", "dry-run", "--db-uri", "mongomock://", "--workers", "0"],
         "--workers"),
        (["-p", "PE-1", "-m", "dry-run", "--db-uri", "mongomock://", "--workers", "abc"],
         "--workers"),
        (["-p", "PE-1", "-m", "wet", "--db-uri", "mongomock://"], "--mode"),
        (["-m", "dry-run", "--db-uri", "mongomock://"], "--payment-event-id"),
        (["-p", "PE-1", "-m", "dry-run"], "no database"),
        (["-p", '{"$gt": ""}', "-m", "dry-run", "--db-uri", "mongomock://"], "letters, digits"),
        (["-p", "$where", "-m", "final", "--db-uri", "mongomock://"], "letters, digits"),
        (["-p", "PE-1", "-m", "final", "--db-uri", "ftp://user:s3cret@h/"], "scheme"),
    ],
)
def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str],
                                   fragment: str) -> None:
    line = assert_one_usage_line(*run_main(capsys, *argv))
    assert fragment in line
    assert "s3cret" not in line


def test_bad_workers_from_the_environment(capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_MAX_WORKERS", "lots")
    assert_one_usage_line(*run_main(capsys, "-p", "PE-1", "-m", "final", "--db-uri",
                                    "mongomock://"))


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("workers: 2\nsecret_key: 1\n", "unknown keys secret_key"), (None, "cannot read"),
     ("dir", "cannot read")],
)
def test_config_file_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                         content: str | None, fragment: str) -> None:
    path = tmp_path / "run.yml"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    line = assert_one_usage_line(*run_main(capsys, "-p", "PE-1", "-m", "dry-run", "--db-uri",
                                           "mongomock://", "--config-path", str(path)))
    assert fragment in line


def test_config_file_that_is_not_utf8(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    path = tmp_path / "run.yml"
    path.write_bytes(b"\xff\xfeworkers: 2\n")
    line = assert_one_usage_line(*run_main(capsys, "-p", "PE-1", "-m", "dry-run", "--db-uri",
                                           "mongomock://", "--config-path", str(path)))
    assert "run.yml" in line


# --- running -------------------------------------------------------------------------------


def test_unknown_event_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "-p", "PE-NOPE", "-m", "dry-run", "--db-uri",
                              "mongomock://", "--workers", "1")
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert human_lines(err) == ["paymentprocess: unknown payment event 'PE-NOPE'"]


@pytest.mark.parametrize("source", ["option", "environment"])
def test_password_never_appears_when_the_store_is_unreachable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    argv = ["-p", "PE-1", "-m", "final", "--workers", "1"]
    if source == "option":
        argv += ["--db-uri", SECRET_URI]
    else:
        monkeypatch.setenv("PAYMENT_DB_URI", SECRET_URI)
    code, out, err = run_main(capsys, *argv)
    assert code == 4
    assert "s3cret" not in out + err
    assert "Traceback" not in err
    [line] = human_lines(err)
    assert line.startswith("paymentprocess: cannot reach the store mongodb://user:***@127.0.0.1:1/")
    assert "127.0.0.1:1 did not answer within the URI's serverSelectionTimeoutMS: " in line


def test_percent_encoded_password_never_appears(capsys: pytest.CaptureFixture[str]) -> None:
    uri = "mongodb://user:s3cr%40t%21@127.0.0.1:1/?serverSelectionTimeoutMS=300"
    code, out, err = run_main(capsys, "-p", "PE-1", "-m", "final", "--workers", "1",
                              "--db-uri", uri)
    assert code == 4
    for form in ("s3cr%40t", "s3cr@t", "s3cr"):
        assert form not in out + err
    assert len(human_lines(err)) == 1


def test_invalid_uri_with_a_password_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "-p", "PE-1", "-m", "final", "--workers", "1",
                              "--db-uri", "mongodb://user:s3cret@127.0.0.1:99999/payments")
    assert code == 2
    assert "s3cret" not in out + err
    [line] = human_lines(err)
    assert line.startswith("paymentprocess: invalid db URI mongodb://user:***@")


def test_options_reach_the_run(capsys: pytest.CaptureFixture[str],
                               captured_options: list[RunOptions]) -> None:
    code, out, _ = run_main(capsys, "-p", "PE-7", "-m", "final", "--db-uri", "mongomock://",
                            "--workers", "2", "--log-level", "WARNING")
    assert code == 0
    [options] = captured_options
    assert (options.payment_event_id, options.mode.value, options.workers, options.log_level) == (
        "PE-7", "final", 2, "WARNING")
    assert out.startswith("PaymentProcess DRY_RUN of PE-7: SUCCEEDED")


# --- .env ----------------------------------------------------------------------------------


@pytest.fixture
def dotenv_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of its own holding a .env, as an operator's would."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return workdir / ".env"


def test_environment_beats_dotenv(capsys: pytest.CaptureFixture[str], dotenv_in_cwd: Path,
                                  captured_options: list[RunOptions],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    dotenv_in_cwd.write_text("PAYMENT_MAX_WORKERS=5\nPAYMENT_BATCH_SIZE=50\n")
    monkeypatch.setenv("PAYMENT_MAX_WORKERS", "6")
    monkeypatch.setenv("PAYMENT_BATCH_SIZE", "60")
    code, _, _ = run_main(capsys, "-p", "PE-1", "-m", "dry-run", "--db-uri", "mongomock://")
    assert code == 0
    assert (captured_options[0].workers, captured_options[0].batch_size) == (6, 60)


def test_command_line_beats_dotenv(capsys: pytest.CaptureFixture[str], dotenv_in_cwd: Path,
                                   captured_options: list[RunOptions]) -> None:
    dotenv_in_cwd.write_text("PAYMENT_MAX_WORKERS=5\nPAYMENT_DB_URI=mongodb://h/from-dotenv\n")
    code, _, _ = run_main(capsys, "-p", "PE-1", "-m", "dry-run", "--db-uri", "mongomock://",
                          "--workers", "7")
    assert code == 0
    assert (captured_options[0].workers, captured_options[0].db_uri) == (7, "mongomock://")


def test_dotenv_in_the_working_directory_is_loaded(capsys: pytest.CaptureFixture[str],
                                                   dotenv_in_cwd: Path,
                                                   captured_options: list[RunOptions]) -> None:
    dotenv_in_cwd.write_text("PAYMENT_DB_URI=mongomock://\nPAYMENT_MAX_WORKERS=5\n")
    code, _, err = run_main(capsys, "-p", "PE-1", "-m", "dry-run")
    assert code == 0, err
    assert (captured_options[0].db_uri, captured_options[0].workers) == ("mongomock://", 5)


def test_only_the_working_directorys_dotenv_and_only_payment_names(
        capsys: pytest.CaptureFixture[str], dotenv_in_cwd: Path,
        captured_options: list[RunOptions]) -> None:
    (dotenv_in_cwd.parent.parent / ".env").write_text("PAYMENT_DB_URI=mongomock://\n")
    code, _, err = run_main(capsys, "-p", "PE-1", "-m", "dry-run")
    assert code == 2 and "no database" in err  # the parent directory's .env is not read
    dotenv_in_cwd.write_text("PAYMENT_DB_URI=mongomock://\nHOME=/nowhere\nOTHER_TOKEN=x\n")
    home = os.environ.get("HOME")
    code, _, err = run_main(capsys, "-p", "PE-1", "-m", "dry-run")
    assert code == 0, err
    assert os.environ.get("HOME") == home and "OTHER_TOKEN" not in os.environ


def test_dotenv_beats_the_config_file(capsys: pytest.CaptureFixture[str], dotenv_in_cwd: Path,
                                      captured_options: list[RunOptions]) -> None:
    config = dotenv_in_cwd.parent / "run.yml"
    config.write_text("workers: 3\nbatch_size: 30\n")
    dotenv_in_cwd.write_text(f"PAYMENT_MAX_WORKERS=5\nPAYMENT_CONFIG_PATH={config}\n")
    code, _, err = run_main(capsys, "-p", "PE-1", "-m", "dry-run", "--db-uri", "mongomock://")
    assert code == 0, err
    assert (captured_options[0].workers, captured_options[0].batch_size) == (5, 30)


# --- a dry run on the golden store ---------------------------------------------------------


def corrupt(golden_dir: Path, collection: str, needle: str, replacement: str) -> None:
    golden_dir.chmod(0o755)
    path = golden_dir / f"{collection}.jsonl"
    path.chmod(0o644)
    text = path.read_text()
    assert needle in text
    path.write_text(text.replace(needle, replacement, 1))


def dry_run_json(capsys: pytest.CaptureFixture[str], golden_dir: Path) -> tuple[int, Any]:
    code, out, err = run_main(capsys, "-p", "PE-G1", "-m", "dry-run", "--workers", "1",
                              "--json", "--db-uri", f"mongomock://{golden_dir}")
    assert "Traceback" not in err
    return code, json.loads(out)


def test_dry_run_reports_a_malformed_payee(capsys: pytest.CaptureFixture[str],
                                           golden_dir: Path) -> None:
    corrupt(golden_dir, "PaymentCenter", '"payment_method": "EFT", "status": "ACTIVE"}',
            '"payment_method": "WIRE", "status": "ACTIVE"}')
    code, stats = dry_run_json(capsys, golden_dir)
    assert code == 1
    assert "RECORD_INVALID" in {f["code"] for f in stats["findings"]}


def test_dry_run_reports_a_malformed_over_under_record(capsys: pytest.CaptureFixture[str],
                                                       golden_dir: Path) -> None:
    corrupt(golden_dir, "OverUnder", '"_id": "OU-1", "PaymentCenter_ID": 101, "type": "OVER"',
            '"_id": "OU-1", "PaymentCenter_ID": 101, "type": "BOGUS"')
    code, stats = dry_run_json(capsys, golden_dir)
    assert "RECORD_INVALID" in {f["code"] for f in stats["findings"]}
    assert code == 1


@pytest.mark.parametrize(("mode", "advice"), [("dry-run", False), ("final", True)])
def test_ctrl_c_is_one_line_and_exit_4_not_a_traceback(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, mode: str,
        advice: bool) -> None:
    def interrupted(options: RunOptions) -> PaymentEventStats:
        raise KeyboardInterrupt

    monkeypatch.setattr(main_module, "run", interrupted)
    code, out, err = run_main(capsys, "-p", "PE-1", "-m", mode, "--db-uri", "mongomock://")
    assert code == 4 and out == ""
    [line] = human_lines(err)
    assert line == "paymentprocess: interrupted" + (
        "; the final run can be resumed with --resume" if advice else "")
    assert "Traceback" not in err


@pytest.mark.parametrize(("mode", "advice"), [("dry-run", False), ("final", True)])
def test_resume_advice_only_where_a_final_run_can_be_resumed(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, mode: str,
        advice: bool) -> None:
    def crash(options: RunOptions) -> PaymentEventStats:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(main_module, "run", crash)
    code, out, err = run_main(capsys, "-p", "PE-1", "-m", mode, "--db-uri", "mongomock://")
    assert code == 4 and out == ""
    [line] = human_lines(err)
    assert line.startswith("paymentprocess: failed: OSError: [Errno 30] Read-only file system")
    assert line.endswith("; the final run can be resumed with --resume") is advice
