"""Process-pool helpers: evaluate claim batches in ``--workers`` processes, in order."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

IN_FLIGHT_PER_WORKER = 2


def run_claim_batch_level(batches: Iterable[T], fn: Callable[[T], R], workers: int) -> Iterator[R]:
    """Yield ``fn(batch)`` for each batch, in input order.

    One worker runs inline. More workers run in a process pool with at most
    ``2 * workers`` batches in flight, so memory stays bounded by the batch size
    whatever the number of claims; results come back in submission order, so they
    do not depend on the number of workers.

    Workers come from a fork server, not from forking the run itself: a forked worker
    would inherit the run's open files, among them the embedded store's directory lock,
    and would outlive a run killed with SIGKILL (it waits on the task queue forever),
    keeping the directory locked so that ``--resume`` is refused. Fork-server workers
    hold nothing of the run and exit when it dies.
    """
    if workers <= 1:
        for batch in batches:
            yield fn(batch)
        return
    pending: deque[Future[R]] = deque()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["PaymentProcess.core.claim_processor"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for batch in batches:
            pending.append(pool.submit(fn, batch))
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
