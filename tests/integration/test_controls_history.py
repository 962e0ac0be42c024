"""Spec section 14, history: every run and control action of an event listed and shown, and
the final run compared with its approved dry run payee by payee (exit 1 on a difference)."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from bson.decimal128 import Decimal128

from PaymentProcess.controls.compare import compare_with_approved
from PaymentProcess.controls.history import event_history, show
from PaymentProcess.data.repositories.control_repository import ControlRepository
from PaymentProcess.utils.error_handling import ConfigurationError, StageError
from tests.approval_support import approve_latest, controls_cli
from tests.conftest import GOLDEN_STORE, run_cli
from tests.integration.resume_support import EVENT, Crash, crash_on_hook, memory_store, processor


def test_history_lists_runs_approvals_and_resumes_in_order() -> None:
    store = memory_store()
    repository = ControlRepository(store.db)
    validate = processor(store).run_validate_only(EVENT)
    first = processor(store).run_dry_run(EVENT)
    approve_latest(store.db, EVENT, "alice")
    second = processor(store).run_dry_run(EVENT)
    approve_latest(store.db, EVENT, "bob")
    hook, _ = crash_on_hook(2)  # dies after the payees checkpoint
    with pytest.raises(Crash):
        processor(store, hook=hook).run_final_run(EVENT)
    final = processor(store, resume=True).run_final_run(EVENT)
    rows = event_history(repository, EVENT)
    assert [(r.kind, r.id, r.status) for r in rows] == [
        ("VALIDATE_ONLY", validate.run_id, "SUCCEEDED"),
        ("DRY_RUN", first.run_id, "SUCCEEDED"),
        ("APPROVAL", first.run_id, "SUPERSEDED"),
        ("DRY_RUN", second.run_id, "SUCCEEDED"),
        ("APPROVAL", second.run_id, "APPROVED"),
        ("FINAL", final.run_id, "SUCCEEDED"),
        ("RESUME", final.run_id, "FINISHED"),
    ]
    assert [r.who for r in rows if r.kind == "APPROVAL"] == ["alice", "bob"]
    by_kind = {r.kind: r for r in rows}
    assert by_kind["FINAL"].disbursed == Decimal("384.88") and by_kind["FINAL"].payees == 7
    assert by_kind["DRY_RUN"].disbursed == Decimal("384.88")
    assert show(repository, EVENT, final.run_id)["stage"] == "FINAL"
    with pytest.raises(ConfigurationError, match="is not a run or control action of PE-G2"):
        show(repository, "PE-G2", final.run_id)


def paid_store():
    store = memory_store()
    dry = processor(store).run_dry_run(EVENT)
    approve_latest(store.db, EVENT)
    final = processor(store).run_final_run(EVENT)
    return store, dry, final


def test_the_final_run_equals_its_approved_dry_run() -> None:
    store, dry, final = paid_store()
    comparison = compare_with_approved(ControlRepository(store.db), EVENT)
    assert (comparison.final_run_id, comparison.dry_run_id) == (final.run_id, dry.run_id)
    assert comparison.equal and comparison.payees == 7


def test_any_difference_is_reported_payee_by_payee() -> None:
    store, dry, final = paid_store()
    stats = store.db.PaymentEventStats
    rows = stats.find_one({"_id": final.run_id})["payees"]
    changed = next(r for r in rows if r["PaymentCenter_ID"] == 101)
    changed["disbursed"] = Decimal128("97.83")
    stats.update_one({"_id": final.run_id}, {"$set": {"payees": rows}})
    dry_rows = [r for r in stats.find_one({"_id": dry.run_id})["payees"]
                if r["PaymentCenter_ID"] != 102]
    stats.update_one({"_id": dry.run_id}, {"$set": {"payees": dry_rows,
                                                     "totals.disbursed": Decimal128("1.00")}})
    comparison = compare_with_approved(ControlRepository(store.db), EVENT)
    key_101, key_102 = (next(r["key"] for r in rows if r["PaymentCenter_ID"] == i)
                        for i in (101, 102))
    assert comparison.differences == [
        f"payee {key_101}: disbursed dry run 97.82 final run 97.83",
        f"payee {key_102}: only in the final run",
        "total disbursed: dry run 1.00 final run 384.88",
    ]


def test_compare_refusals() -> None:
    store = memory_store()
    repository = ControlRepository(store.db)
    with pytest.raises(StageError, match="only a FINAL event"):
        compare_with_approved(repository, EVENT)
    with pytest.raises(ConfigurationError, match="unknown payment event"):
        compare_with_approved(repository, "PE-NOPE")
    store, _, final = paid_store()
    with pytest.raises(ConfigurationError, match="is not a final run of PE-G1"):
        compare_with_approved(ControlRepository(store.db), EVENT, "PE-G1:DRY_RUN:x")
    store.db.PaymentEventStats.update_one({"_id": final.run_id}, {"$unset": {"payees": ""}})
    with pytest.raises(StageError, match="stored no per-payee rows"):
        compare_with_approved(ControlRepository(store.db), EVENT)


def test_history_show_and_compare_through_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "store"
    shutil.copytree(GOLDEN_STORE, path)
    uri = f"mongomock://{path}"
    assert run_cli("-p", EVENT, "-m", "dry-run", "--db-uri", uri).returncode == 0
    ids = controls_cli("history", "-p", EVENT, "--db-uri", uri, "--kind", "DRY_RUN", "--ids")
    assert ids.returncode == 0 and len(ids.stdout.split()) == 1
    dry_id = ids.stdout.strip()
    assert controls_cli("approve", "-p", EVENT, "--db-uri", uri, "--run-id", dry_id,
                        "--approver", "alice").returncode == 0
    not_yet = controls_cli("compare", "-p", EVENT, "--db-uri", uri)
    assert not_yet.returncode == 3 and "only a FINAL event" in not_yet.stderr
    assert run_cli("-p", EVENT, "-m", "final", "--db-uri", uri).returncode == 0

    listed = controls_cli("history", "-p", EVENT, "--db-uri", uri, "--json")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [(e["kind"], e["who"], e["status"], e["disbursed"]) for e in entries][1:] == [
        ("APPROVAL", "alice", "APPROVED", ""), ("FINAL", entries[2]["who"], "SUCCEEDED",
                                                "384.88")]
    table = controls_cli("history", "-p", EVENT, "--db-uri", uri)
    assert table.stdout.splitlines()[0] == f"history of {EVENT}: 3 entries"
    shown = controls_cli("show", "-p", EVENT, "--db-uri", uri, "--run-id", entries[2]["id"])
    assert shown.returncode == 0 and '"$numberDecimal": "384.88"' in shown.stdout
    missing = controls_cli("show", "-p", EVENT, "--db-uri", uri, "--run-id", "nope")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    same = controls_cli("compare", "-p", EVENT, "--db-uri", uri)
    assert same.returncode == 0, same.stderr
    assert same.stdout.startswith(f"final run {entries[2]['id']} equals the approved dry run "
                                  f"{dry_id}: 7 payees")
    unknown = controls_cli("history", "-p", "PE-NOPE", "--db-uri", uri)
    assert unknown.returncode == 2 and "unknown payment event" in unknown.stderr
    no_db = controls_cli("history", "-p", EVENT)
    assert no_db.returncode == 2 and "no database" in no_db.stderr
