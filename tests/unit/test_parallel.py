"""Forked workers: results in input order, bounded read-ahead, failures reported, no leftovers."""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator

import pytest

from PaymentProcess.processing.optimization.batch_processor import collect_per_batch
from PaymentProcess.processing.parallel.multiprocessing import (
    BATCHES_PER_WORKER,
    MAX_WAITING,
    WorkerError,
    run_claim_batch_level,
)


def square_with_pid(batch: int) -> tuple[int, int]:
    return batch * batch, os.getpid()


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("count", [0, 1, 7, 23])
def test_results_come_back_in_input_order(workers: int, count: int) -> None:
    results = list(run_claim_batch_level(range(count), square_with_pid, workers))
    assert [value for value, _ in results] == [n * n for n in range(count)]
    pids = {pid for _, pid in results}
    if workers == 1:
        assert pids <= {os.getpid()}
    elif count:  # the first share always goes to a forked worker; the run computes too
        assert results[0][1] != os.getpid()
        assert len(pids - {os.getpid()}) >= 1


def sleep_and_tell_pid(batch: int) -> int:
    time.sleep(0.05)
    return os.getpid()


def test_the_run_computes_while_its_workers_are_busy() -> None:
    """--workers 2 is the run and one forked worker, both computing, never idle."""
    pids = list(run_claim_batch_level(range(24), sleep_and_tell_pid, 2))
    run_batches = pids.count(os.getpid())
    assert 6 <= run_batches <= 18  # about half each: neither process waited for the other
    assert len(set(pids)) >= 3  # the run and at least two shares in forked workers


RUN_PID = os.getpid()


def slow_in_the_run(batch: int) -> int:
    time.sleep(0.3 if os.getpid() == RUN_PID else 0.01)
    return os.getpid()


def test_the_end_of_the_input_is_split_between_the_run_and_a_free_worker() -> None:
    """A worker free at the end takes its part of what is left, not all of it."""
    pids = list(run_claim_batch_level(range(BATCHES_PER_WORKER + 3), slow_in_the_run, 2))
    first_share, run_batch, last_two = (pids[:BATCHES_PER_WORKER], pids[BATCHES_PER_WORKER],
                                        pids[BATCHES_PER_WORKER + 1:])
    assert RUN_PID not in first_share and run_batch == RUN_PID
    assert last_two[0] != RUN_PID and last_two[1] == RUN_PID


def test_inputs_reach_workers_without_pickling() -> None:
    unpicklable = [lambda n=n: n for n in range(5)]  # lambdas cannot be pickled
    results = list(run_claim_batch_level(unpicklable, lambda make: make() * 10, 2))
    assert results == [0, 10, 20, 30, 40]


def test_read_ahead_is_bounded_by_workers_and_share_size() -> None:
    """Held at most: the running shares, the share read ahead and the results waiting."""
    pulled = []

    def source() -> Iterator[int]:
        for n in range(100):
            pulled.append(n)
            yield n

    workers = 2
    results = run_claim_batch_level(source(), lambda n: n, workers)
    assert next(results) == 0
    results_of_workers_waiting = (workers - 1) * BATCHES_PER_WORKER
    inputs_held = workers * BATCHES_PER_WORKER
    assert len(pulled) <= inputs_held + results_of_workers_waiting + MAX_WAITING
    results.close()
    assert multiprocessing.active_children() == []


def fail_on_one(batch: int) -> int:
    if batch == 1:  # in the first share, which a forked worker always computes
        raise ValueError("batch one is bad")
    return batch


def test_an_error_in_a_worker_reaches_the_run_with_its_traceback() -> None:
    with pytest.raises(WorkerError, match="ValueError: batch one is bad"):
        list(run_claim_batch_level(range(12), fail_on_one, 2))
    assert multiprocessing.active_children() == []


def fail_in_the_run(batch: int) -> int:
    time.sleep(0.05)
    if os.getpid() == RUN_PID:
        raise ValueError("bad batch computed by the run")
    return batch


def test_an_error_in_a_batch_the_run_computes_stops_its_workers() -> None:
    with pytest.raises(ValueError, match="bad batch computed by the run"):
        list(run_claim_batch_level(range(12), fail_in_the_run, 2))
    assert multiprocessing.active_children() == []


def die_on_three(batch: int) -> int:
    if batch == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return batch


def test_a_worker_killed_mid_share_is_an_error_not_missing_results() -> None:
    with pytest.raises(WorkerError, match=r"died \(exit code -9\)"):
        list(run_claim_batch_level(range(12), die_on_three, 2))
    assert multiprocessing.active_children() == []


def slow_first_share(batch: int) -> tuple[int, float, float]:
    started = time.monotonic()
    if batch == 0:
        time.sleep(1.0)
    return batch, started, time.monotonic()


def test_a_slow_share_does_not_keep_the_others_waiting() -> None:
    """While the first share computes, later batches are computed and wait in order."""
    results = list(run_claim_batch_level(range(3 * BATCHES_PER_WORKER), slow_first_share, 2))
    assert [batch for batch, _, _ in results] == list(range(3 * BATCHES_PER_WORKER))
    first_share_end = results[BATCHES_PER_WORKER - 1][2]
    last_batch_start = results[-1][1]
    assert last_batch_start < first_share_end


def collector_state(batch: int) -> tuple[int, bool, int]:
    return os.getpid(), gc.isenabled(), gc.get_freeze_count()


@pytest.mark.parametrize("inside_the_run_loop", [False, True])
def test_workers_compute_with_the_runs_collection_policy(inside_the_run_loop: bool) -> None:
    """Automatic collection off, the inherited heap frozen: as the run computes inline."""
    if inside_the_run_loop:
        with collect_per_batch():
            states = list(run_claim_batch_level(range(6), collector_state, 2))
    else:
        states = list(run_claim_batch_level(range(6), collector_state, 2))
    in_workers = [(enabled, frozen) for pid, enabled, frozen in states if pid != RUN_PID]
    assert len(in_workers) >= BATCHES_PER_WORKER
    assert all(not enabled and frozen > 0 for enabled, frozen in in_workers)
    assert gc.isenabled()
