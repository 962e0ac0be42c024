"""The bank files are written exactly once: a file id modifier is reserved and recorded
before any file is written, never used twice for one origin on one day, and a file is never
re-issued with other content; every failure is one line with the spec's exit code."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from PaymentProcess.common.functions import Store
from PaymentProcess.treasury import TreasuryError, write_treasury_files
from PaymentProcess.treasury import writer as writer_module
from PaymentProcess.utils.error_handling import ConfigurationError, StageError
from tests.approval_support import approve_latest, approve_latest_cli
from tests.conftest import REPO, read_store, run_cli
from tests.integration.resume_support import EVENT, memory_store, processor
from tests.integration.test_remittance_end_to_end import add_payer
from tests.unit.test_remittance_store import PAYER

NOW = datetime(2026, 11, 18, 9, 30)
ACH = "PE-G1_FS-G.ach"


@pytest.fixture
def paid() -> Store:
    """The golden PE-G1 paid (FINAL), with the payer identity the ACH trace needs."""
    store = memory_store()
    store.db.FundingSource.update_many({}, {"$set": {"payer": PAYER}})
    assert processor(store).run_dry_run(EVENT).exit_code == 0
    approve_latest(store.db, EVENT)
    assert processor(store).run_final_run(EVENT).status == "SUCCEEDED"
    return store


def modifiers(db: Any) -> dict[str, Any]:
    return {"records": sorted((r["_id"], r.get("file_id_modifier"))
                              for r in db.TreasuryFile.find()),
            "sequences": {s["_id"]: s["next"] for s in db.Sequences.find()
                          if s["_id"].startswith("ach:")}}


def test_a_failed_write_keeps_the_reserved_modifier_for_the_rewrite(
        paid: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "bank"
    checkpoints = []
    real_write = writer_module.write_private_file_atomically

    def fail_on_positive_pay(path: Path, data: bytes) -> None:
        if "positive-pay" in path.name:
            raise OSError(28, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(writer_module, "write_private_file_atomically", fail_on_positive_pay)
    with pytest.raises(TreasuryError, match="No space left on device") as failure:
        write_treasury_files(paid.db, EVENT, out, now=NOW,
                             checkpoint=lambda: checkpoints.append(modifiers(paid.db)))
    assert failure.value.exit_code == 4
    recorded = modifiers(paid.db)
    assert checkpoints == [recorded]  # recorded and made durable before any file was written
    assert (f"PE-G1:{ACH}", "A") in recorded["records"]
    assert recorded["sequences"] == {"ach:1750000001:261118": 1}
    first_ach = (out / ACH).read_bytes()

    monkeypatch.setattr(writer_module, "write_private_file_atomically", real_write)
    later = datetime(2026, 11, 19, 14, 0)  # a rewrite the next day keeps the recorded file
    paths = write_treasury_files(paid.db, EVENT, out, now=later)
    assert len(paths) == 4 and (out / ACH).read_bytes() == first_ach
    assert first_ach.startswith(b"101 0910000191750000001" b"2611180930A")
    assert modifiers(paid.db) == recorded


def test_one_origin_never_uses_a_modifier_twice_on_one_day(paid: Store, tmp_path: Path) -> None:
    paid.db.Sequences.insert_one({"_id": "ach:1750000001:261118", "next": 2})  # A, B used
    write_treasury_files(paid.db, EVENT, tmp_path, now=NOW)
    assert paid.db.TreasuryFile.find_one({"_id": f"PE-G1:{ACH}"})["file_id_modifier"] == "C"
    assert (tmp_path / ACH).read_bytes()[33:34] == b"C"


def test_after_36_files_on_one_day_nothing_is_written(paid: Store, tmp_path: Path) -> None:
    paid.db.Sequences.insert_one({"_id": "ach:1750000001:261118", "next": 36})
    with pytest.raises(TreasuryError, match="all 36 ACH file id modifiers on 2026-11-18"):
        write_treasury_files(paid.db, EVENT, tmp_path / "bank", now=NOW)
    assert not any((tmp_path / "bank").iterdir())
    assert paid.db.TreasuryFile.find_one({"_id": f"PE-G1:{ACH}"}) is None
    write_treasury_files(paid.db, EVENT, tmp_path / "bank", now=datetime(2026, 11, 19, 8, 0))
    assert (tmp_path / "bank" / ACH).read_bytes()[23:34] == b"2611190800A"


def test_changed_figures_are_never_sent_under_a_recorded_file(paid: Store, tmp_path: Path) -> None:
    write_treasury_files(paid.db, EVENT, tmp_path, now=NOW)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    paid.db.PaymentCenter.update_one({"_id": 107}, {"$set": {"bank.account": "111122223333"}})
    with pytest.raises(TreasuryError, match=f"{ACH} no longer matches") as failure:
        write_treasury_files(paid.db, EVENT, tmp_path, now=NOW)
    assert "111122223333" not in str(failure.value) and "987650107" not in str(failure.value)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_something_in_the_way_stops_before_any_modifier_is_used(paid: Store,
                                                                tmp_path: Path) -> None:
    (tmp_path / ACH).mkdir()
    with pytest.raises(TreasuryError, match="something other than a file is in the way"):
        write_treasury_files(paid.db, EVENT, tmp_path, now=NOW)
    assert modifiers(paid.db) == {"records": [], "sequences": {}}


def test_bank_data_and_stage_errors_name_what_is_wrong(paid: Store, tmp_path: Path) -> None:
    paid.db.PaymentCenter.update_one({"_id": 107}, {"$set": {"bank.routing": "111000026"}})
    with pytest.raises(ConfigurationError, match="PaymentCenter 107 is paid by EFT without valid "
                       "bank data: bank.routing: not 9 digits passing the ABA check digit"):
        write_treasury_files(paid.db, EVENT, tmp_path, now=NOW)
    paid.db.FundingSource.update_one({}, {"$unset": {"bank": ""}})
    with pytest.raises(ConfigurationError, match="FundingSource 'FS-G' has no valid bank data"):
        write_treasury_files(paid.db, EVENT, tmp_path, now=NOW)
    with pytest.raises(StageError, match="PE-G2 is NEW, not FINAL"):
        write_treasury_files(paid.db, "PE-G2", tmp_path, now=NOW)
    with pytest.raises(ConfigurationError, match="unknown payment event 'PE-X'"):
        write_treasury_files(paid.db, "PE-X", tmp_path, now=NOW)
    assert not any(tmp_path.iterdir())


def run_treasury(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "PaymentProcess.treasury", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_command_failures_are_one_line_with_the_exit_code(golden_dir: Path,
                                                          tmp_path: Path) -> None:
    uri = f"mongomock://{golden_dir}"
    not_final = run_treasury("-p", "PE-G1", "--db-uri", uri, "--out", str(tmp_path / "o"))
    assert (not_final.returncode, not_final.stderr) == (
        3, "error: payment event PE-G1 is NEW, not FINAL\n")
    unknown = run_treasury("-p", "PE-NONE", "--db-uri", uri, "--out", str(tmp_path / "o"))
    assert (unknown.returncode, unknown.stderr) == (2, "error: unknown payment event 'PE-NONE'\n")
    assert run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri).returncode == 0
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    refused = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri, "--treasury-dir",
                      str(blocked))
    assert refused.returncode == 2 and "'--treasury-dir'" in refused.stderr
    final = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri, "--treasury-dir",
                    str(tmp_path / "bank"))
    assert final.returncode == 2  # no payer identity for the ACH trace: nothing was paid
    [message] = [line for line in final.stderr.splitlines()
                 if line.startswith("paymentprocess:")]
    assert "Traceback" not in final.stderr
    assert message.startswith("paymentprocess: --treasury-dir: FundingSource 'FS-G' lacks the "
                              "payer identity")
    assert next(e for e in read_store(golden_dir)["PaymentEvent"]
                if e["_id"] == "PE-G1")["stage"] == "DRY_RUN"
    add_payer(golden_dir)  # the funding source changed: a new dry run
    assert run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri).returncode == 0
    approve_latest_cli(uri, "PE-G1")
    unwritable_dir = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri, "--treasury-dir",
                             str(blocked / "sub"))
    assert unwritable_dir.returncode == 4  # checked before paying
    assert f"paymentprocess: cannot write bank files to {blocked / 'sub'}" in \
        unwritable_dir.stderr
    paid_run = run_cli("-p", "PE-G1", "-m", "final", "--db-uri", uri, "--treasury-dir",
                       str(tmp_path / "bank"))
    assert paid_run.returncode == 0, paid_run.stderr
    unwritable = run_treasury("-p", "PE-G1", "--db-uri", uri, "--out", str(blocked / "sub"))
    assert unwritable.returncode == 4
    assert unwritable.stderr == (f"error: cannot write bank files to {blocked / 'sub'}: "
                                 "Not a directory\n")
    written = run_treasury("-p", "PE-G1", "--db-uri", uri, "--out", str(tmp_path / "bank"))
    assert written.returncode == 0, written.stderr
    assert len(written.stdout.splitlines()) == 4


def test_an_aware_creation_time_is_written_in_utc(paid: Store, tmp_path: Path) -> None:
    central = timezone(timedelta(hours=-6))
    write_treasury_files(paid.db, EVENT, tmp_path, now=datetime(2026, 11, 18, 21, 45,
                                                                tzinfo=central))
    assert (tmp_path / ACH).read_bytes()[23:34] == b"2611190345A"
    assert paid.db.TreasuryFile.find_one({"_id": f"PE-G1:{ACH}"})["created_at"] == datetime(
        2026, 11, 19, 3, 45)


def test_an_unexpected_failure_is_one_line_exit_4(paid: Store, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from PaymentProcess.common import functions
    from PaymentProcess.treasury.__main__ import main

    def lost(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("connection to mongodb://user:secret@db:27017 lost")

    monkeypatch.setattr(functions, "get_connection", lambda uri, timeout_s: paid)
    monkeypatch.setattr(functions, "close_connection", lambda: None)
    monkeypatch.setattr(writer_module, "load_treasury_inputs", lost)
    result = CliRunner().invoke(main, ["-p", EVENT, "--db-uri", "mongomock://",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 4
    assert result.output == ("error: failed: RuntimeError: connection to "
                             "mongodb://user:***@db:27017 lost\n")


def test_paid_but_not_written_keeps_the_stats_and_exits_5(paid: Store, tmp_path: Path) -> None:
    from PaymentProcess.data.models.stats import PaymentEventStats
    from PaymentProcess.treasury.final_step import (
        BankFilesNotWrittenError,
        write_bank_files_after_final,
    )

    stats = PaymentEventStats("run-1", EVENT, "FINAL", NOW)
    paid.db.PaymentCenter.update_one({"_id": 107}, {"$unset": {"bank": ""}})  # after paying
    with pytest.raises(BankFilesNotWrittenError) as failure:
        write_bank_files_after_final(paid, EVENT, tmp_path, stats)
    assert failure.value.exit_code == 5 and failure.value.stats is stats
    assert str(failure.value) == (
        "the payments of PE-G1 are FINAL, but its bank files were not written: PaymentCenter "
        "107 is paid by EFT without valid bank data: no bank data; write them with python -m "
        f"PaymentProcess.treasury -p PE-G1 --out {tmp_path}")
    assert stats.written == []
    paid.db.PaymentCenter.update_one({"_id": 107}, {"$set": {"bank": {
        "routing": "111000025", "account": "987650107", "type": "CHECKING"}}})
    write_bank_files_after_final(paid, EVENT, tmp_path, stats)
    assert stats.written == [f"4 bank files in {tmp_path}"]
