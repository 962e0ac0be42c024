"""Worker processes: evaluate claim batches in ``--workers`` processes, in order.

The batches already sit in the run's memory when a worker starts, so a worker is
*forked* with its share of them instead of being sent them: a forked child sees the
parent's memory as it was at the fork (copy-on-write), so claim documents are never
pickled on the way in, only the (small) results on the way back. Pickling the raw
documents to a process pool cost more than computing them.
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
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from PaymentProcess.processing.optimization.batch_processor import collect_per_batch

T = TypeVar("T")
R = TypeVar("R")

BATCHES_PER_WORKER = 4  # a fork costs milliseconds; four batches cost a few hundred
PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_CHECK_SECONDS = 1.0
_FORK = multiprocessing.get_context("fork")


class WorkerError(RuntimeError):
    """A worker process failed or died; the message carries its traceback or exit code."""


def run_claim_batch_level(batches: Iterable[T], fn: Callable[[T], R], workers: int) -> Iterator[R]:
    """Yield ``fn(batch)`` for each batch, in input order.

    One worker runs inline. With more, the run reads ``BATCHES_PER_WORKER`` batches and
    forks a worker that computes them, keeping ``workers`` of them busy: a worker that
    finishes is replaced at once, even while an older share is still computing (its
    results wait, in input order). At most ``workers + 1`` shares are held at a time,
    so memory stays bounded by the batch size whatever the number of claims; results
    never depend on the number of workers.

    Workers die with the run that forked them (:func:`die_with_parent`) and never touch
    the store: they only compute.
    """
    if workers <= 1:
        for batch in batches:
            yield fn(batch)
        return
    source = iter(batches)
    running: dict[int, tuple[BaseProcess, Connection]] = {}
    finished: dict[int, list[R]] = {}
    started = yielded = 0
    exhausted = False
    try:
        while True:
            while (not exhausted and len(running) < workers
                   and len(running) + len(finished) <= workers):
                share = list(islice(source, BATCHES_PER_WORKER))
                if not share:
                    exhausted = True
                    break
                running[started] = _start_worker(fn, share)
                started += 1
            if yielded in finished:
                yield from finished.pop(yielded)
                yielded += 1
            elif running:
                ready = wait([receiver for _, receiver in running.values()])
                for index in [i for i, (_, r) in running.items() if r in ready]:
                    finished[index] = _collect(*running.pop(index))
            else:
                return
    finally:
        for process, connection in running.values():  # the caller stopped early or failed
            connection.close()
            process.kill()
            process.join()


def _start_worker(fn: Callable[[T], R], share: list[T]) -> tuple[BaseProcess, Connection]:
    receiver, sender = _FORK.Pipe(duplex=False)
    process = _FORK.Process(target=_work, args=(fn, share, sender, os.getpid()), daemon=True)
    process.start()
    sender.close()
    return process, receiver


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


def _collect(process: BaseProcess, receiver: Connection) -> list[Any]:
    try:
        ok, payload = pickle.loads(receiver.recv_bytes())
    except EOFError:
        process.join()
        raise WorkerError(f"a worker process died (exit code {process.exitcode})") from None
    finally:
        receiver.close()
    process.join()
    if not ok:
        raise WorkerError(f"a worker process failed:\n{payload}")
    return payload


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
