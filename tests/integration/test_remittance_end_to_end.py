"""The golden cycle's final run, through the CLI, writes 835s that both validators accept."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from bson import json_util

from PaymentProcess.remittance import write_remittances
from PaymentProcess.synthetic.generator import SyntheticOptions
from tests.approval_support import approve_latest_cli
from tests.conftest import REPO, money, read_store, run_cli
from tests.integration.test_synthetic_cycles import run_cycles
from tests.unit.test_remittance_store import PAYER, assert_valid


def add_payer(store_dir: Path) -> None:
    """The golden funding source has no payer identity; an operator would configure one."""
    path = store_dir / "FundingSource.jsonl"
    [funding] = [json_util.loads(line) for line in path.read_text().splitlines()]
    path.write_text(json_util.dumps({**funding, "payer": PAYER}) + "\n")


def bpr02(text: str) -> Decimal:
    return Decimal(re.search(r"^BPR\*[A-Z]\*([0-9.]+)\*", text, re.M).group(1))


def test_final_run_writes_valid_balanced_835s(golden_dir: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    add_payer(golden_dir)
    uri = f"mongomock://{golden_dir}"
    out = tmp_path / "835"
    assert run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri).returncode == 0
    approve_latest_cli(uri, "PE-G1")
    final = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri, "--remittance-dir", str(out))
    assert final.returncode == 0, final.stderr
    assert "7 X12 835 files" in final.stdout
    files = sorted(out.glob("*.835"))
    assert [f.name for f in files] == [f"PE-G1_{pc}.835" for pc in
                                       (101, 102, 103, 105, 106, 107, 200)]
    for file in files:
        assert_valid(file, monkeypatch)
    store = read_store(golden_dir)
    disbursed = sum(money(p["amount"]) for p in store["Payments"])
    assert sum(bpr02(f.read_text()) for f in files) == disbursed == Decimal("384.88")
    check_101 = (out / "PE-G1_101.835").read_text()
    assert "TRN*1*500120*" in check_101 and bpr02(check_101) == Decimal("97.82")
    assert len(store["RemittanceFile"]) == 7

    first = {f.name: f.read_bytes() for f in files}
    again = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri)
    assert again.returncode == 3
    rerun = subprocess.run(
        [sys.executable, "-m", "PaymentProcess.remittance", "-p", "PE-G1", "--db-uri", uri,
         "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert {f.name: f.read_bytes() for f in sorted(out.glob("*.835"))} == first


def stage(store_dir: Path) -> str:
    return next(e for e in read_store(store_dir)["PaymentEvent"] if e["_id"] == "PE-G1")["stage"]


def test_missing_payer_identity_is_refused_before_paying(golden_dir: Path,
                                                         tmp_path: Path) -> None:
    uri = f"mongomock://{golden_dir}"
    out = ("--remittance-dir", str(tmp_path / "835"))
    dry = run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri, *out)
    assert dry.returncode == 2
    assert dry.stderr.splitlines()[-1] == (
        "paymentprocess: --remittance-dir: FundingSource 'FS-G' lacks the payer identity the "
        "835 needs: payer.address.city, payer.address.line1, payer.address.state, "
        "payer.address.zip, payer.contact_phone, payer.name, payer.tax_id")
    assert stage(golden_dir) == "NEW"
    assert run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri).returncode == 0
    final = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri, *out)
    assert final.returncode == 2 and "Traceback" not in final.stderr
    assert stage(golden_dir) == "DRY_RUN"
    assert "Payments" not in read_store(golden_dir)


def test_unwritable_remittance_dir_is_refused_before_paying(golden_dir: Path,
                                                            tmp_path: Path) -> None:
    add_payer(golden_dir)
    uri = f"mongomock://{golden_dir}"
    (tmp_path / "file").write_text("")
    assert run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri).returncode == 0
    approve_latest_cli(uri, "PE-G1")
    final = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri,
                    "--remittance-dir", str(tmp_path / "file" / "835"))
    assert final.returncode == 4
    assert final.stderr.splitlines()[-1] == (
        f"paymentprocess: cannot write 835 files to {tmp_path}/file/835: Not a directory")
    assert stage(golden_dir) == "DRY_RUN"


def test_835s_failing_after_payment_keep_the_summary_and_exit_5(golden_dir: Path,
                                                               tmp_path: Path) -> None:
    add_payer(golden_dir)
    uri = f"mongomock://{golden_dir}"
    out = tmp_path / "835"
    (out / "PE-G1_105.835").mkdir(parents=True)  # in the way of one payee's file
    assert run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri).returncode == 0
    approve_latest_cli(uri, "PE-G1")
    final = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri, "--remittance-dir", str(out))
    assert final.returncode == 5
    assert "384.88" in final.stdout  # the summary of what was paid
    assert final.stderr.splitlines()[-1] == (
        f"paymentprocess: the payments of PE-G1 are FINAL, but its 835 files were not written: "
        f"cannot write the 835 file {out}/PE-G1_105.835: something other than a file is in the "
        f"way; write them with python -m PaymentProcess.remittance -p PE-G1 --out {out}")
    assert stage(golden_dir) == "FINAL"
    assert [p.name for p in out.iterdir()] == ["PE-G1_105.835"]  # nothing half-written
    (out / "PE-G1_105.835").rmdir()
    rerun = subprocess.run(
        [sys.executable, "-m", "PaymentProcess.remittance", "-p", "PE-G1", "--db-uri", uri,
         "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    numbers = sorted(r["control_number"] for r in read_store(golden_dir)["RemittanceFile"])
    assert numbers == list(range(1, 8))


def test_synthetic_cycles_write_valid_835s(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    options = SyntheticOptions(claims=300, payees=12, cycles=2, seed=21)
    store = run_cycles(options)
    # the generator names each funding source's payer: no setup needed
    for event_id in ("PE-SYN-0001", "PE-SYN-0002"):
        out = tmp_path / event_id
        files = write_remittances(store.db, event_id, out)
        assert len(files) == store.db.PaymentSettlement.count_documents(
            {"PaymentEvent_ID": event_id})
        for file in files:
            assert_valid(file, monkeypatch)
        disbursed = sum(money(p["amount"])
                        for p in store.db.Payments.find({"PaymentEvent_ID": event_id}))
        assert sum(bpr02(f.read_text()) for f in files) == disbursed


def test_a_malformed_denial_reason_is_refused_before_the_run(golden_dir: Path,
                                                             tmp_path: Path) -> None:
    add_payer(golden_dir)
    path = golden_dir / "ClaimWSCore.jsonl"
    claims = [json_util.loads(line) for line in path.read_text().splitlines()]
    for claim in claims:
        if claim["_id"] == "C6002":
            claim["denial_reason"] = {"group": "CO", "code": "not a carc"}
    path.write_text("".join(json_util.dumps(c) + "\n" for c in claims))
    dry = run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", f"mongomock://{golden_dir}",
                  "--remittance-dir", str(tmp_path / "835"))
    assert dry.returncode == 2
    assert dry.stderr.splitlines()[-1] == (
        "paymentprocess: --remittance-dir: ClaimWSCore C6002: denial_reason {'group': 'CO', "
        "'code': 'not a carc'} is not {group: CO|PR|OA|PI, code: a CARC}")
    assert stage(golden_dir) == "NEW"
