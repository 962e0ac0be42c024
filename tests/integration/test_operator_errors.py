"""Failures an operator meets: one line naming what is wrong, the spec's exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from PaymentProcess.common.functions import close_connection
from PaymentProcess.data import embedded_store
from PaymentProcess.main import main
from tests.approval_support import approve_latest_cli
from tests.conftest import REPO, read_store, run_cli


def one_line(stderr: str) -> str:
    """The one human line of stderr (the rest are JSON log records)."""
    assert "Traceback" not in stderr
    [line] = [line for line in stderr.splitlines() if not line.startswith("{")]
    return line


@pytest.mark.parametrize("kind", ["missing parent", "a file"])
def test_an_unusable_log_dir_stops_before_any_work(golden_dir: Path, tmp_path: Path,
                                                   kind: str) -> None:
    (tmp_path / "file").write_text("")
    log_dir = tmp_path / ("no/such/logs" if kind == "missing parent" else "file")
    before = read_store(golden_dir)
    result = run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", f"mongomock://{golden_dir}",
                     env={"PAYMENT_LOG_DIR": str(log_dir)})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [one_line(result.stderr)]
    assert one_line(result.stderr).startswith(f"paymentprocess: error: the log directory {log_dir}")
    assert read_store(golden_dir) == before


@pytest.mark.parametrize("redirect", ["| true", ">&-"])
def test_a_closed_stdout_leaves_the_final_runs_code_and_log(golden_dir: Path,
                                                           redirect: str) -> None:
    uri = f"mongomock://{golden_dir}"
    assert run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri).returncode == 0
    approve_latest_cli(uri, "PE-G1")
    err_log, code_file = golden_dir.parent / "err.log", golden_dir.parent / "code"
    command = (f"{sys.executable} main.py -p PE-G1 -m final --db-uri {uri} 2>{err_log} "
               f"{redirect}; echo ${{PIPESTATUS[0]}} >{code_file}")
    subprocess.run(["bash", "-c", command], cwd=REPO, check=True, timeout=300)
    assert code_file.read_text().strip() == "0"
    records = [json.loads(line) for line in err_log.read_text().splitlines()]
    assert [r["status"] for r in records if r["event"] == "run finished"] == ["SUCCEEDED"]
    event = next(d for d in read_store(golden_dir)["PaymentEvent"] if d["_id"] == "PE-G1")
    assert event["stage"] == "FINAL"


def test_validate_only_on_a_final_event_is_refused_and_writes_nothing(golden_dir: Path) -> None:
    uri = f"mongomock://{golden_dir}"
    assert run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri).returncode == 0
    approve_latest_cli(uri, "PE-G1")
    assert run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri).returncode == 0
    before = read_store(golden_dir)
    result = run_cli("-p", "PE-G1", "-m", "dry-run", "--validate-only", "--db-uri", uri)
    assert result.returncode == 3
    assert one_line(result.stderr) == ("paymentprocess: payment event PE-G1 is FINAL: its claims "
                                       "are paid or being paid, there is nothing to validate")
    assert read_store(golden_dir) == before


def test_a_missing_embedded_store_is_named_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "no-store"
    result = run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", f"mongomock://{missing}")
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"paymentprocess: the embedded store {missing} does not exist: check --db-uri (only "
        "python -m PaymentProcess.synthetic creates a store)")
    assert not missing.exists()
    remittance = subprocess.run(
        [sys.executable, "-m", "PaymentProcess.remittance", "-p", "PE-G1", "--db-uri",
         f"mongomock://{missing}", "--out", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert remittance.returncode == 2
    assert str(missing) in remittance.stderr and "Traceback" not in remittance.stderr
    assert not missing.exists()


def test_a_store_directory_that_is_not_writable_stops_the_run_first(
        golden_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Root may write anywhere, so the permission check itself is what is replaced here."""
    real_access = embedded_store.os.access
    monkeypatch.setattr(embedded_store.os, "access",
                        lambda path, mode: False if Path(path) == golden_dir
                        else real_access(path, mode))
    before = read_store(golden_dir)
    try:
        code = main(["-p", "PE-G1", "-m", "dry-run", "--db-uri", f"mongomock://{golden_dir}"])
    finally:
        close_connection()
    err = capsys.readouterr().err
    assert code == 2
    assert one_line(err) == (f"paymentprocess: embedded store {golden_dir} cannot be opened: "
                             "the directory is not writable")
    events = [json.loads(line)["event"] for line in err.splitlines() if line.startswith("{")]
    assert "resume" not in err and "run started" not in events
    assert read_store(golden_dir) == before


@pytest.mark.parametrize("uri", ["mongodb+srv://localhost/", "mongodb+srv://h:27017/",
                                 "mongodb://127.0.0.1:1/?badoption=1"])
def test_uri_errors_are_usage_errors(uri: str) -> None:
    result = run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri)
    assert result.returncode == 2
    assert one_line(result.stderr).startswith(f"paymentprocess: invalid db URI {uri}: ")


def test_an_unreachable_server_is_named_within_the_timeout() -> None:
    result = run_cli("-p", "PE-G1", "-m", "dry-run", "--db-timeout", "0.5", "--db-uri",
                     "mongodb://ops:s3cret@127.0.0.1:1/payments", timeout=60)
    assert result.returncode == 4
    line = one_line(result.stderr)
    assert line.startswith("paymentprocess: cannot reach the store mongodb://ops:***@127.0.0.1:1/"
                           "payments: 127.0.0.1:1 did not answer within 0.5 s: ")
    assert "s3cret" not in result.stderr


def test_the_generator_refuses_a_store_that_holds_data(golden_dir: Path) -> None:
    before = read_store(golden_dir)
    result = subprocess.run(
        [sys.executable, "-m", "PaymentProcess.synthetic", "--claims", "20", "--payees", "3"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={"PAYMENT_DB_URI": f"mongomock://{golden_dir}", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: mongomock://{golden_dir}: the store already holds documents (ClaimFinCore 3, "
        "ClaimWSCore 22, FundingSource 1, InclusionCriteria 1, InterestRules 1, OverUnder 4, "
        "PaymentCenter 6, PaymentEvent 2, Sequences 3): the generator writes only into an empty "
        "store (--add-events adds new events beside existing data)"]
    assert read_store(golden_dir) == before


def test_the_remittance_command_reads_the_working_directorys_dotenv(tmp_path: Path) -> None:
    missing = tmp_path / "from-dotenv"
    (tmp_path / ".env").write_text(f"PAYMENT_DB_URI=mongomock://{missing}\n")
    result = subprocess.run(
        [sys.executable, "-m", "PaymentProcess.remittance", "-p", "PE-G1", "--out",
         str(tmp_path / "out")], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert f"the embedded store {missing} does not exist" in result.stderr
