"""Bank files of the golden and synthetic cycles, checked by achkit, the npm NACHA parser and
the engine's own reader against Payments and the 835s (issue 18)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import achkit
import pytest

from PaymentProcess.remittance import write_remittances
from PaymentProcess.synthetic.generator import SyntheticOptions
from PaymentProcess.treasury import write_treasury_files
from PaymentProcess.treasury.ach import build_ach_file
from tests.approval_support import approve_latest_cli
from tests.conftest import GOLDEN_SOURCE, REPO, read_store, run_cli
from tests.integration.resume_support import memory_store
from tests.integration.test_remittance_end_to_end import add_payer
from tests.integration.test_synthetic_cycles import run_cycles
from tests.integration.treasury_checks import assert_bank_files, node_parse
from tests.unit.test_treasury_formats import CREATED, ORIGINATOR, entry

EXPECTED = json.loads((Path(__file__).parent / "golden_treasury_expected.json").read_text())
SECRETS = ("000123456789", "987650107", "4400102", "55-0106")  # golden accounts (overlay)


def treasury_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "PaymentProcess.treasury", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_golden_final_run_writes_the_bank_files(golden_dir: Path, tmp_path: Path,
                                                expected: dict[str, Any]) -> None:
    add_payer(golden_dir)
    uri = f"mongomock://{golden_dir}"
    bank, x835 = tmp_path / "bank", tmp_path / "835"
    dry = run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri)
    assert dry.returncode == 0, dry.stderr
    approve_latest_cli(uri, "PE-G1")
    final = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri, "--remittance-dir", str(x835),
                    env={"PAYMENT_TREASURY_DIR": str(bank)})
    assert final.returncode == 0, final.stderr
    assert f"4 bank files in {bank}" in final.stdout
    assert "CHECK 2 (334.88), EFT 1 (50.00)" in final.stdout
    want = EXPECTED["PE-G1"]
    files = sorted(bank.iterdir())
    assert [f.name for f in files] == want["files"]

    store = read_store(golden_dir)
    db = memory_store(store).db
    figures = assert_bank_files(db, "PE-G1", files, x835)
    shared = {}
    for payment in expected["PE-G1"]["payments"]:  # ../shared/golden/expected.json
        shared[payment["method"]] = shared.get(payment["method"], 0) + Decimal(payment["amount"])
    assert figures["by_method"] == shared == {k: Decimal(v)
                                              for k, v in want["disbursed_by_method"].items()}
    [ach] = figures["ach"]
    assert abs(datetime.strptime(ach.creation_date, "%y%m%d").replace(tzinfo=UTC)
               - datetime.now(UTC)).days <= 1
    got = asdict(ach)
    for field in ("immediate_destination", "immediate_origin", "file_id_modifier", "entry_hash",
                  "total_credit_cents"):
        assert got[field] == want["ach"][field], field
    assert [{k: b[k] for k in want["ach"]["batches"][0]} for b in got["batches"]] == \
        want["ach"]["batches"]
    assert [asdict(e) for e in ach.entries] == want["ach"]["entries"]
    assert (bank / "PE-G1_FS-G.positive-pay.csv").read_bytes().decode().split("\r\n")[:-1] == \
        want["positive_pay_csv"]
    trailer = (bank / "PE-G1_FS-G.positive-pay.txt").read_text().splitlines()[-1]
    assert trailer.rstrip() == want["positive_pay_trailer"]

    [stats] = [s for s in store["PaymentEventStats"] if s["stage"] == "FINAL"]
    assert {k: str(v.to_decimal()) for k, v in stats["disbursed_by_method"].items()} == \
        want["disbursed_by_method"]
    records = {r["_id"]: r for r in store["TreasuryFile"]}
    assert sorted(records) == [f"PE-G1:{name}" for name in want["files"]]
    assert records["PE-G1:PE-G1_FS-G.ach"]["file_id_modifier"] == "A"
    sequences = {s["_id"]: s["next"] for s in store["Sequences"]}
    assert sequences[f"ach:1750000001:{ach.creation_date}"] == 1

    first = {f.name: f.read_bytes() for f in files}
    again = treasury_cli("-p", "PE-G1", "--db-uri", uri, "--out", str(bank))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [str(bank / name) for name in sorted(
        want["files"], key=lambda n: (not n.endswith(".ach"), n.endswith("register.csv"), n))]
    assert {f.name: f.read_bytes() for f in sorted(bank.iterdir())} == first
    assert {s["_id"]: s["next"] for s in read_store(golden_dir)["Sequences"]} == sequences
    assert '"odfi_account": "****6789"' in again.stderr
    outputs = final.stdout + final.stderr + again.stdout + again.stderr
    stats_text = json.dumps([s for s in read_store(golden_dir)["PaymentEventStats"]],
                            default=str)
    for secret in SECRETS:
        assert secret not in outputs and secret not in stats_text


def test_golden_store_as_shared_has_no_bank_data_so_it_cannot_pay(golden_dir: Path) -> None:
    """The shared golden store predates spec 13: its EFT to payee 107 is BANK_INVALID."""
    for name in ("FundingSource.jsonl", "PaymentCenter.jsonl"):
        (golden_dir / name).write_text((GOLDEN_SOURCE / name).read_text())
    uri = f"mongomock://{golden_dir}"
    dry = run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri, "--json")
    assert dry.returncode == 1
    [finding] = [f for f in json.loads(dry.stdout)["findings"] if f["code"] == "BANK_INVALID"]
    assert finding["severity"] == "CRITICAL"
    assert finding["samples"] == ["FundingSource FS-G", "PaymentCenter 107"]
    assert finding["details"] == {"FundingSource FS-G": "no bank data",
                                  "PaymentCenter 107": "no bank data"}
    final = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri)
    assert final.returncode == 1 and "critical findings" in final.stderr
    assert "Payments" not in read_store(golden_dir)


@pytest.mark.parametrize("pc_type", ["PROVIDER", "DMR"])
def test_synthetic_cycles_write_bank_files_both_parsers_accept(pc_type: str,
                                                               tmp_path: Path) -> None:
    store = run_cycles(SyntheticOptions(claims=400, payees=30, cycles=3, seed=5,
                                        pc_type=pc_type))
    now = datetime(2026, 12, 1, 8, 0)
    ach_files = 0
    for event_id in ("PE-SYN-0001", "PE-SYN-0002", "PE-SYN-0003"):
        x835 = tmp_path / event_id / "835"
        write_remittances(store.db, event_id, x835)
        paths = write_treasury_files(store.db, event_id, tmp_path / event_id / "bank", now=now)
        figures = assert_bank_files(store.db, event_id, paths, x835)
        ach_files += len(figures["ach"])
        [stats] = list(store.db.PaymentEventStats.find({"PaymentEvent_ID": event_id,
                                                        "stage": "FINAL"}))
        assert {k: v.to_decimal() for k, v in stats["disbursed_by_method"].items()} == \
            figures["by_method"]
    assert ach_files == 3
    # two events of one funding source (same origin) on one day: modifiers A then B
    modifiers = sorted((r["immediate_origin"], r["file_id_modifier"])
                       for r in store.db.TreasuryFile.find({"kind": "ACH"}))
    assert modifiers == [("1750000001", "A"), ("1750000001", "B"), ("1750000002", "A")]


def test_both_parsers_reject_a_file_whose_totals_do_not_add_up(tmp_path: Path) -> None:
    good = build_ach_file([entry(107, 5000, "EFT000000007")], ORIGINATOR, "A", CREATED)
    records = good.decode("ascii").split("\n")
    records[2] = records[2][:29] + "0000005001" + records[2][39:]  # the entry, not the totals
    bad = tmp_path / "bad.ach"
    bad.write_text("\n".join(records), encoding="ascii")
    [theirs] = node_parse([bad])
    assert theirs["errors"] == ["batch 1 credit 5000 != 5001", "file credit 5000 != 5001"]
    errors = achkit.validate(bad.read_text())["errors"]
    assert {e["code"] for e in errors} == {"BAD_BATCH_CREDIT", "BAD_FILE_CREDIT"}
