"""Consecutive synthetic cycles: each final run's ledger and O/U feed the next (issue 3)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import mongomock_ng
import pytest

from PaymentProcess.common.functions import Store
from PaymentProcess.core import payment_processor
from PaymentProcess.core.payment_processor import PaymentProcessor, Repositories, RunSettings
from PaymentProcess.data.config.config_loader import ConfigLoader
from PaymentProcess.data.embedded_store import EmbeddedStore
from PaymentProcess.data.repositories.claim_repository import ClaimRepository
from PaymentProcess.processing.parallel.chain_ranges import ChainRange, split_chains
from PaymentProcess.synthetic.generator import SyntheticOptions, generate
from PaymentProcess.utils.error_handling import CriticalValidationError
from tests.approval_support import approve_latest, approve_latest_cli
from tests.conftest import REPO, run_cli
from tests.integration.cycle_checks import assert_cycle_invariants, comparable_store


def run_cycles(options: SyntheticOptions, workers: int = 1, batch_size: int = 1000,
               own_ranges: bool = False) -> Store:
    """The embedded store in memory; ``own_ranges``: a mongomock client instead, which the
    run takes for MongoDB, so pass 1's workers read their own ranges of chains (from the
    copy of the database they inherit)."""
    if own_ranges:
        client = mongomock_ng.MongoClient()
        store = Store("mongomock://", client.payments, client)
    else:
        embedded = EmbeddedStore(None)
        store = Store("mongomock://", embedded.db, embedded)
    assert store.kind == ("mongodb" if own_ranges else "embedded")
    summary = generate(store.db, options)
    for event_id in summary.event_ids:
        settings = RunSettings(db_uri=store.uri, workers=workers, batch_size=batch_size)
        processor = PaymentProcessor(ConfigLoader(store.db),
                                     Repositories.for_store(store, batch_size), settings, store)
        dry = processor.run_dry_run(event_id)
        assert dry.exit_code == 0, dry.report.as_documents()
        approve_latest(store.db, event_id)
        final = processor.run_final_run(event_id)
        assert final.status == "SUCCEEDED"
        assert final.totals == dry.totals
        assert_cycle_invariants(store.db, event_id)
    return store


@pytest.fixture(scope="module")
def three_cycles() -> Store:
    return run_cycles(SyntheticOptions(claims=600, payees=25, cycles=3, seed=11))


def test_each_cycle_feeds_the_next(three_cycles: Store) -> None:
    db = three_cycles.db
    events = ["PE-SYN-0001", "PE-SYN-0002", "PE-SYN-0003"]
    assert [e["stage"] for e in db.PaymentEvent.find({"_id": {"$in": events}},
                                                     sort=[("_id", 1)])] == ["FINAL"] * 3
    later = db.ClaimFinCore.find({"PaymentEvent_ID": {"$in": events[1:]}})
    replaced = [e for e in later
                if db.ClaimFinCore.count_documents({"ParentClaimCore_ID": e["ParentClaimCore_ID"],
                                                    "PaymentEvent_ID": {"$in": events[:1]}})]
    assert replaced, "later cycles replace or void chains paid by earlier ones"
    applied = {a["event_id"] for r in db.OverUnder.find() for a in r["applications"]}
    assert applied & set(events)
    numbers = [p["number"] for p in db.Payments.find({"method": "CHECK"})]
    assert len(numbers) == len(set(numbers))


def test_results_do_not_depend_on_workers_or_batch_size(three_cycles: Store) -> None:
    options = SyntheticOptions(claims=600, payees=25, cycles=3, seed=11)
    baseline = comparable_store(three_cycles.db)
    assert comparable_store(run_cycles(options, workers=2, batch_size=1000).db) == baseline
    assert comparable_store(run_cycles(options, workers=1, batch_size=37).db) == baseline


@pytest.mark.parametrize(("workers", "batch_size"), [(2, 1000), (2, 37), (3, 50)])
def test_workers_reading_their_own_ranges_give_the_same_store(
        three_cycles: Store, workers: int, batch_size: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On MongoDB pass 1's workers read their own ranges of chains; merged in range order,
    three cycles give the same store as one worker."""
    cut: list[int] = []

    def recording_split(parent_ids: Iterable[Any], claims_per_range: int) -> list[ChainRange]:
        ranges = split_chains(parent_ids, claims_per_range)
        assert ranges is not None
        cut.append(len(ranges))
        return ranges

    monkeypatch.setattr(payment_processor, "split_chains", recording_split)
    options = SyntheticOptions(claims=600, payees=25, cycles=3, seed=11)
    ranged = run_cycles(options, workers=workers, batch_size=batch_size, own_ranges=True)
    assert comparable_store(ranged.db) == comparable_store(three_cycles.db)
    assert len(cut) == 6 and min(cut) >= (1 if batch_size == 1000 else 10)  # dry, final x3


