"""A final run of 20,000 claims killed with SIGKILL at random moments, then resumed.

The store comes from ``python -m PaymentProcess.synthetic`` (event ``PE-SYN-0001``) and is
dry-run once. An uninterrupted final run on one copy gives the reference; on another copy
the final run is started and killed at a random moment of the part of the run that writes
(after its first checkpoint: pass 2, a checkpoint being written, the settlement...),
resumed and killed again, a few times, then resumed to the end. Both stores must then be
equal document for document, apart from run ids and timestamps. Every wait is bounded.

It is CPU-bound on mongomock: about five runs of the engine over 20,000 claims, the
reference one beside the killed ones. Knobs (environment): ``KILL_TEST_CLAIMS`` (20000),
``KILL_TEST_KILLS`` (2), ``KILL_TEST_SEED`` (the random moments; printed, to replay them).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.approval_support import approve_latest_cli
from tests.conftest import REPO, read_store
from tests.integration.resume_support import assert_same_store, checkpoints

EVENT = "PE-SYN-0001"
CLAIMS = int(os.environ.get("KILL_TEST_CLAIMS", "20000"))
KILLS = int(os.environ.get("KILL_TEST_KILLS", "2"))
SEED = int(os.environ.get("KILL_TEST_SEED", str(random.SystemRandom().randrange(10**6))))
RUN_LIMIT = 600.0  # seconds any one run may take before the test gives up on it


def environment(workers: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    return env | {"PAYMENT_MAX_WORKERS": str(workers)}


def command(store: Path, *args: str) -> list[str]:
    return [sys.executable, str(REPO / "main.py"), "-p", EVENT, "--db-uri",
            f"mongomock://{store}", *args]


def start(store: Path, log: Path, *args: str, workers: int = 1) -> subprocess.Popen[bytes]:
    with open(log, "wb") as stderr:
        return subprocess.Popen(command(store, *args), cwd=REPO, env=environment(workers),
                                stdout=subprocess.DEVNULL, stderr=stderr)


def finish(process: subprocess.Popen[bytes], log: Path) -> None:
    try:
        process.wait(timeout=RUN_LIMIT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)
        pytest.fail(f"a run took more than {RUN_LIMIT} s")
    assert process.returncode == 0, log.read_text()[-2000:]


def stage_of(store: Path) -> str:
    return next(d for d in read_store(store)["PaymentEvent"] if d["_id"] == EVENT)["stage"]


def final_args(store: Path) -> tuple[str, ...]:
    """What the runbook says to run after a crash, by the stage on disk."""
    return ("-m", "final", "--resume") if stage_of(store) == "FINAL_RUNNING" else ("-m", "final")


def wait_for_writes(process: subprocess.Popen[bytes], log: Path) -> bool:
    """Wait until the run logs its first checkpoint (its writes begin) or ends."""
    deadline = time.monotonic() + RUN_LIMIT
    while time.monotonic() < deadline:
        if checkpoints(log) or process.poll() is not None:
            return process.poll() is None
        time.sleep(0.1)
    pytest.fail("the run never reached its first checkpoint")


@pytest.fixture(scope="module")
def dry_run_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A synthetic store of CLAIMS claims after its dry run, and how long the dry run took."""
    store = tmp_path_factory.mktemp("synthetic") / "store"
    generated = subprocess.run(
        [sys.executable, "-m", "PaymentProcess.synthetic", "--db-uri", f"mongomock://{store}",
         "--claims", str(CLAIMS), "--payees", str(max(CLAIMS // 50, 10)), "--seed", "7"],
        cwd=REPO, env=environment(1), capture_output=True, text=True, timeout=RUN_LIMIT)
    assert generated.returncode == 0, generated.stderr
    log = store.parent / "dry.log"
    started = time.monotonic()
    finish(start(store, log, "-m", "dry-run", workers=2), log)  # alone: both cores
    approve_latest_cli(f"mongomock://{store}", EVENT)
    return store, time.monotonic() - started


@pytest.mark.slow
def test_killed_at_random_moments_then_resumed(dry_run_store: tuple[Path, float],
                                               tmp_path: Path) -> None:
    source, dry_seconds = dry_run_store
    rng = random.Random(SEED)
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    shutil.copytree(source, reference)
    shutil.copytree(source, killed)
    # The uninterrupted run goes on beside the killed ones: one worker, one core each.
    reference_log = tmp_path / "reference.log"
    uninterrupted = start(reference, reference_log, "-m", "final")

    history: list[str] = []
    writes_estimate = 1.5 * dry_seconds  # pass 2 re-reads every claim and writes them all
    kills = 0
    for attempt in range(KILLS + 6):  # a run that ends before its moment does not count
        log = tmp_path / f"attempt-{attempt}.log"
        process = start(killed, log, *final_args(killed))
        # Pass 1 only reads (a kill there is the plain case of a run that wrote nothing,
        # covered by the checkpoint tests); the moment is drawn in the part that writes.
        running = wait_for_writes(process, log)
        delay = rng.uniform(0.0, writes_estimate)
        if running:
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        done = checkpoints(log)
        history.append(f"attempt {attempt}: delay {delay:.1f}s, exit {process.returncode}, "
                       f"checkpoints {done}, stage {stage_of(killed)}")
        if process.returncode == 0:  # it finished before the moment drawn
            if kills:
                break  # a resumed run completed: compared below
            shutil.rmtree(killed)  # no kill yet: again from the dry run, in a shorter window
            shutil.copytree(source, killed)
            writes_estimate /= 2
            continue
        assert process.returncode == -signal.SIGKILL, (SEED, history, log.read_text()[-2000:])
        kills += 1
        # What reached the directory is whole, and at least every logged checkpoint.
        read_store(killed)
        if done:
            assert stage_of(killed) in ("FINAL_RUNNING", "FINAL"), history
        if "finished" in done:
            assert stage_of(killed) == "FINAL", history
        if kills == KILLS or stage_of(killed) == "FINAL":  # killed after it had finished:
            break  # nothing is left to resume (a resume is refused, exit 3)

    if stage_of(killed) != "FINAL":
        log = tmp_path / "complete.log"
        finish(start(killed, log, *final_args(killed)), log)
    finish(uninterrupted, reference_log)
    assert kills, f"seed {SEED}: no run was killed: {history}"
    try:
        assert_same_store(read_store(killed), read_store(reference))
    except AssertionError as exc:
        raise AssertionError(f"seed {SEED}, {history}: {exc}") from exc
    print(f"seed {SEED}:", *history, sep="\n  ")
