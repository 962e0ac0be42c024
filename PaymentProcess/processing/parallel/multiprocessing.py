"""Process-pool helpers: evaluate claim batches in ``--workers`` processes, in order."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

IN_FLIGHT_PER_WORKER = 2
PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_CHECK_SECONDS = 1.0


def run_claim_batch_level(batches: Iterable[T], fn: Callable[[T], R], workers: int) -> Iterator[R]:
    """Yield ``fn(batch)`` for each batch, in input order.

    One worker runs inline. More workers run in a process pool with at most
    ``2 * workers`` batches in flight, so memory stays bounded by the batch size
    whatever the number of claims; results come back in submission order, so they
    do not depend on the number of workers.

    Workers are forked from the run and die with it (:func:`die_with_parent`).
    """
    if workers <= 1:
        for batch in batches:
            yield fn(batch)
        return
    pending: deque[Future[R]] = deque()
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                             initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        for batch in batches:
            pending.append(pool.submit(fn, batch))
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


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
