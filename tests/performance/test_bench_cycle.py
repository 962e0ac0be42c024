"""``make bench``: the cycle benchmark at 10,000 claims (larger sizes: run bench_cycle)."""

from __future__ import annotations

import pytest

from tests.performance.bench_cycle import bench, format_report


@pytest.mark.performance
def test_bench_cycle_10000() -> None:
    report = bench(10_000)
    print("\n" + format_report(report))
    assert report["final_run"]["seconds"] > 0
    assert report["compute"]["workers_1"]["lines_per_second"] > 0
    assert 0 < report["compute"]["parallel_ceiling"]["speed_up"] <= 2.5
    assert 0 < report["compute"]["host_ceiling"]["speed_up"] <= 2.5
    assert report["compute"]["line_floor"]["lines"] == report["compute"]["lines"]
