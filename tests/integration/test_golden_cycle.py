"""The golden cycle (../shared/golden) end to end: CLI on the embedded store, and library API."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import mongomock_ng
import pytest

from PaymentProcess.common.functions import Store
from PaymentProcess.core.payment_processor import PaymentProcessor, Repositories, RunSettings
from PaymentProcess.data.config.config_loader import ConfigLoader
from tests.approval_support import approve_latest, approve_latest_cli
from tests.conftest import GOLDEN_STORE, money, read_store, run_cli


def assert_golden_g1(collections: dict[str, list[dict[str, Any]]], exp: dict[str, Any]) -> None:
    """Every figure of expected.json's PE-G1 against the store after the final run."""
    ledger = {d["ParentClaimCore_ID"]: d for d in collections["ClaimFinCore"]
              if d["PaymentEvent_ID"] == "PE-G1"}
    assert set(ledger) == set(exp["ledger_entries_by_chain"])
    for chain, want in exp["ledger_entries_by_chain"].items():
        entry = ledger[chain]
        assert entry["_id"] == f"PE-G1:{chain}"
        assert entry["PaymentCenter_ID"] == want["PaymentCenter_ID"], chain
        assert entry["ClaimCore_IDs"] == want["ClaimCore_IDs"], chain
        assert entry["final_ClaimCore_ID"] == want["final_ClaimCore_ID"], chain
        assert money(entry["benefit_amount"]) == Decimal(want["benefit_amount"]), chain
        assert money(entry["interest_amount"]) == Decimal(want["interest_amount"]), chain
        assert str(entry["paid_date"].date()) == "2026-11-20"

    infos = {d["ClaimCore_ID"]: d for d in collections["PaymentInfo"]}
    assert {k: str(money(v["claim_paid"])) for k, v in infos.items()} == exp["claim_paid"]
    for info in infos.values():
        assert money(info["claim_paid"]) == sum(money(line["paid"]) for line in info["lines"])

    payments = sorted(collections["Payments"], key=lambda d: d["PaymentCenter_ID"])
    assert [(p["PaymentCenter_ID"], p["method"], p["number"], str(money(p["amount"])))
            for p in payments] == [(p["PaymentCenter_ID"], p["method"], p["number"], p["amount"])
                                   for p in exp["payments"]]
    assert all(p["_id"] == f"PE-G1:{p['PaymentCenter_ID']}" for p in payments)

    records = {d["_id"]: d for d in collections["OverUnder"]}
    for record_id, want in exp["over_under_after"].items():
        record = records[record_id]
        assert str(money(record["remaining"])) == want["remaining"], record_id
        assert record["status"] == want.get("status", "OPEN"), record_id
        if "applied_by_event" in want:
            applied = [a for a in record["applications"] if a["event_id"] == "PE-G1"]
            assert [str(money(a["amount"])) for a in applied] == [want["applied_by_event"]]
        if want.get("new"):
            for field in ("PaymentCenter_ID", "type", "reason"):
                assert record[field] == want[field], (record_id, field)
            assert str(money(record["total"])) == want["total"]
            assert record["created_event_id"] == "PE-G1"

    payees = {d["key"]: d["_id"] for d in collections["PaymentCenter"]}
    for key, payee_id in exp["new_payment_centers"].items():
        assert payees[key] == payee_id
    assert len(payees) == 6 + len(exp["new_payment_centers"])

    settlements = {str(d["PaymentCenter_ID"]): d for d in collections["PaymentSettlement"]}
    assert set(settlements) == set(exp["settlement_by_payee"])
    for payee_id, want in exp["settlement_by_payee"].items():
        got = settlements[payee_id]
        for field in ("pos", "neg", "consumed_under", "offset", "over_offsets", "amount",
                      "disbursed"):
            assert str(money(got[field])) == want[field], (payee_id, field)
        assert got["method"] == want["method"]
        assert got.get("number") == want.get("number")

    sequences = {d["_id"]: d["next"] for d in collections["Sequences"]}
    assert sequences == exp["sequences_after"]

    paid = {d["_id"] for d in collections["ClaimWSCore"] if d.get("PaidEvent_ID") == "PE-G1"}
    assert paid == set(exp["claim_paid"])
    assert all(d["PaymentStatus"] == "PAID" for d in collections["ClaimWSCore"]
               if d["_id"] in paid)
    excluded = [d for d in collections["ClaimWSCore"] if d["_id"] in exp["excluded_chains"]]
    assert excluded and all("PaymentStatus" not in d for d in excluded)


def stats_of(collections: dict[str, list[dict[str, Any]]], event: str,
             stage: str) -> list[dict[str, Any]]:
    return [d for d in collections.get("PaymentEventStats", [])
            if d["PaymentEvent_ID"] == event and d["stage"] == stage]