def test_on_the_embedded_store_pass_one_reads_the_claims_once_for_every_worker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No ranges queried on the embedded store (mongomock would filter every claim for
    each one): pass 1 lists the stored claims once and its workers, forked once, compute
    parts of that listing; the store ends as with one worker."""
    def no_ranges(*_: Any) -> None:
        raise AssertionError("the embedded store's workers read no ranges")

    reads: list[Any] = []  # the ``chains`` of each read of an event's claims
    fetch_ws = ClaimRepository.fetch_ws
    monkeypatch.setattr(ClaimRepository, "fetch_ws",
                        lambda repository, *args, chains=None:
                        reads.append(chains) or fetch_ws(repository, *args, chains=chains))
    counts = ClaimRepository.claim_id_counts
    counted: list[bool] = []
    monkeypatch.setattr(ClaimRepository, "claim_id_counts",
                        lambda repository, event, resuming=False:
                        counted.append(resuming) or counts(repository, event, resuming))
    monkeypatch.setattr(payment_processor, "split_chains", no_ranges)
    options = SyntheticOptions(claims=300, payees=20, cycles=1, seed=5)
    two = run_cycles(options, workers=2, batch_size=50)
    assert reads == [None, None, None]  # the dry run's pass 1; the final run's passes 1, 2
    assert counted == []  # pass 1 counts what it listed; pass 2 keeps pass 1's count
    assert comparable_store(two.db) == comparable_store(run_cycles(options).db)


def test_dmr_cycle() -> None:
    store = run_cycles(SyntheticOptions(claims=300, payees=20, pc_type="DMR", cycles=1, seed=3))
    keys = [d["key"] for d in store.db.PaymentCenter.find()]
    assert keys and all(k.startswith("DMR:") for k in keys)


def test_bad_claims_are_reported_and_block_the_final_run() -> None:
    client = mongomock_ng.MongoClient()
    store = Store("mongomock://", client.payments, client)
    summary = generate(store.db, SyntheticOptions(claims=400, payees=15, seed=5, bad_rate=0.05))
    processor = PaymentProcessor(ConfigLoader(store.db), Repositories.for_store(store, 1000),
                                 RunSettings(db_uri=store.uri), store)
    event_id = summary.event_ids[0]
    dry = processor.run_dry_run(event_id)
    assert dry.exit_code == 1
    for code in summary.bad_claims:
        finding = dry.report.findings.get(code)
        assert finding is not None and finding.count >= 1, code
    with pytest.raises(CriticalValidationError, match="critical findings"):
        processor.run_final_run(event_id)
    assert store.db.Payments.count_documents({}) == 0


def test_cli_demo_cycle_on_the_embedded_store(tmp_path: Path) -> None:
    uri = f"mongomock://{tmp_path / 'store'}"
    made = subprocess.run([sys.executable, "-m", "PaymentProcess.synthetic", "--db-uri", uri,
                           "--claims", "400", "--payees", "12", "--cycles", "2", "--seed", "2"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    for event_id in ("PE-SYN-0001", "PE-SYN-0002"):
        dry = run_cli("-p", event_id, "-m", "dry-run", "--db-uri", uri)
        assert dry.returncode == 0, dry.stderr
        approve_latest_cli(uri, event_id)
        final = run_cli("-p", event_id, "-m", "final", "--db-uri", uri, "--workers", "2")
        assert final.returncode == 0, final.stderr
        assert "FINAL of " + event_id + ": SUCCEEDED" in final.stdout
    assert "PROVIDER:" in final.stdout
