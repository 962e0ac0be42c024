"""The real-server tier, crashes: final runs killed (SIGKILL) at checkpoints and at random
moments, two final runs at once, and the server itself killed mid-write and restarted;
after ``--resume`` the store must equal an uninterrupted run's, document by document
(apart from run ids and timestamps, :func:`resume_support.normalise`).

On MongoDB every acknowledged write is durable at once, so a run killed in the middle of
a write phase leaves part of that phase's writes: something the embedded store, which
checkpoints whole phases, never has. ``test_a_kill_mid_phase_*`` shows both.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pymongo.database import Database

from tests.approval_support import approve_latest, approve_latest_cli
from tests.conftest import GOLDEN_STORE, REPO, read_store, run_cli
from tests.integration.conftest import ServerDatabase
from tests.integration.mongo_server import (
    ServerTarget,
    load_documents,
    running_secantus,
    server_collections,
)
from tests.integration.resume_support import (
    EVENT,
    Collections,
    assert_same_store,
    checkpoints,
    golden_documents,
)

ENV = {"PAYMENT_MAX_WORKERS": "1"}  # the other core is the server's
FINAL = ("-p", EVENT, "-m", "final")
RUN_LIMIT = 180.0
SEED = int(os.environ.get("KILL_TEST_SEED", str(random.SystemRandom().randrange(10**6))))


def driver(when: str, *args: str) -> list[str]:
    """The command line of :mod:`tests.integration.crash_driver` (a run killed on demand)."""
    return [sys.executable, "-m", "tests.integration.crash_driver", when, *args]


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")} | ENV


def human_lines(stderr: str) -> list[str]:
    """stderr without the JSON log lines: what the operator reads."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("{")]


def stage_of(db: Database, event: str = EVENT) -> str:
    return db.PaymentEvent.find_one({"_id": event})["stage"]


def wait_for(path: Path, process: subprocess.Popen, limit: float = RUN_LIMIT) -> None:
    """Wait until ``path`` exists while ``process`` runs."""
    deadline = time.monotonic() + limit
    while not path.exists():
        assert process.poll() is None, "the run ended before it got there"
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def assert_final_refused_while_running(server_db: ServerDatabase) -> None:
    """A final run without --resume on a FINAL_RUNNING event: exit 3, one line, no change."""
    before = server_collections(server_db.db)
    refused = run_cli(*FINAL, "--db-uri", server_db.uri, env=ENV)
    assert refused.returncode == 3
    assert human_lines(refused.stderr) == [
        f"paymentprocess: payment event {EVENT} has a final run in progress or "
        "interrupted: if it died, rerun with --resume"]
    assert server_collections(server_db.db) == before


def resume(uri: str) -> None:
    resumed = run_cli(*FINAL, "--resume", "--db-uri", uri, env=ENV)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Traceback" not in resumed.stderr


@pytest.fixture(scope="module")
def golden_dry(mongo_target: ServerTarget) -> Iterator[tuple[Collections, Collections]]:
    """The golden store after PE-G1's dry run on the server, and after its final run."""
    name = mongo_target.new_database()
    db, uri = mongo_target.client[name], mongo_target.database_uri(name)
    try:
        load_documents(db, golden_documents())
        assert run_cli("-p", EVENT, "-m", "dry-run", "--db-uri", uri, env=ENV).returncode == 0
        approve_latest(db, EVENT)
        dry = server_collections(db)
        final = run_cli(*FINAL, "--db-uri", uri, env=ENV)
        assert final.returncode == 0, final.stderr
        yield dry, server_collections(db)
    finally:
        mongo_target.client.drop_database(name)


@pytest.mark.parametrize("kill_at", ["begin:0", "numbers:0", "batch:2", "settlement:0",
                                     "finished:0"])
def test_killed_at_a_checkpoint_then_resumed(server_db: ServerDatabase, kill_at: str,
                                             golden_dry: tuple[Collections, Collections]) -> None:
    dry, reference = golden_dry
    load_documents(server_db.db, dry)
    killed = subprocess.run(driver(f"kill:{kill_at}", *FINAL, "--db-uri", server_db.uri,
                                   "--batch-size", "3"),
                            cwd=REPO, env=environment(), capture_output=True, text=True,
                            timeout=RUN_LIMIT)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    if kill_at.startswith("finished"):
        assert stage_of(server_db.db) == "FINAL"
    else:
        assert stage_of(server_db.db) == "FINAL_RUNNING"
        assert_final_refused_while_running(server_db)
        resume(server_db.uri)
    assert stage_of(server_db.db) == "FINAL"
    assert_same_store(server_collections(server_db.db), reference)


def test_a_kill_mid_phase_leaves_part_of_it_on_the_server_and_nothing_in_the_embedded_store(
        server_db: ServerDatabase, golden_dry: tuple[Collections, Collections],
        tmp_path: Path) -> None:
    """Killed after the second batch of pass 2 (of five): the server holds the
    ledger entries of those two batches, durable; the embedded store's files hold none
    (its ledger is checkpointed when the phase ends). Both resume to the same store."""
    dry, reference = golden_dry
    load_documents(server_db.db, dry)
    embedded = tmp_path / "store"
    embedded.mkdir()
    for uri in (server_db.uri, f"mongomock://{embedded}"):
        if uri != server_db.uri:  # the embedded twin: the golden store after its dry run
            for file in GOLDEN_STORE.glob("*.jsonl"):
                (embedded / file.name).write_bytes(file.read_bytes())
            assert run_cli("-p", EVENT, "-m", "dry-run", "--db-uri", uri).returncode == 0
            approve_latest_cli(uri, EVENT)
        killed = subprocess.run(driver("kill:batch:1", *FINAL, "--db-uri", uri,
                                       "--batch-size", "3"),
                                cwd=REPO, env=environment(), capture_output=True, text=True,
                                timeout=RUN_LIMIT)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    wanted = sum(1 for d in reference["ClaimFinCore"] if d["PaymentEvent_ID"] == EVENT)
    on_server = server_db.db.ClaimFinCore.count_documents({"PaymentEvent_ID": EVENT})
    assert 0 < on_server < wanted
    assert server_db.db.ClaimWSCore.count_documents({"PaidEvent_ID": EVENT}) > 0
    in_files = [d for d in read_store(embedded)["ClaimFinCore"] if d["PaymentEvent_ID"] == EVENT]
    assert in_files == []
    for uri in (server_db.uri, f"mongomock://{embedded}"):
        resume(uri)
    assert_same_store(server_collections(server_db.db), reference)
    assert_same_store(read_store(embedded), reference)


def checkpoint_times(log_text: str) -> dict[str, datetime]:
    """When the run logged each checkpoint first (from its JSON log lines)."""
    times: dict[str, datetime] = {}
    for line in log_text.splitlines():
        if line.startswith("{") and '"event": "checkpoint"' in line:
            record = json.loads(line)
            times.setdefault(record["checkpoint"], datetime.fromisoformat(record["timestamp"]))
    return times


def test_killed_at_random_moments_then_resumed(mongo_target: ServerTarget,
                                               server_db: ServerDatabase,
                                               tmp_path: Path) -> None:
    """A synthetic final run killed twice at random moments of its writes, then resumed.

    The moments are drawn after the run's first checkpoint, within the time the
    uninterrupted run took from its first checkpoint to its last. A run that finishes
    before its moment without any kill yet starts over from the dry run, with the window
    halved (the machine may be faster than the reference run was)."""
    rng = random.Random(SEED)
    event = "PE-SYN-0001"
    reference_name = mongo_target.new_database()
    reference_db = mongo_target.client[reference_name]
    reference_uri = mongo_target.database_uri(reference_name)
    synthetic = subprocess.run(
        [sys.executable, "-m", "PaymentProcess.synthetic", "--db-uri", reference_uri,
         "--claims", "400", "--payees", "16", "--seed", "21"],
        cwd=REPO, capture_output=True, text=True, timeout=RUN_LIMIT)
    args = ("-p", event, "--batch-size", "20")
    try:
        assert synthetic.returncode == 0, synthetic.stderr
        assert run_cli(*args, "-m", "dry-run", "--db-uri", reference_uri, env=ENV).returncode == 0
        approve_latest(reference_db, event)
        dry = server_collections(reference_db)
        final = run_cli(*args, "-m", "final", "--db-uri", reference_uri, env=ENV)
        assert final.returncode == 0, final.stderr
        times = checkpoint_times(final.stderr)
        window = (times["finished"] - times["begin"]).total_seconds()
        reference = server_collections(reference_db)
    finally:
        mongo_target.client.drop_database(reference_name)

    load_documents(server_db.db, dry)
    history: list[str] = []
    kills = 0
    for attempt in range(8):
        log = tmp_path / f"attempt-{attempt}.log"
        running = stage_of(server_db.db, event) == "FINAL_RUNNING"
        with open(log, "wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, str(REPO / "main.py"), *args, "-m", "final",
                 *(("--resume",) if running else ()), "--db-uri", server_db.uri],
                cwd=REPO, env=environment(), stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + RUN_LIMIT
        while not checkpoints(log) and process.poll() is None:  # its writes have begun
            assert time.monotonic() < deadline, "the run never reached its first checkpoint"
            time.sleep(0.02)
        delay = rng.uniform(0.0, window)
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        ledger = server_db.db.ClaimFinCore.count_documents({"PaymentEvent_ID": event})
        history.append(f"attempt {attempt}: delay {delay:.2f}s, exit {process.returncode}, "
                       f"checkpoints {checkpoints(log)}, ledger entries {ledger}")
        if process.returncode == -signal.SIGKILL:
            kills += 1
            if kills == 2 or stage_of(server_db.db, event) == "FINAL":
                break  # a kill that landed after the run finished its writes ends the trial
            continue
        assert process.returncode == 0, (history, log.read_text()[-2000:])
        if kills:
            break
        server_db.target.client.drop_database(server_db.db.name)  # again, from the dry run
        load_documents(server_db.db, dry)
        window /= 2
    print(f"seed {SEED}:", *history, sep="\n  ")
    assert kills, f"seed {SEED}: no kill: {history}"
    if stage_of(server_db.db, event) != "FINAL":
        completed = run_cli(*args, "-m", "final", "--resume", "--db-uri", server_db.uri, env=ENV)
        assert completed.returncode == 0, completed.stderr[-2000:]
    try:
        assert_same_store(server_collections(server_db.db), reference)
    except AssertionError as exc:
        raise AssertionError(f"seed {SEED}, {history}: {exc}") from exc


def test_two_final_runs_at_once(server_db: ServerDatabase, tmp_path: Path,
                                golden_dry: tuple[Collections, Collections]) -> None:
    """One holds the event (stopped just after it began); the other is refused, exit 3.
    Then two started together: exactly one pays, the other refuses."""
    dry, reference = golden_dry
    load_documents(server_db.db, dry)
    release = tmp_path / "release"
    first = subprocess.Popen(driver(f"wait:begin:{release}", *FINAL, "--db-uri", server_db.uri),
                             cwd=REPO, env=environment(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_for(Path(f"{release}.reached"), first)
        assert_final_refused_while_running(server_db)
    finally:
        release.touch()
        _, stderr = first.communicate(timeout=RUN_LIMIT)
    assert first.returncode == 0, stderr[-2000:]
    assert_same_store(server_collections(server_db.db), reference)

    server_db.target.client.drop_database(server_db.db.name)
    load_documents(server_db.db, dry)
    runs = [subprocess.Popen([sys.executable, str(REPO / "main.py"), *FINAL, "--db-uri",
                              server_db.uri], cwd=REPO, env=environment(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outcomes = [(run.wait(timeout=RUN_LIMIT), run.communicate()[1]) for run in runs]
    assert sorted(code for code, _ in outcomes) == [0, 3], outcomes
    [refusal] = [human_lines(stderr) for code, stderr in outcomes if code == 3]
    assert len(refusal) == 1 and refusal[0].startswith(f"paymentprocess: payment event {EVENT} ")
    assert_same_store(server_collections(server_db.db), reference)


def test_the_server_killed_mid_write_then_restarted_and_resumed(
        mongo_target: ServerTarget, golden_dry: tuple[Collections, Collections],
        tmp_path: Path) -> None:
    """The server dies (SIGKILL) between two batches of pass 2: the run stops with one line
    and exit 4; the server restarts on the same files; ``--resume`` ends as an
    uninterrupted run. On a server we did not start, it cannot be killed: skipped."""
    if not mongo_target.is_secantus:
        pytest.skip("kills the server: only on the SecantusDB the tier starts itself")
    dry, reference = golden_dry
    with running_secantus(tmp_path) as server:
        uri = f"{server.uri}/payments?serverSelectionTimeoutMS=3000"
        client = ServerTarget(server.uri, server).client
        load_documents(client.payments, dry)
        release = tmp_path / "release"
        run = subprocess.Popen(driver(f"wait:batch:{release}", *FINAL, "--db-uri", uri,
                                      "--batch-size", "3"),
                               cwd=REPO, env=environment(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        try:
            wait_for(Path(f"{release}.reached"), run)
            server.kill()
        finally:
            release.touch()
            _, stderr = run.communicate(timeout=RUN_LIMIT)
        assert run.returncode == 4, stderr[-2000:]
        [line] = human_lines(stderr)
        assert line.startswith("paymentprocess: failed: ") and line.endswith(
            "the final run can be resumed with --resume")
        server.start()
        assert stage_of(client.payments) == "FINAL_RUNNING"
        assert client.payments.ClaimFinCore.count_documents({"PaymentEvent_ID": EVENT}) > 0
        resume(uri)
        assert_same_store(server_collections(client.payments), reference)
        client.close()
