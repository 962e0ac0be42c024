"""Workers forked once for a sequence: results in order, one fork a worker, bounded
hand-out, failures reported, no leftovers."""

from __future__ import annotations

import fcntl
import gc
import multiprocessing
import os
import signal
import time

import pytest

from PaymentProcess.processing.optimization.batch_processor import collect_per_batch
from PaymentProcess.processing.parallel.multiprocessing import (
    ITEMS_IN_FLIGHT,
    MAX_WAITING,
    PIPE_BYTES,
    WorkerError,
    _enlarge,
    run_forked_once,
)

RUN_PID = os.getpid()
_FORK = multiprocessing.get_context("fork")


def square_with_pid(item: int) -> tuple[int, int]:
    return item * item, os.getpid()


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("count", [0, 1, 2, 7, 23])
def test_results_come_back_in_order_from_one_fork_a_worker(workers: int, count: int) -> None:
    results = list(run_forked_once(list(range(count)), square_with_pid, workers))
    assert [value for value, _ in results] == [n * n for n in range(count)]
    forked = {pid for _, pid in results} - {RUN_PID}
    if workers == 1 or count <= 1:
        assert forked == set()
    else:  # the first items go to the workers; each worker is one process for all
        assert results[0][1] != RUN_PID
        assert 1 <= len(forked) <= min(workers, count) - 1
    assert multiprocessing.active_children() == []


def sleep_and_tell_pid(item: int) -> int:
    time.sleep(0.05)
    return os.getpid()


def test_the_run_computes_while_its_worker_is_busy() -> None:
    """--workers 2 is the run and one worker forked once, both computing."""
    pids = list(run_forked_once(list(range(24)), sleep_and_tell_pid, 2))
    assert 6 <= pids.count(RUN_PID) <= 18
    assert len(set(pids)) == 2


def test_items_reach_workers_without_pickling() -> None:
    unpicklable = [lambda n=n: n for n in range(5)]  # lambdas cannot be pickled
    assert list(run_forked_once(unpicklable, lambda make: make() * 10, 2)) == [0, 10, 20, 30, 40]


def test_items_handed_out_are_bounded_while_the_caller_waits() -> None:
    """A caller that stops taking results stops the workers too: at most MAX_WAITING
    items beyond the next one are computed ahead."""
    computed = _FORK.Value("i", 0)

    def count(item: int) -> int:
        with computed.get_lock():
            computed.value += 1
        return item

    results = run_forked_once(list(range(200)), count, 3)
    assert next(results) == 0
    time.sleep(0.5)  # the workers would compute everything meanwhile if nothing held them
    assert computed.value <= 1 + MAX_WAITING + ITEMS_IN_FLIGHT
    results.close()
    assert multiprocessing.active_children() == []


def test_a_worker_sends_results_without_waiting_for_the_run() -> None:
    """Its pipe holds several large results: a worker is not held up while the run
    computes an item of its own."""
    receiver, sender = _FORK.Pipe(duplex=False)
    _enlarge(sender)
    if fcntl.fcntl(sender.fileno(), fcntl.F_GETPIPE_SZ) < PIPE_BYTES:
        pytest.skip("this system refuses larger pipes")
    payload = b"x" * 200_000
    for _ in range(ITEMS_IN_FLIGHT + 2):  # would block on a default 64 KiB pipe
        sender.send_bytes(payload)
    assert receiver.recv_bytes() == payload
    receiver.close()
    sender.close()


def fail_on_one(item: int) -> int:
    if item == 1:
        raise ValueError("item one is bad")
    return item


def test_an_error_in_a_worker_reaches_the_run_with_its_traceback() -> None:
    with pytest.raises(WorkerError, match="ValueError: item one is bad"):
        list(run_forked_once(list(range(12)), fail_on_one, 2))
    assert multiprocessing.active_children() == []


def fail_in_the_run(item: int) -> int:
    time.sleep(0.02)
    if os.getpid() == RUN_PID:
        raise ValueError("bad item computed by the run")
    return item


def test_an_error_in_an_item_the_run_computes_stops_its_workers() -> None:
    with pytest.raises(ValueError, match="bad item computed by the run"):
        list(run_forked_once(list(range(12)), fail_in_the_run, 3))
    assert multiprocessing.active_children() == []


def die_from_three(item: int) -> int:
    if item >= 3 and os.getpid() != RUN_PID:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return item


def test_a_worker_killed_mid_pass_is_an_error_not_missing_results() -> None:
    with pytest.raises(WorkerError, match=r"died \(exit code -9\)"):
        list(run_forked_once(list(range(12)), die_from_three, 2))
    assert multiprocessing.active_children() == []


def collector_state(item: int) -> tuple[int, bool, int]:
    return os.getpid(), gc.isenabled(), gc.get_freeze_count()


def test_workers_compute_with_the_runs_collection_policy() -> None:
    """Automatic collection off, the inherited heap frozen: as the run computes inline."""
    with collect_per_batch():
        states = list(run_forked_once(list(range(8)), collector_state, 2))
    in_workers = [(enabled, frozen) for pid, enabled, frozen in states if pid != RUN_PID]
    assert in_workers
    assert all(not enabled and frozen > 0 for enabled, frozen in in_workers)
    assert gc.isenabled()


def sigint_handler(item: int) -> tuple[int, object]:
    return os.getpid(), signal.getsignal(signal.SIGINT)


def test_workers_leave_ctrl_c_to_the_run() -> None:
    """A worker ignores SIGINT (the run answers it and stops its workers)."""
    handlers = list(run_forked_once(list(range(6)), sigint_handler, 2))
    in_workers = {handler for pid, handler in handlers if pid != RUN_PID}
    assert in_workers == {signal.SIG_IGN}
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN  # the run's own stays


def test_ctrl_c_in_the_run_stops_its_workers() -> None:
    """KeyboardInterrupt in the run (Ctrl-C) ends the pass; no worker is left behind."""
    def interrupted(item: int) -> int:
        time.sleep(0.02)
        if os.getpid() == RUN_PID and item >= 4:
            raise KeyboardInterrupt
        return item

    with pytest.raises(KeyboardInterrupt):
        list(run_forked_once(list(range(40)), interrupted, 2))
    assert multiprocessing.active_children() == []
