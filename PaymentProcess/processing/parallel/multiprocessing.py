"""Worker processes: evaluate claim batches in ``--workers`` processes, in order.

The run is one of the ``--workers`` processes: it reads the batches, forks the others
and computes batches itself while they are busy, so ``--workers`` equal to the number
of cores keeps every core busy and none oversubscribed.

The items (batches, or on MongoDB ranges of chains a worker reads itself: see
:mod:`~PaymentProcess.processing.parallel.chain_ranges`) already sit in the run's memory
when a worker starts, so a worker is *forked* with its share of them instead of being
sent them: a forked child sees the parent's memory as it was at the fork (copy-on-write),
so claim documents are never pickled on the way in, only the (small) results on the way
back. Pickling the raw documents to a process pool cost more than computing them.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import pickle
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from PaymentProcess.processing.optimization.batch_processor import collect_per_batch
from PaymentProcess.utils.logging import get_logger

T = TypeVar("T")
R = TypeVar("R")

BATCHES_PER_WORKER = 4  # a fork costs milliseconds; four batches cost a few hundred
MAX_WAITING = 2 * BATCHES_PER_WORKER  # the run's results held for an earlier share
_END = object()
PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_CHECK_SECONDS = 1.0
_FORK = multiprocessing.get_context("fork")
log = get_logger(__name__)


class WorkerError(RuntimeError):
    """A worker process failed or died; the message (one line) carries the worker's error
    or its exit code; a failed worker's traceback is logged (``worker failed``)."""


def run_claim_batch_level(batches: Iterable[T], fn: Callable[[T], R], workers: int) -> Iterator[R]:
    """Yield ``fn(batch)`` for each batch, in input order, computed by ``workers`` processes.

    The run itself is one of them (one worker: everything inline). It keeps the next
    ``BATCHES_PER_WORKER`` batches read ahead; a worker that is free is forked with
    them at once, and while every one of the ``workers - 1`` forked workers is busy
    the run computes the first of them itself, reads one more, and looks for a
    finished worker again: a worker waits at most one batch for its next share, and
    the run's core is never idle while there is work. At the end of the input, what is
    left is split between the run and the free workers. Workers that finish out of order
    are replaced at once; their results wait, in input order. At most ``workers``
    shares of input and ``MAX_WAITING`` results waiting for an earlier share are held,
    so memory stays bounded by the batch size whatever the number of claims; results
    never depend on the number of workers.

    Workers die with the run that forked them (:func:`die_with_parent`) and never write
    to the store: they compute, and on MongoDB read their own ranges of chains.
    """
    if workers <= 1:
        for batch in batches:
            yield fn(batch)
        return
    source = iter(batches)
    queued: deque[tuple[int, T]] = deque()  # read ahead: the next worker's share
    running: dict[Connection, tuple[BaseProcess, int]] = {}  # first batch index of each
    finished: dict[int, R] = {}  # by batch index, until every earlier result is yielded
    read = yielded = 0
    exhausted = False
    try:
        while True:
            while not exhausted and len(queued) < BATCHES_PER_WORKER:
                batch = next(source, _END)
                if batch is _END:
                    exhausted = True
                else:
                    queued.append((read, batch))
                    read += 1
            _collect_finished(running, finished, timeout=0)
            while yielded in finished:  # before a new worker: results never pile up
                yield finished.pop(yielded)
                yielded += 1
            if queued and len(running) < workers - 1:
                # at the end of the input, the run keeps its part of what is left
                size = -(-len(queued) // workers) if exhausted else len(queued)
                receiver, worker = _start_worker(fn, [queued.popleft() for _ in range(size)])
                running[receiver] = worker
                continue
            if queued and len(finished) < MAX_WAITING:
                index, batch = queued.popleft()
                finished[index] = fn(batch)
            elif running:
                _collect_finished(running, finished, timeout=None)
            elif not queued and not finished:
                return
    finally:
        for receiver, (process, _) in running.items():  # the caller stopped early or failed
            receiver.close()
            process.kill()
            process.join()


def _start_worker(fn: Callable[[T], R], share: list[tuple[int, T]]
                  ) -> tuple[Connection, tuple[BaseProcess, int]]:
    receiver, sender = _FORK.Pipe(duplex=False)
    batches = [batch for _, batch in share]
    process = _FORK.Process(target=_work, args=(fn, batches, sender, os.getpid()), daemon=True)
    process.start()
    sender.close()
    return receiver, (process, share[0][0])


def _work(fn: Callable[[T], R], share: list[T], sender: Connection, parent_pid: int) -> None:
    """In the worker: compute the share and send back the results, or the error."""
    die_with_parent(parent_pid)
    gc.freeze()  # a full collection would touch, and so copy, every inherited page
    try:
        results = []
        with collect_per_batch() as collect:  # the run's own policy, as inline
            for batch in share:
                results.append(fn(batch))
                collect()
        outcome: tuple[bool, Any] = (True, results)
    except BaseException:  # noqa: BLE001 - every failure goes back to the run
        outcome = (False, traceback.format_exc())
    sender.send_bytes(pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
    sender.close()


def _collect_finished(running: dict[Connection, tuple[BaseProcess, int]],
                      finished: dict[int, Any], timeout: float | None) -> None:
    """File the results of every worker done within ``timeout`` (None: wait for one)
    under their batch indices, and forget those workers."""
    for receiver in wait(list(running), timeout):
        _collect_into(finished, receiver, *running.pop(receiver))


def _collect_into(finished: dict[int, Any], receiver: Connection, process: BaseProcess,
                  first: int) -> None:
    """Read a worker's results and file them under their batch indices."""
    try:
        ok, payload = pickle.loads(receiver.recv_bytes())
    except EOFError:
        process.join()
        raise WorkerError(f"a worker process died (exit code {process.exitcode})") from None
    finally:
        receiver.close()
    process.join()
    if not ok:  # the worker's traceback goes to the log, its last line to the operator
        log.error("worker failed", traceback=payload)
        raise WorkerError(f"a worker process failed: {payload.strip().splitlines()[-1]}")
    finished.update(enumerate(payload, start=first))


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this worker as soon as the run that forked it dies.

    A pool worker waits on its task queue forever, so a run killed with SIGKILL (or by
    the out-of-memory killer) would leave its workers behind, still holding what they
    inherited: the embedded store's directory lock, which makes ``--resume`` fail with
    "in use by another process", and the run's output pipes. On Linux the kernel kills
    the worker when its parent dies (``PR_SET_PDEATHSIG``); elsewhere a thread checks
    the parent every second.
    """
    try:
        armed = ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (AttributeError, OSError):
        armed = False
    if os.getppid() != parent_pid:  # the run died before the signal was armed
        os._exit(1)
    if not armed:
        threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True).start()


def _exit_when_orphaned(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)
