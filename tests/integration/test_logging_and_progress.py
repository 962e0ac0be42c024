"""Operator-facing output: JSON log lines with ids, no secrets, progress only on a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, run_cli


def test_log_dir_gets_json_lines_with_event_and_run_ids(golden_dir: Path, tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    result = run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", f"mongomock://{golden_dir}",
                     env={"PAYMENT_LOG_DIR": str(log_dir)})
    assert result.returncode == 0, result.stderr
    log_file = log_dir / "paymentprocess.log"
    assert oct(log_file.stat().st_mode & 0o777) == "0o640"
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert len(lines) >= 5
    for line in lines:
        assert line["payment_event_id"] == "PE-G1"
        assert {"timestamp", "level", "event"} <= set(line)
    run_lines = [line for line in lines if "run_id" in line]
    assert run_lines and len({line["run_id"] for line in run_lines}) == 1
    phases = {line.get("phase") for line in lines if line["event"] == "phase finished"}
    assert {"claims", "payees", "write"} <= phases
    finished = next(line for line in lines if line["event"] == "run finished")
    assert finished["counts"]["claims"] == 13 and finished["disbursed"] == "384.88"
    # stderr carries the same JSON lines, and nothing else (no progress bar off a terminal)
    stderr_lines = result.stderr.splitlines()
    assert stderr_lines and all(json.loads(line) for line in stderr_lines)


def test_password_never_reaches_logs_or_output(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    uri = "mongodb://payer:Sup3rS3cret@127.0.0.1:1/payments?serverSelectionTimeoutMS=300"
    result = run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri,
                     env={"PAYMENT_LOG_DIR": str(log_dir)})
    assert result.returncode == 4
    text = result.stdout + result.stderr + (log_dir / "paymentprocess.log").read_text()
    assert "Sup3rS3cret" not in text
    assert "payer:***@" in text
    assert "Traceback" not in result.stderr


def test_progress_shows_on_a_terminal_only(golden_dir: Path) -> None:
    main_fd, terminal_fd = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    process = subprocess.Popen(
        [sys.executable, str(REPO / "main.py"), "-p", "PE-G1", "-m", "dry-run",
         "--db-uri", f"mongomock://{golden_dir}", "--log-level", "ERROR"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=terminal_fd)
    os.close(terminal_fd)
    captured = b""
    while True:
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        captured += chunk
    assert process.wait(timeout=120) == 0
    assert b"claims" in captured and b"loading the store" in captured
    assert b"13/13" in captured  # the claims were counted first: the bar has its total
