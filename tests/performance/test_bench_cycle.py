"""``make bench``: the cycle benchmark at 10,000 claims (larger sizes: run bench_cycle)."""

from __future__ import annotations

import pytest

from tests.performance.bench_cycle import bench, format_report


@pytest.mark.performance
def test_bench_cycle_10000() -> None:
    report = bench(10_000)
    print("\n" + format_report(report))
    assert report["final_run"]["seconds"] > 0
