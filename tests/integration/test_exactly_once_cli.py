"""Spec section 9 through the command line, as an operator runs it: a final run killed with
SIGKILL at a checkpoint and resumed, the refusals (exit 3), two final runs on one embedded
store directory, and an unreachable store (exit 4)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.approval_support import approve_latest_cli
from tests.conftest import GOLDEN_STORE, REPO, read_store, run_cli
from tests.integration.resume_support import EVENT, Collections, assert_same_store

FINAL = ("-p", EVENT, "-m", "final")
ENV = {"PAYMENT_MAX_WORKERS": "2"}  # workers in processes, as in production


def uri(path: Path) -> str:
    return f"mongomock://{path}"


def files(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(path.glob("*.jsonl"))}


def stage_of(path: Path) -> str:
    return next(d for d in read_store(path)["PaymentEvent"] if d["_id"] == EVENT)["stage"]


def driver(when: str, *args: str) -> list[str]:
    """The command line of :mod:`tests.integration.crash_driver`."""
    return [sys.executable, "-m", "tests.integration.crash_driver", when, *args]


def driver_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    return env | ENV


def human_lines(stderr: str) -> list[str]:
    """stderr without the JSON log lines: what the operator reads."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("{")]


@pytest.fixture(scope="module")
def dry_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden store after a dry run of PE-G1 through the command line."""
    path = tmp_path_factory.mktemp("dry") / "store"
    shutil.copytree(GOLDEN_STORE, path)
    dry = run_cli("-p", EVENT, "-m", "dry-run", "--db-uri", uri(path), env=ENV)
    assert dry.returncode == 0, dry.stderr
    approve_latest_cli(uri(path), EVENT)
    return path


@pytest.fixture(scope="module")
def reference(dry_run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Collections:
    """The store after an uninterrupted final run."""
    path = tmp_path_factory.mktemp("reference") / "store"
    shutil.copytree(dry_run_dir, path)
    final = run_cli(*FINAL, "--db-uri", uri(path), env=ENV)
    assert final.returncode == 0, final.stderr
    return read_store(path)


@pytest.fixture
def store(dry_run_dir: Path, tmp_path: Path) -> Path:
    path = tmp_path / "store"
    shutil.copytree(dry_run_dir, path)
    return path


@pytest.mark.parametrize("kill_at", ["begin:0", "backup:0", "payees:0", "numbers:0",
                                     "batch:2", "ledger:0", "settlement:0", "finished:0"])
def test_killed_at_a_checkpoint_then_resumed(store: Path, reference: Collections,
                                             kill_at: str) -> None:
    killed = subprocess.run(driver(f"kill:{kill_at}", *FINAL, "--db-uri", uri(store),
                                   "--batch-size", "3"),
                            cwd=REPO, env=driver_env(), capture_output=True, text=True,
                            timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    read_store(store)  # the directory is whole: every file parses
    if kill_at.startswith("finished"):
        assert stage_of(store) == "FINAL"
    else:
        assert stage_of(store) == "FINAL_RUNNING"
        before = files(store)
        refused = run_cli(*FINAL, "--db-uri", uri(store), env=ENV)
        assert refused.returncode == 3
        assert human_lines(refused.stderr) == [
            f"paymentprocess: payment event {EVENT} has a final run in progress or "
            "interrupted: if it died, rerun with --resume"]
        assert files(store) == before
        resumed = run_cli(*FINAL, "--resume", "--db-uri", uri(store), env=ENV)
        assert resumed.returncode == 0, resumed.stderr
        assert "Traceback" not in resumed.stderr
    assert stage_of(store) == "FINAL"
    assert_same_store(read_store(store), reference)


def test_a_final_event_is_refused_with_or_without_resume(store: Path) -> None:
    assert run_cli(*FINAL, "--db-uri", uri(store), env=ENV).returncode == 0
    before = files(store)
    for extra in ((), ("--resume",)):
        again = run_cli(*FINAL, *extra, "--db-uri", uri(store), env=ENV)
        assert again.returncode == 3
        assert human_lines(again.stderr) == [
            f"paymentprocess: payment event {EVENT} is already FINAL: "
            "an event is paid exactly once"]
        assert "Traceback" not in again.stderr
        assert files(store) == before


def test_two_final_runs_on_one_directory(store: Path, tmp_path: Path,
                                         reference: Collections) -> None:
    """The first holds the directory (stopped just after it began); the second is refused."""
    release = tmp_path / "release"
    first = subprocess.Popen(driver(f"wait:begin:{release}", *FINAL, "--db-uri", uri(store)),
                             cwd=REPO, env=driver_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not Path(f"{release}.reached").exists():
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            assert time.monotonic() < deadline, "the first run never reached its begin"
            time.sleep(0.05)
        before = files(store)
        for extra in ((), ("--resume",)):
            second = run_cli(*FINAL, *extra, "--db-uri", uri(store), env=ENV)
            assert second.returncode == 3
            assert human_lines(second.stderr) == [
                f"paymentprocess: embedded store {store} is in use by another process"]
            assert files(store) == before
    finally:
        release.touch()
        _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert_same_store(read_store(store), reference)


@pytest.mark.parametrize("mode", ["dry-run", "final", "final --resume"])
def test_an_unreachable_store_is_one_line_and_exit_4(mode: str) -> None:
    secret = "n0t-the-real-pw"
    db_uri = f"mongodb://payments:{secret}@127.0.0.1:1/payments?serverSelectionTimeoutMS=500"
    for args, env in ((("--db-uri", db_uri), {}), ((), {"PAYMENT_DB_URI": db_uri})):
        started = time.monotonic()
        result = run_cli("-p", EVENT, "-m", *mode.split(), *args, env=env, timeout=60)
        assert result.returncode == 4
        assert time.monotonic() - started < 30
        [line] = human_lines(result.stderr)
        assert line.startswith("paymentprocess: cannot reach the store "
                               "mongodb://payments:***@127.0.0.1:1/payments")
        assert "Traceback" not in result.stderr + result.stdout
        assert secret not in result.stderr + result.stdout
        assert result.stdout == ""
