"""``make bench``: the cycle benchmark at 10,000 claims (larger sizes: run bench_cycle)."""

from __future__ import annotations

import pytest

from tests.performance.bench_cycle import bench, format_report


@pytest.mark.performance
def test_bench_cycle_10000() -> None:
    report = bench(10_000)
    print("\n" + format_report(report))
    compute = report["compute"]
    assert compute["parse_floor"]["claims"] == compute["claims"] >= 10_000
    assert compute["workers_1"]["lines_per_second"] > 0
    assert set(compute["from_bson"]) == {"workers_1", "workers_2"}
    assert all(run["cpu_seconds"] > 0 for run in compute["from_bson"].values())
    assert 0 < compute["parallel_ceiling"]["speed_up"] <= 2.5
    assert 0 < compute["host_ceiling"]["speed_up"] <= 2.5
    assert report["read_floor"]["documents"] > compute["claims"]
    designs = report["pass_one"]
    assert {design["chains"] for design in designs.values()} == {designs["workers_1"]["chains"]}
    assert set(designs) == {"workers_1", "workers_2_inherited", "workers_2_own_ranges"}
    for workers in (1, 2):
        runs = report[f"end_to_end_{workers}"]
        assert runs["dry_run"]["seconds"] > 0 and runs["final"]["seconds"] > 0
