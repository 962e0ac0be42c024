"""The real-server tier, cycles: the golden and synthetic cycles through the command line with
``--db-uri mongodb://...``, each store compared document by document with what the embedded
store gives for the same commands.

The server is SecantusDB started by ``tests/integration/conftest.py``, or the MongoDB named
by ``PAYMENT_TEST_MONGODB_URI``. Synthetic cycles stay at or below 2,000 claims: SecantusDB
answers the ledger lookup (an ``$or`` of two ``$in``s, each branch indexed) by scanning.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from PaymentProcess.main import main
from PaymentProcess.synthetic.__main__ import main as synthetic_main
from tests.approval_support import approve_latest, approve_latest_cli
from tests.conftest import REPO, read_store, run_cli
from tests.integration.conftest import ServerDatabase
from tests.integration.cycle_checks import assert_cycle_invariants
from tests.integration.mongo_server import load_documents, server_collections
from tests.integration.resume_support import assert_same_store, golden_documents
from tests.integration.test_golden_cycle import assert_golden_g1, stats_of

SERVER_ENV = {"PAYMENT_MAX_WORKERS": "1"}  # the other core is the server's


def run_ok(uri: str, event: str, *args: str) -> subprocess.CompletedProcess[str]:
    """One CLI run that must succeed (exit 0, no traceback)."""
    result = run_cli("-p", event, *args, "--db-uri", uri, env=SERVER_ENV)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return result


def generate(uri: str, *options: str) -> None:
    """``python -m PaymentProcess.synthetic --db-uri URI OPTIONS``."""
    result = subprocess.run([sys.executable, "-m", "PaymentProcess.synthetic", "--db-uri", uri,
                             *options], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def embedded_twin(store: Path, *options: str) -> str:
    """The same synthetic store generated in-process into an embedded store: its URI."""
    uri = f"mongomock://{store}"
    synthetic_main.main(["--db-uri", uri, *options], standalone_mode=False)
    return uri


def run_in_process(uri: str, event: str, *args: str) -> None:
    """One run of ``PaymentProcess.main.main`` in this process (an embedded store's twin)."""
    assert main(["-p", event, *args, "--db-uri", uri, "--workers", "1"]) == 0


def test_golden_cycle_on_a_server(server_db: ServerDatabase, golden_dir: Path,
                                  expected: dict[str, Any]) -> None:
    """Every figure of expected.json; PE-G2 blocked and unchanged; equal to the embedded store."""
    load_documents(server_db.db, golden_documents())
    runs = (("PE-G1", "dry-run", expected["PE-G1"]["exit_codes"]["dry-run"]),
            ("PE-G1", "final", expected["PE-G1"]["exit_codes"]["final"]),
            ("PE-G2", "dry-run", expected["PE-G2"]["exit_codes"]["dry-run"]))
    for event, mode, code in runs:
        result = run_cli("-p", event, "-m", mode, "--db-uri", server_db.uri, env=SERVER_ENV)
        assert result.returncode == code, result.stderr
        assert "Traceback" not in result.stderr
        if mode == "final":
            assert "500120" in result.stdout and "EFT000000007" in result.stdout
        embedded = main(["-p", event, "-m", mode, "--db-uri", f"mongomock://{golden_dir}"])
        assert embedded == code
        if mode == "dry-run" and code == 0:  # the checker's step (spec 14) on both stores
            approve_latest(server_db.db, event)
            approve_latest_cli(f"mongomock://{golden_dir}", event)
    collections = server_collections(server_db.db)
    assert_golden_g1(collections, expected["PE-G1"])
    [stats] = stats_of(collections, "PE-G1", "FINAL")
    assert stats["status"] == "SUCCEEDED"
    assert {f["code"]: f["samples"] for f in stats["findings"]
            if f["severity"] == "WARNING"} == expected["PE-G1"]["warnings"]
    [blocked] = stats_of(collections, "PE-G2", "DRY_RUN")
    assert blocked["status"] == "BLOCKED"
    critical = {f["code"]: f["samples"] for f in blocked["findings"]
                if f["severity"] == "CRITICAL"}
    for code, samples in expected["PE-G2"]["critical_findings_at_least"].items():
        assert set(samples) <= set(critical[code]), code
    assert_same_store(collections, read_store(golden_dir))

    for event, wanted, words in (("PE-G1", expected["PE-G1"]["exit_codes"]["final again"],
                                  "already FINAL"),
                                 ("PE-G2", expected["PE-G2"]["exit_codes"]["final"],
                                  "critical findings")):
        refused = run_cli("-p", event, "-m", "final", "--db-uri", server_db.uri, env=SERVER_ENV)
        assert refused.returncode == wanted
        assert words in refused.stderr and "Traceback" not in refused.stderr
        assert server_collections(server_db.db) == collections


@pytest.mark.parametrize(("pc_type", "cycles", "claims"), [("provider", 2, 400),
                                                           ("dmr", 1, 400)])
def test_synthetic_cycles_on_a_server(server_db: ServerDatabase, tmp_path: Path, pc_type: str,
                                      cycles: int, claims: int) -> None:
    """Consecutive PROVIDER cycles and a DMR cycle: the same documents as the embedded store.

    A few hundred claims: SecantusDB pays about 6 ms for each upsert that inserts with
    ``j: true`` (it flushes its log per operation), and a final run inserts a ledger entry
    and a PaymentInfo per claim.
    """
    options = ("--claims", str(claims), "--payees", str(claims // 25), "--pc-type", pc_type,
               "--cycles", str(cycles), "--seed", "15", "--bad-rate", "0")
    generate(server_db.uri, *options)
    embedded = embedded_twin(tmp_path / "store", *options)
    for cycle in range(1, cycles + 1):
        event = f"PE-SYN-{cycle:04d}"
        run_ok(server_db.uri, event, "-m", "dry-run")
        approve_latest(server_db.db, event)
        run_ok(server_db.uri, event, "-m", "final", "--batch-size", "150")
        assert_cycle_invariants(server_db.db, event)  # before the next cycle replaces chains
        run_in_process(embedded, event, "-m", "dry-run")
        approve_latest_cli(embedded, event)
        run_in_process(embedded, event, "-m", "final", "--batch-size", "150")
    collections = server_collections(server_db.db)
    assert [e["stage"] for e in collections["PaymentEvent"]] == ["FINAL"] * cycles
    assert_same_store(collections, read_store(tmp_path / "store"))


def test_the_dry_run_fingerprint_gates_the_final_run(server_db: ServerDatabase) -> None:
    """An input changed after the dry run: the final run refuses (exit 3) and writes nothing."""
    load_documents(server_db.db, golden_documents())
    run_ok(server_db.uri, "PE-G1", "-m", "dry-run")
    approve_latest(server_db.db, "PE-G1")  # approved, then an input changes
    claim = server_db.db.ClaimWSCore.find_one({"PaymentEvent_ID": "PE-G1"}, sort=[("_id", 1)])
    server_db.db.ClaimWSCore.update_one({"_id": claim["_id"]},
                                        {"$set": {"patient_control_number": "PCN-CORRECTED"}})
    before = server_collections(server_db.db)
    refused = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", server_db.uri, env=SERVER_ENV)
    assert refused.returncode == 3
    assert ("paymentprocess: the inputs of PE-G1 changed since its last dry run (ClaimWSCore: "
            f"1 changed ({claim['_id']})): run the dry run again, then the final run"
            ) in refused.stderr
    assert server_collections(server_db.db) == before
    run_ok(server_db.uri, "PE-G1", "-m", "dry-run")
    approve_latest(server_db.db, "PE-G1")
    run_ok(server_db.uri, "PE-G1", "-m", "final")
    assert server_db.db.PaymentEvent.find_one({"_id": "PE-G1"})["stage"] == "FINAL"
