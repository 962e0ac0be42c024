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
    else:  # computed in forked workers, a share of BATCHES_PER_WORKER batches each
        assert os.getpid() not in pids
        assert len(pids) == -(-count // BATCHES_PER_WORKER)


def test_inputs_reach_workers_without_pickling() -> None:
    unpicklable = [lambda n=n: n for n in range(5)]  # lambdas cannot be pickled
    results = list(run_claim_batch_level(unpicklable, lambda make: make() * 10, 2))
    assert results == [0, 10, 20, 30, 40]


def test_read_ahead_is_bounded_by_workers_and_share_size() -> None:
    """At most workers + 1 shares are held: the running ones and finished ones waiting."""
    pulled = []

    def source() -> Iterator[int]:
        for n in range(100):
            pulled.append(n)
            yield n

    results = run_claim_batch_level(source(), lambda n: n, 2)
    assert next(results) == 0
    assert len(pulled) <= (2 + 1) * BATCHES_PER_WORKER
    results.close()
    assert multiprocessing.active_children() == []


def fail_on_five(batch: int) -> int:
    if batch == 5:
        raise ValueError("batch five is bad")
    return batch


def test_an_error_in_a_worker_reaches_the_run_with_its_traceback() -> None:
    with pytest.raises(WorkerError, match="ValueError: batch five is bad"):
        list(run_claim_batch_level(range(12), fail_on_five, 2))
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


def test_a_slow_share_does_not_keep_a_worker_idle() -> None:
    """While share 0 computes, shares 1 and 2 run one after the other on the other worker."""
    results = list(run_claim_batch_level(range(3 * BATCHES_PER_WORKER), slow_first_share, 2))
    assert [batch for batch, _, _ in results] == list(range(3 * BATCHES_PER_WORKER))
    first_share_end = results[BATCHES_PER_WORKER - 1][2]
    third_share_start = results[2 * BATCHES_PER_WORKER][1]
    assert third_share_start < first_share_end


def collector_state(batch: int) -> tuple[bool, int]:
    return gc.isenabled(), gc.get_freeze_count()


@pytest.mark.parametrize("inside_the_run_loop", [False, True])
def test_workers_compute_with_the_runs_collection_policy(inside_the_run_loop: bool) -> None:
    """Automatic collection off, the inherited heap frozen: as the run computes inline."""
    if inside_the_run_loop:
        with collect_per_batch():
            states = list(run_claim_batch_level(range(6), collector_state, 2))
    else:
        states = list(run_claim_batch_level(range(6), collector_state, 2))
    assert all(not enabled and frozen > 0 for enabled, frozen in states)
    assert gc.isenabled()
