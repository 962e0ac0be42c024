"""The real-server tier, workers: with ``--workers 2`` on ``mongodb://`` pass 1's workers read
their own ranges of chains with clients of their own, and the store ends as with one worker;
a worker that dies or fails stops the run with exit 4 before anything is written.

A few hundred claims, as in ``test_real_server_cycles.py``: SecantusDB is slow on upserts.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterator
from multiprocessing.connection import Connection

import pytest

from PaymentProcess.common.functions import close_connection, get_connection
from tests.approval_support import approve_latest
from tests.conftest import REPO
from tests.integration.conftest import ServerDatabase, fresh_database
from tests.integration.cycle_checks import assert_cycle_invariants
from tests.integration.mongo_server import ServerTarget, server_collections
from tests.integration.resume_support import assert_same_store
from tests.integration.test_real_server_cycles import generate, run_ok

EVENT = "PE-SYN-0001"
CYCLE = ("--claims", "300", "--payees", "12", "--cycles", "1", "--seed", "21", "--bad-rate", "0")
TWO_WORKERS = ("--workers", "2", "--batch-size", "40")  # 300 claims: 8 ranges of 40


@pytest.fixture
def second_db(mongo_target: ServerTarget) -> Iterator[ServerDatabase]:
    """Another fresh database on the tier's server, dropped after the test."""
    with fresh_database(mongo_target) as database:
        yield database


def ranges_read_by_workers(stderr: str) -> int:
    """The ``ranges`` of the run's log line ``workers read their own ranges`` (0: none)."""
    for line in stderr.splitlines():
        if "workers read their own ranges" in line:
            return int(line.split('"ranges": ')[1].split(",")[0].split("}")[0])
    return 0


def test_two_workers_reading_their_own_ranges_give_the_store_of_one(
        server_db: ServerDatabase, second_db: ServerDatabase) -> None:
    """The same cycle paid with one worker and with two: the same documents."""
    generate(server_db.uri, *CYCLE)
    generate(second_db.uri, *CYCLE)
    run_ok(server_db.uri, EVENT, "-m", "dry-run")
    approve_latest(server_db.db, EVENT)
    assert ranges_read_by_workers(run_ok(server_db.uri, EVENT, "-m", "final").stderr) == 0
    dry = run_ok(second_db.uri, EVENT, "-m", "dry-run", *TWO_WORKERS)
    assert ranges_read_by_workers(dry.stderr) == 8
    approve_latest(second_db.db, EVENT)
    final = run_ok(second_db.uri, EVENT, "-m", "final", *TWO_WORKERS)
    assert ranges_read_by_workers(final.stderr) == 8
    assert_cycle_invariants(second_db.db, EVENT)
    assert_same_store(server_collections(second_db.db), server_collections(server_db.db))


@pytest.mark.parametrize(("what", "message"), [
    ("kill", "paymentprocess: failed: WorkerError: a worker process died (exit code -9)"),
    ("fail", "paymentprocess: failed: WorkerError: a worker process failed: RuntimeError: "
             "worker fault injected")])
def test_a_worker_that_dies_stops_the_final_run_before_any_write(
        server_db: ServerDatabase, what: str, message: str) -> None:
    """Exit 4, one line naming the worker's fate, the store as the dry run left it; the
    next final run pays the cycle."""
    generate(server_db.uri, *CYCLE)
    run_ok(server_db.uri, EVENT, "-m", "dry-run")
    approve_latest(server_db.db, EVENT)
    before = server_collections(server_db.db)
    broken = subprocess.run(
        [sys.executable, "-m", "tests.integration.worker_crash_driver", what, "-p", EVENT,
         "-m", "final", *TWO_WORKERS, "--db-uri", server_db.uri],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")})
    assert broken.returncode == 4, broken.stderr[-2000:]
    human = [line for line in broken.stderr.splitlines() if line.startswith("paymentprocess:")]
    assert len(human) == 1 and human[0].startswith(message), human
    assert server_collections(server_db.db) == before
    run_ok(server_db.uri, EVENT, "-m", "final", *TWO_WORKERS)
    assert server_db.db.PaymentEvent.find_one({"_id": EVENT})["stage"] == "FINAL"
    assert_cycle_invariants(server_db.db, EVENT)


def _child_database(store_uri: str, sender: Connection) -> None:
    store = get_connection(store_uri)  # inherited from the run: already open
    db = store.process_db()
    sender.send((db.client is store.db.client, db is store.process_db(), db.name,
                 db.read_concern.level, db.read_preference.mongos_mode,
                 db.write_concern.document, db.Probe.find_one({"_id": 1})))
    sender.close()


def test_a_forked_worker_reads_with_a_client_of_its_own(server_db: ServerDatabase) -> None:
    """In the run, the run's database; in a forked worker, another client (opened once)
    with the same database and the same pinned guarantees."""
    server_db.db.Probe.insert_one({"_id": 1, "seen": True})
    try:
        store = get_connection(server_db.uri)
        assert store.process_db() is store.db
        receiver, sender = multiprocessing.get_context("fork").Pipe(duplex=False)
        child = multiprocessing.get_context("fork").Process(
            target=_child_database, args=(server_db.uri, sender))
        child.start()
        sender.close()
        shared, reused, name, level, mode, write, probe = receiver.recv()
        child.join()
        assert child.exitcode == 0
        assert (shared, reused, name) == (False, True, server_db.db.name)
        assert (level, mode, write) == ("majority", "primary", {"w": "majority", "j": True})
        assert probe == {"_id": 1, "seen": True}
    finally:
        close_connection()