def test_golden_cycle_through_the_cli(golden_dir: Path, expected: dict[str, Any]) -> None:
    uri = f"mongomock://{golden_dir}"
    exp = expected["PE-G1"]
    dry = run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri)
    assert dry.returncode == exp["exit_codes"]["dry-run"], dry.stderr
    assert "Traceback" not in dry.stderr
    after_dry = read_store(golden_dir)
    assert "Payments" not in after_dry and "PaymentInfo" not in after_dry
    assert after_dry["Sequences"] == read_store(GOLDEN_STORE)["Sequences"]
    estimates = {d["payee_key"]: d for d in after_dry["PaymentEstimate"]}
    assert str(money(estimates["PROVIDER:741000001:1000000012"]["disbursed"])) == "97.82"
    assert estimates["PROVIDER:741000004:1000000046"]["PaymentCenter_ID"] == 200

    approve_latest_cli(uri, "PE-G1")
    final = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri, "--workers", "2")
    assert final.returncode == exp["exit_codes"]["final"], final.stderr
    assert "500120" in final.stdout and "EFT000000007" in final.stdout
    collections = read_store(golden_dir)
    assert_golden_g1(collections, exp)
    [stats] = stats_of(collections, "PE-G1", "FINAL")
    assert stats["status"] == "SUCCEEDED"
    warnings = {f["code"]: f["samples"] for f in stats["findings"] if f["severity"] == "WARNING"}
    assert warnings == exp["warnings"]
    assert stats["counts"]["chains_excluded"] == len(exp["excluded_chains"])
    assert str(money(stats["totals"]["disbursed"])) == "384.88"
    event = next(d for d in collections["PaymentEvent"] if d["_id"] == "PE-G1")
    assert event["stage"] == "FINAL"

    before = {f.name: f.read_bytes() for f in golden_dir.glob("*.jsonl")}
    again = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri)
    assert again.returncode == exp["exit_codes"]["final again"]
    assert "already FINAL" in again.stderr and "Traceback" not in again.stderr
    assert {f.name: f.read_bytes() for f in golden_dir.glob("*.jsonl")} == before


def test_golden_bad_claims_block_the_final_run(golden_dir: Path, expected: dict[str, Any]) -> None:
    uri = f"mongomock://{golden_dir}"
    exp = expected["PE-G2"]
    dry = run_cli("-p", "PE-G2", "-m", "dry-run", "--db-uri", uri)
    assert dry.returncode == exp["exit_codes"]["dry-run"], dry.stderr
    [stats] = stats_of(read_store(golden_dir), "PE-G2", "DRY_RUN")
    assert stats["status"] == "BLOCKED"
    critical = {f["code"]: f["samples"] for f in stats["findings"] if f["severity"] == "CRITICAL"}
    for code, samples in exp["critical_findings_at_least"].items():
        assert set(samples) <= set(critical[code]), code
    before = {f.name: f.read_bytes() for f in golden_dir.glob("*.jsonl")}
    final = run_cli("-p", "PE-G2", "-m", "final", "--db-uri", uri)
    assert final.returncode == exp["exit_codes"]["final"]
    assert "critical findings" in final.stderr and "Traceback" not in final.stderr
    assert {f.name: f.read_bytes() for f in golden_dir.glob("*.jsonl")} == before


def memory_store() -> Store:
    """A plain in-memory mongomock database holding the golden documents."""
    client = mongomock_ng.MongoClient()
    db = client.payments
    for name, documents in read_store(GOLDEN_STORE).items():
        db[name].insert_many(documents)
    return Store("mongomock://", db, client)


@pytest.mark.parametrize(("workers", "batch_size"), [(1, 1000), (1, 1), (2, 3)])
def test_golden_cycle_through_the_library(expected: dict[str, Any], workers: int,
                                          batch_size: int) -> None:
    store = memory_store()
    settings = RunSettings(db_uri=store.uri, workers=workers, batch_size=batch_size)
    processor = PaymentProcessor(ConfigLoader(store.db), Repositories.for_store(store, batch_size),
                                 settings, store)
    dry = processor.run_dry_run("PE-G1")
    assert dry.exit_code == 0
    approve_latest(store.db, "PE-G1")
    final = processor.run_final_run("PE-G1")
    assert final.exit_code == 0 and final.status == "SUCCEEDED"
    assert final.totals == dry.totals
    collections = {name: list(store.db[name].find()) for name in store.db.list_collection_names()}
    assert_golden_g1(collections, expected["PE-G1"])
    estimates = {d["PaymentCenter_ID"]: d for d in collections["PaymentEstimate"]}
    for settlement in collections["PaymentSettlement"]:
        estimate = estimates[settlement["PaymentCenter_ID"]]
        for field in ("pos", "neg", "offset", "over_offsets", "consumed_under", "disbursed",
                      "new_over", "new_under"):
            assert estimate[field] == settlement[field], field
