"""Progress off a terminal: a structured log line every few seconds with done, total, rate."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from PaymentProcess.utils import progress as progress_module
from PaymentProcess.utils.progress import progress


class FakeClock:
    """``time.monotonic`` that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_progress_is_logged_every_interval(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    clock = FakeClock()
    monkeypatch.setattr(progress_module.time, "monotonic", clock)
    with capture_logs() as logs, progress("loading the store", 1000, unit="documents",
                                          interval_s=5) as advance:
        advance(100)            # t=0: too soon
        clock.now += 4.9
        advance(100)            # 4.9 s: still too soon
        clock.now += 0.1
        advance(300)            # 5 s: 500 done at 100/s, 500 left: 5 s
        clock.now += 2
        advance(100)            # 2 s after the last line: quiet
        clock.now += 5
        advance(400)            # 12 s: all 1000
    lines = [line for line in logs if line["event"] == "progress"]
    assert [(line["done"], line["total"], line["rate"], line["eta_s"]) for line in lines] == [
        (500, 1000, 100.0, 5.0), (1000, 1000, 83.3, 0.0)]
    assert {line["task"] for line in lines} == {"loading the store"}
    assert {line["unit"] for line in lines} == {"documents"}


def test_an_unknown_total_has_no_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(progress_module.time, "monotonic", clock)
    with capture_logs() as logs, progress("reading and computing", None, interval_s=1) as advance:
        clock.now += 2
        advance(10)
    [line] = logs
    assert (line["done"], line["total"], line["rate"], line["eta_s"]) == (10, None, 5.0, None)
