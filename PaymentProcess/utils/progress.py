"""Progress of a long phase: a rich bar on a terminal, a structured log line elsewhere.

On an interactive terminal (stderr), a bar with the done and total counts, the elapsed
time and the time remaining. Elsewhere (systemd, Kubernetes, a pipe), a ``progress`` log
line every ``LOG_INTERVAL_S`` seconds with ``done``, ``total``, ``rate`` (per second)
and ``eta_s``, so a long phase is never silent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console

from PaymentProcess.utils.logging import get_logger

LOG_INTERVAL_S = 5.0

log = get_logger(__name__)


class ProgressLog:
    """Counts a phase's units and logs them at most every ``interval_s`` seconds."""

    def __init__(self, task: str, total: int | None, unit: str, interval_s: float) -> None:
        self.task, self.total, self.unit, self.interval_s = task, total, unit, interval_s
        self.done = 0
        self.started = self.last = time.monotonic()

    def advance(self, count: int) -> None:
        """Add ``count`` units; log when ``interval_s`` passed since the last line."""
        self.done += count
        now = time.monotonic()
        if now - self.last < self.interval_s:
            return
        self.last = now
        rate = self.done / (now - self.started) if now > self.started else 0.0
        eta = (round((self.total - self.done) / rate, 1)
               if self.total is not None and rate > 0 else None)
        log.info("progress", task=self.task, done=self.done, total=self.total, unit=self.unit,
                 rate=round(rate, 1), eta_s=eta)


@contextmanager
def progress(description: str, total: int | None = None, unit: str = "claims",
             interval_s: float = LOG_INTERVAL_S) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)`` for one phase of ``total`` units (None: unknown)."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield ProgressLog(description, total, unit, interval_s).advance
        return
    # Only a terminal draws a bar: rich.progress costs ~4 ms of every start otherwise.
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn(unit), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda count: bar.update(task, advance=count)
