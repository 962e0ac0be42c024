"""``make bench`` also checks the real-server benchmark end to end on a small cycle (the
figures themselves: ``make bench-server``)."""

from __future__ import annotations

import pytest

from PaymentProcess.data.repositories import collections as coll
from tests.performance.bench_server import bench, format_report, server


@pytest.mark.performance
def test_bench_server_300_claims() -> None:
    with server() as (uri, secantus):
        pid = secantus.process.pid if secantus and secantus.process else None
        report = bench(300, uri, pid, commands=True, ledger_shapes=True)
    print("\n" + format_report(report))
    written = report["write_floor"]["documents"]
    assert report["read_floor"]["documents"] >= 300
    assert written[coll.CLAIM_WS] == written[coll.PAYMENT_INFO] > 0  # a PaymentInfo a paid claim
    assert 0 < written[coll.CLAIM_FIN] <= written[coll.PAYMENT_INFO]  # an entry a paid chain
    assert written == report["upsert_floor"]["documents"]
    commands = {(row["command"], row["collection"]) for row in report["final"]["commands"]}
    assert ("insert", coll.CLAIM_FIN) in commands and ("update", coll.CLAIM_WS) in commands
    for name in ("dry", "final"):
        assert report["ratios"][f"{name}_wall"] > 0
    shapes = report["ledger_lookup"]  # every design finds the engine's entries
    for design in ("equality_queries", "small_in_queries"):
        assert shapes[design]["documents"] == shapes["engine_query"]["documents"]
    assert shapes["whole_ledger"]["documents"] >= shapes["engine_query"]["documents"]
    assert shapes["batch_read_floor_seconds"] > 0
