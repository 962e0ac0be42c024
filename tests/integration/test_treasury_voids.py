"""Bank files of voids and reissues (spec 14 with spec 13): a voided check's positive-pay VOID,
a reissued check's ISSUE, a reissued EFT's one-entry ACH file (checked by achkit, the npm
parser and the engine's reader), each written once per void; the event's own files unchanged."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import achkit
import pytest

from PaymentProcess.treasury.ach_reader import read_ach_file
from tests.approval_support import approve_latest_cli, controls_cli
from tests.conftest import GOLDEN_SOURCE, REPO, read_store, run_cli
from tests.integration.test_remittance_end_to_end import add_payer
from tests.integration.test_treasury_end_to_end import treasury_cli
from tests.integration.treasury_checks import node_parse
from tests.unit.test_remittance_store import PAYER

EVENT = "PE-G1"
ACCOUNT = "000123456789"  # FS-G's account (tests/golden_bank_overlay.json)


def paid_with_files(golden_dir: Path, tmp_path: Path) -> tuple[str, Path, Path]:
    """The golden event paid by a final run that wrote its 835s and bank files."""
    add_payer(golden_dir)
    uri = f"mongomock://{golden_dir}"
    bank, x835 = tmp_path / "bank", tmp_path / "835"
    assert run_cli("-p", EVENT, "-m", "dry-run", "--db-uri", uri).returncode == 0
    approve_latest_cli(uri, EVENT)
    final = run_cli("-p", EVENT, "-m", "final", "--db-uri", uri, "--remittance-dir", str(x835),
                    "--treasury-dir", str(bank))
    assert final.returncode == 0, final.stderr
    return uri, bank, x835


def void(uri: str, payment_id: str, *args: str) -> Any:
    return controls_cli("void", "-p", EVENT, "--payment-id", payment_id, "--reason", "LOST",
                        "--by", "clerk", "--db-uri", uri, *args)


def contents(directory: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(directory.iterdir())}


def positive_pay_rows(path: Path) -> list[tuple[str, str, int, str, str, str]]:
    return [(r["record_type"], r["account"], int(r["check_number"]), r["amount"],
             r["issue_date"], r["payee_name"])
            for r in csv.DictReader(io.StringIO(path.read_text(encoding="ascii")))]


def test_voids_and_reissues_write_their_own_bank_files_once(golden_dir: Path,
                                                            tmp_path: Path) -> None:
    uri, bank, x835 = paid_with_files(golden_dir, tmp_path)
    event_files = contents(bank)
    assert sorted(event_files) == ["PE-G1.check-register.csv", "PE-G1_FS-G.ach",
                                   "PE-G1_FS-G.positive-pay.csv", "PE-G1_FS-G.positive-pay.txt"]

    eft = void(uri, "PE-G1:107", "--reissue", "--remittance-dir", str(x835),
               "--treasury-dir", str(bank))
    assert eft.returncode == 0, eft.stderr
    assert "reissued it as PE-G1:107:R1 number EFT000000008" in eft.stdout
    check = void(uri, "PE-G1:101", "--reissue", "--treasury-dir", str(bank))
    assert check.returncode == 0, check.stderr
    assert "reissued it as PE-G1:101:R1 number 500122" in check.stdout
    plain = void(uri, "PE-G1:200", "--treasury-dir", str(bank))
    assert plain.returncode == 0, plain.stderr
    after = contents(bank)
    assert {name: data for name, data in after.items() if name in event_files} == event_files
    assert sorted(set(after) - set(event_files)) == [
        "PE-G1_101_VOID.positive-pay.csv", "PE-G1_101_VOID.positive-pay.txt",
        "PE-G1_107_VOID.ach", "PE-G1_200_VOID.positive-pay.csv",
        "PE-G1_200_VOID.positive-pay.txt"]
    for name in set(after) - set(event_files):
        assert (bank / name).stat().st_mode & 0o777 == 0o640, name

    store = read_store(golden_dir)
    payments = {p["_id"]: p for p in store["Payments"]}
    today = payments["PE-G1:101:R1"]["issue_date"].date().isoformat()
    # the voided check and the new one, same amount; the plain void only the VOID line
    assert positive_pay_rows(bank / "PE-G1_101_VOID.positive-pay.csv") == [
        ("VOID", ACCOUNT, 500120, "97.82", "2026-11-20", "North Clinic PA"),
        ("ISSUE", ACCOUNT, 500122, "97.82", today, "North Clinic PA")]
    assert positive_pay_rows(bank / "PE-G1_200_VOID.positive-pay.csv") == [
        ("VOID", ACCOUNT, 500121, "237.06", "2026-11-20", "Riverbend Therapy")]
    fixed = (bank / "PE-G1_200_VOID.positive-pay.txt").read_text().splitlines()
    assert [(line[0], int(line[18:28]), int(line[28:40])) for line in fixed[:-1]] == [
        ("V", 500121, 23706)]
    assert fixed[-1].rstrip() == "T00000001" + "0" * 14 + "00000000023706"

    # the reissued EFT: one entry, its trace the new number and the reissue's 835 TRN
    ach_path = bank / "PE-G1_107_VOID.ach"
    text = ach_path.read_text(encoding="ascii")
    assert achkit.validate(text) == {"ok": True, "errors": []}
    assert achkit.parse(text)["control"]["total_credit"] == 5000
    [theirs] = node_parse([ach_path])
    assert theirs["errors"] == [] and (theirs["totalCredit"], theirs["totalDebit"]) == (5000, 0)
    ours = read_ach_file(ach_path.read_bytes())
    [entry] = ours.entries
    trn = re.search(r"^(TRN\*[^~]*)~", (x835 / "PE-G1_107_R1.835").read_text(), re.M).group(1)
    assert trn == f"TRN*1*EFT000000008*1{PAYER['tax_id']}"
    assert entry.addenda == trn + "\\"
    assert (entry.amount_cents, entry.routing, entry.account, entry.identification) == (
        5000, "111000025", "987650107", "000000000000107")
    assert [theirs["entries"][0]["addenda"]] == [entry.addenda]
    assert ours.batches[0].effective_date == payments["PE-G1:107:R1"]["issue_date"].strftime(
        "%y%m%d")
    # its file id modifier was reserved and recorded: the next after the event's own file's
    records = {r["_id"]: r for r in store["TreasuryFile"]}
    event_ach, void_ach = records["PE-G1:PE-G1_FS-G.ach"], records["PE-G1:PE-G1_107_VOID.ach"]
    assert ours.file_id_modifier == void_ach["file_id_modifier"]
    if f"{void_ach['created_at']:%y%m%d}" == f"{event_ach['created_at']:%y%m%d}":
        assert (event_ach["file_id_modifier"], void_ach["file_id_modifier"]) == ("A", "B")
    sequences = {s["_id"]: s["next"] for s in store["Sequences"]}

    # written again (the command the exit-5 message names): the same bytes, no new modifier
    again = treasury_cli("-p", EVENT, "--db-uri", uri, "--out", str(bank))
    assert again.returncode == 0, again.stderr
    assert contents(bank) == after
    assert {s["_id"]: s["next"] for s in read_store(golden_dir)["Sequences"]} == sequences
    elsewhere = tmp_path / "again"
    assert treasury_cli("-p", EVENT, "--db-uri", uri, "--out", str(elsewhere)).returncode == 0
    assert contents(elsewhere) == after


def test_a_void_whose_bank_file_cannot_be_written_exits_5_and_is_written_later(
        golden_dir: Path, tmp_path: Path) -> None:
    uri, bank, _ = paid_with_files(golden_dir, tmp_path)
    (bank / "PE-G1_101_VOID.positive-pay.csv").mkdir()  # something in the way
    voided = void(uri, "PE-G1:101", "--treasury-dir", str(bank))
    assert voided.returncode == 5
    assert "voided PE-G1:101 (LOST, 97.82)" in voided.stdout
    assert voided.stderr.count("\n") == 1
    assert ("the void is done, but its bank file was not written" in voided.stderr
            and f"python -m PaymentProcess.treasury -p PE-G1 --out {bank}" in voided.stderr)
    assert [a["status"] for a in read_store(golden_dir)["ControlAction"]] == ["DONE"]
    (bank / "PE-G1_101_VOID.positive-pay.csv").rmdir()
    written = treasury_cli("-p", EVENT, "--db-uri", uri, "--out", str(bank))
    assert written.returncode == 0, written.stderr
    assert positive_pay_rows(bank / "PE-G1_101_VOID.positive-pay.csv") == [
        ("VOID", ACCOUNT, 500120, "97.82", "2026-11-20", "North Clinic PA")]


def test_a_reissue_without_the_payees_bank_data_is_refused_before_anything(
        golden_dir: Path, tmp_path: Path) -> None:
    uri, bank, _ = paid_with_files(golden_dir, tmp_path)
    (golden_dir / "PaymentCenter.jsonl").write_text(
        (GOLDEN_SOURCE / "PaymentCenter.jsonl").read_text())  # no bank data
    refused = void(uri, "PE-G1:107", "--reissue", "--treasury-dir", str(bank))
    assert refused.returncode == 2
    assert refused.stderr.startswith("paymentprocess-controls: --treasury-dir: PaymentCenter "
                                     "107 is paid by EFT without valid bank data")
    assert "ControlAction" not in read_store(golden_dir)


@pytest.mark.parametrize("checkpoint", ["writes", "finished"])
def test_a_reissue_killed_gets_its_ach_file_once(golden_dir: Path, tmp_path: Path,
                                                 checkpoint: str) -> None:
    uri, bank, _ = paid_with_files(golden_dir, tmp_path)
    args = ("void", "-p", EVENT, "--payment-id", "PE-G1:107", "--reason", "RETURNED",
            "--reissue", "--treasury-dir", str(bank), "--db-uri", uri)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    killed = subprocess.run([sys.executable, "-m", "tests.integration.void_crash_driver",
                             checkpoint, *args], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (bank / "PE-G1_107_VOID.ach").exists()
    if checkpoint == "writes":
        finished = controls_cli(*args, "--resume")
    else:  # finished before the file: the void is refused, the treasury command writes it
        assert controls_cli(*args).returncode == 3
        finished = treasury_cli("-p", EVENT, "--db-uri", uri, "--out", str(bank))
    assert finished.returncode == 0, finished.stderr
    [entry] = read_ach_file((bank / "PE-G1_107_VOID.ach").read_bytes()).entries
    assert (entry.amount_cents, entry.addenda) == (5000, f"TRN*1*EFT000000008*1{PAYER['tax_id']}\\")
    first = contents(bank)
    sequences = {s["_id"]: s["next"] for s in read_store(golden_dir)["Sequences"]}
    assert treasury_cli("-p", EVENT, "--db-uri", uri, "--out", str(bank)).returncode == 0
    assert contents(bank) == first
    assert {s["_id"]: s["next"] for s in read_store(golden_dir)["Sequences"]} == sequences
