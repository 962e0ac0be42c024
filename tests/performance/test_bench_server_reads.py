"""``make bench`` also checks the server-reads benchmark end to end on a small cycle (the
figures themselves: ``python -m tests.performance.bench_server_reads``)."""

from __future__ import annotations

import pytest

from tests.performance.bench_server_reads import bench, format_report


@pytest.mark.performance
def test_bench_server_reads_300_claims() -> None:
    report = bench(300, repeat=1, with_pass_one=True)
    print("\n" + format_report(report))
    reads = report["reads"]
    claims = reads["read_floor"]["result"]
    assert claims >= 300
    assert all(reads[name]["result"] == claims for name in (
        "id_pass", "chain_listing", "count_documents", "event_count"))  # no claim paid yet
    parallel = report["parallel"]
    assert (parallel["one_client_all"]["claims"] == parallel["two_clients_halves"]["claims"]
            == claims)
    assert 0 < parallel["one_client_half"]["claims"] < parallel["one_client_all"]["claims"]
    assert report["pass_one"]["workers_1"]["inputs"] == report["pass_one"]["workers_2"]["inputs"]
