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

import contextlib
import ctypes
import fcntl
import gc
import multiprocessing
import os
import pickle
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from PaymentProcess.processing.optimization.batch_processor import collect_per_batch
from PaymentProcess.utils.logging import get_logger

T = TypeVar("T")
R = TypeVar("R")

BATCHES_PER_WORKER = 4  # a fork costs milliseconds; four batches cost a few hundred
MAX_WAITING = 2 * BATCHES_PER_WORKER  # the run's results held for an earlier share
ITEMS_IN_FLIGHT = 2  # a live worker's items handed over and not yet sent back
PIPE_BYTES = 1 << 20  # Linux's default limit for a pipe's buffer (fs.pipe-max-size)
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


def run_forked_once(items: Sequence[T], fn: Callable[[T], R], workers: int) -> Iterator[R]:
    """Yield ``fn(item)`` for each item, in order, computed by ``workers`` processes, each
    worker forked *once* for the whole sequence.

    Unlike :func:`run_claim_batch_level` (whose input is read while it runs, so each share
    needs a fork of its own), every item exists before the first fork: a worker inherits
    them all and is sent only the index of its next item, so the run's heap is forked,
    and its pages copied on write, once a pass instead of once a share. The run keeps each
    worker ``ITEMS_IN_FLIGHT`` items ahead and computes the next item itself meanwhile; at
    most ``MAX_WAITING`` items are handed out beyond the next one to yield, so the results
    held stay bounded whatever the number of items. A worker's results wait in its pipe,
    enlarged where the system allows (:func:`_enlarge`) so that a worker need not wait for
    the run to take them. The results never depend on the number of workers. Workers die
    with the run (:func:`die_with_parent`); one that fails or dies is a :class:`WorkerError`.
    """
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield fn(item)
        return
    pool: list[_LiveWorker] = []
    finished: dict[int, R] = {}
    handed = yielded = 0
    try:
        for _ in range(min(workers, len(items)) - 1):
            pool.append(_LiveWorker(items, fn))
        while yielded < len(items):
            for worker in pool:
                while (len(worker.pending) < ITEMS_IN_FLIGHT and handed < len(items)
                       and handed - yielded < MAX_WAITING):
                    worker.hand(handed)
                    handed += 1
            while yielded in finished:
                yield finished.pop(yielded)
                yielded += 1
            if yielded == len(items):
                break
            computes = handed < len(items) and handed - yielded < MAX_WAITING
            if computes:
                finished[handed] = fn(items[handed])
                handed += 1
            _file_results(pool, finished, timeout=0 if computes else None)
    finally:
        for worker in pool:
            worker.stop()


class _LiveWorker:
    """A worker forked once with every item: computes the indices it is sent, in order,
    and sends back each result (or its error) as it is done."""

    def __init__(self, items: Sequence[T], fn: Callable[[T], R]) -> None:
        self.pending: deque[int] = deque()
        tasks, self._tasks = _FORK.Pipe(duplex=False)
        self.results, results = _FORK.Pipe(duplex=False)
        _enlarge(results)
        self.process = _FORK.Process(target=_serve, args=(items, fn, tasks, results,
                                                          os.getpid()), daemon=True)
        self.process.start()
        tasks.close()
        results.close()

    def hand(self, index: int) -> None:
        """Send the worker the index of its next item."""
        self.pending.append(index)
        if not _told(self._tasks, index):
            raise _died(self.process)

    def stop(self) -> None:
        """End the worker: told to (it has no item left), or killed (it still has some).

        A later worker inherited this one's end of the tasks' pipe, so closing it would
        not end the worker: the run says so (None)."""
        if self.pending or not _told(self._tasks, None):
            self.process.kill()
        self._tasks.close()
        self.results.close()
        self.process.join()


def _told(connection: Connection, message: Any) -> bool:
    try:
        connection.send(message)
    except OSError:  # the worker is gone
        return False
    return True


def _enlarge(pipe: Connection) -> None:
    """Give the pipe a buffer of ``PIPE_BYTES`` (Linux), room for a few batches' results;
    elsewhere, or refused, it keeps the system's (a worker then waits for the run)."""
    with contextlib.suppress(AttributeError, OSError):
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _file_results(pool: list[_LiveWorker], finished: dict[int, Any],
                  timeout: float | None) -> None:
    """File the results of the workers that sent one within ``timeout`` (None: wait for
    one) under their indices; a worker's error or death is a WorkerError."""
    waiting = {worker.results: worker for worker in pool if worker.pending}
    for receiver in wait(list(waiting), timeout):
        worker = waiting[receiver]
        result = _received(receiver, worker.process)
        finished[worker.pending.popleft()] = result


def _serve(items: Sequence[T], fn: Callable[[T], R], tasks: Connection, results: Connection,
           parent_pid: int) -> None:
    """In a worker forked once: compute each item whose index arrives, send its result
    back, until the run says there is no more (None) or an item fails."""
    die_with_parent(parent_pid)
    gc.freeze()  # a full collection would touch, and so copy, every inherited page
    with collect_per_batch() as collect:
        while (index := _next_index(tasks)) is not None:
            computed = _send_outcome(results, lambda: fn(items[index]))
            collect()
            if not computed:
                break
    results.close()


def _next_index(tasks: Connection) -> int | None:
    """The next item's index; None: no more (the run said so, or is gone)."""
    try:
        return tasks.recv()
    except EOFError:
        return None


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

    def compute_share() -> list[R]:
        results = []
        with collect_per_batch() as collect:  # the run's own policy, as inline
            for batch in share:
                results.append(fn(batch))
                collect()
        return results

    _send_outcome(sender, compute_share)
    sender.close()


def _send_outcome(sender: Connection, compute: Callable[[], Any]) -> bool:
    """In a worker: send the run what ``compute`` returns, or the traceback of its
    failure (:func:`_received` reads it); whether it succeeded."""
    try:
        outcome: tuple[bool, Any] = (True, compute())
    except BaseException:  # noqa: BLE001 - every failure goes back to the run
        outcome = (False, traceback.format_exc())
    sender.send_bytes(pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
    return outcome[0]


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
        results = _received(receiver, process)
    finally:
        receiver.close()
        process.join()
    finished.update(enumerate(results, start=first))


def _received(receiver: Connection, process: BaseProcess) -> Any:
    """In the run: what the worker ``process`` sent (:func:`_send_outcome`); its failure
    or death is a WorkerError, its traceback logged (``worker failed``)."""
    try:
        ok, payload = pickle.loads(receiver.recv_bytes())
    except EOFError:
        raise _died(process) from None
    if not ok:  # the worker's traceback goes to the log, its last line to the operator
        log.error("worker failed", traceback=payload)
        raise WorkerError(f"a worker process failed: {payload.strip().splitlines()[-1]}")
    return payload


def _died(process: BaseProcess) -> WorkerError:
    """The error of a worker that is gone before sending what it owed."""
    process.join()
    return WorkerError(f"a worker process died (exit code {process.exitcode})")


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this worker as soon as the run that forked it dies.

    A pool worker waits on its task queue forever, so a run killed with SIGKILL (or by
    the out-of-memory killer) would leave its workers behind, still holding what they
    inherited: the embedded store's directory lock, which makes ``--resume`` fail with
    "in use by another process", and the run's output pipes. On Linux the kernel kills
    the worker when its parent dies (``PR_SET_PDEATHSIG``); elsewhere a thread checks
    the parent every second.

    Ctrl-C reaches every process of the terminal's group: a worker ignores it, and the
    run, which answers it, stops its workers (a worker waiting for its next item would
    otherwise print a traceback of its own).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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
