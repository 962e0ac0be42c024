"""Spec section 14, void and reissue: once per payment, numbers never reused, resumable after a
crash at any moment (ending as an uninterrupted void), concurrent attempts refused, and
money conserved over several cycles: everything owed is paid once, nothing twice."""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import mongomock_ng
import pytest

from PaymentProcess.common.functions import Store
from PaymentProcess.controls import void as void_module
from PaymentProcess.controls.void import VoidProcessor, VoidRequest
from PaymentProcess.data.models.controls import VoidReason
from PaymentProcess.synthetic.generator import SyntheticOptions, generate
from PaymentProcess.utils.error_handling import (
    ConcurrencyError,
    ConfigurationError,
    StageError,
)
from tests.approval_support import approve_latest, approve_latest_cli, controls_cli
from tests.conftest import GOLDEN_STORE, REPO, read_store, run_cli
from tests.integration.resume_support import (
    EVENT,
    Collections,
    Crash,
    crash_on_hook,
    db_collections,
    memory_store,
    processor,
    write_faults,
)
from tests.integration.test_remittance_end_to_end import add_payer, bpr02
from tests.unit.test_remittance_store import assert_valid

AT = datetime(2026, 12, 1, 9, 30)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Voids at one known time, so two stores that did the same thing are equal."""
    monkeypatch.setattr(void_module, "now_utc", lambda: AT)


@pytest.fixture(scope="module")
def paid() -> Collections:
    """The golden store after PE-G1 was paid (dry run, approval, final run)."""
    store = memory_store()
    assert processor(store).run_dry_run(EVENT).exit_code == 0
    approve_latest(store.db, EVENT)
    assert processor(store).run_final_run(EVENT).status == "SUCCEEDED"
    return db_collections(store)


def request(payment_id: str, reissue: bool = False, resume: bool = False,
            reason: VoidReason = VoidReason.LOST) -> VoidRequest:
    return VoidRequest(EVENT, payment_id, reason, "clerk", reissue, resume)


def without_owner(collections: Collections) -> Collections:
    """Documents without the owner token of the process that held an action."""
    result = copy.deepcopy(collections)
    for action in result.get("ControlAction", []):
        action.pop("owner", None)
    return {name: sorted(docs, key=repr) for name, docs in result.items() if docs}


def numbers(db: Any) -> list[str]:
    return [str(p["number"]) for p in db.Payments.find()]


def test_a_void_records_it_on_the_payment_and_owes_the_amount_again(paid: Collections) -> None:
    store = memory_store(paid)
    action = VoidProcessor(store).run(request("PE-G1:101"))
    assert (action.kind, action.status, action.amount, action.under_id) == (
        "VOID", "DONE", Decimal("97.82"), "PE-G1:101:VOID")
    payment = store.db.Payments.find_one({"_id": "PE-G1:101"})
    assert payment["void"] == {"reason": "LOST", "at": AT, "by": "clerk",
                               "action_id": "PE-G1:101:VOID"}
    under = store.db.OverUnder.find_one({"_id": "PE-G1:101:VOID"})
    assert (under["type"], under["reason"], under["status"], under["PaymentCenter_ID"],
            under["references"]) == ("UNDER", "VOID:LOST", "OPEN", 101, ["PE-G1:101"])
    assert under["total"].to_decimal() == under["remaining"].to_decimal() == Decimal("97.82")
    assert store.db.Payments.count_documents({}) == len(paid["Payments"])  # no new payment


def test_a_payment_is_voided_once(paid: Collections) -> None:
    store = memory_store(paid)
    VoidProcessor(store).run(request("PE-G1:101"))
    before = db_collections(store)
    with pytest.raises(StageError, match="already voided .LOST. by clerk") as twice:
        VoidProcessor(store).run(request("PE-G1:101", reissue=True))
    assert twice.value.exit_code == 3
    assert db_collections(store) == before


def test_a_reissue_pays_the_same_amount_with_a_new_number(paid: Collections) -> None:
    store = memory_store(paid)
    before = numbers(store.db)
    check = VoidProcessor(store).run(request("PE-G1:101", reissue=True))
    eft = VoidProcessor(store).run(request("PE-G1:107", reissue=True,
                                           reason=VoidReason.RETURNED))
    again = VoidProcessor(store).run(request("PE-G1:107:R1", reissue=True,
                                             reason=VoidReason.STALE))
    assert (check.reissue_id, check.number) == ("PE-G1:101:R1", "500122")
    assert (eft.reissue_id, eft.number, again.reissue_id, again.number) == (
        "PE-G1:107:R1", "EFT000000008", "PE-G1:107:R2", "EFT000000009")
    reissued = store.db.Payments.find_one({"_id": "PE-G1:101:R1"})
    assert (reissued["amount"].to_decimal(), reissued["method"], reissued["reissue_of"],
            reissued["issue_date"]) == (Decimal("97.82"), "CHECK", "PE-G1:101",
                                        datetime(2026, 12, 1))
    all_numbers = numbers(store.db)
    assert len(all_numbers) == len(set(all_numbers)) == len(before) + 3
    assert store.db.Sequences.find_one({"_id": "check:FS-G"})["next"] == 500123
    assert store.db.OverUnder.count_documents({"reason": {"$regex": "^VOID"}}) == 0


def test_refusals(paid: Collections) -> None:
    store = memory_store(paid)
    with pytest.raises(ConfigurationError, match="is not a disbursement of PE-G1"):
        VoidProcessor(store).run(request("PE-G1:999"))
    with pytest.raises(StageError, match="no interrupted void"):
        VoidProcessor(store).run(request("PE-G1:101", resume=True))
    fresh = memory_store()
    with pytest.raises(StageError, match="only a disbursement of a FINAL event") as early:
        VoidProcessor(fresh).run(request("PE-G1:101"))
    assert early.value.exit_code == 3
    assert "ControlAction" not in fresh.db.list_collection_names()


def reference(paid: Collections, reissue: bool) -> Collections:
    store = memory_store(paid)
    VoidProcessor(store).run(request("PE-G1:101", reissue=reissue))
    return without_owner(db_collections(store))


def complete(store: Store, reissue: bool) -> None:
    """What the operator does after a crash: resume a started void, or void again."""
    action = store.db.ControlAction.find_one({"_id": "PE-G1:101:VOID"})
    if action is None:
        VoidProcessor(store).run(request("PE-G1:101", reissue=reissue))
    elif action["status"] == "STARTED":
        with pytest.raises(StageError, match="rerun with --resume"):
            VoidProcessor(store).run(request("PE-G1:101", reissue=reissue))
        VoidProcessor(store).run(request("PE-G1:101", reissue=reissue, resume=True))


@pytest.mark.parametrize("reissue", [False, True])
@pytest.mark.parametrize("checkpoint", [0, 1, 2])
def test_crashed_after_a_checkpoint_then_resumed(paid: Collections, reissue: bool,
                                                 checkpoint: int) -> None:
    store = memory_store(paid)
    hook, _ = crash_on_hook(checkpoint)
    with pytest.raises(Crash):
        VoidProcessor(store, hook).run(request("PE-G1:101", reissue=reissue))
    complete(store, reissue)
    assert without_owner(db_collections(store)) == reference(paid, reissue)


@pytest.mark.parametrize("reissue", [False, True])
def test_crashed_in_every_write_then_resumed(monkeypatch: pytest.MonkeyPatch,
                                             paid: Collections, reissue: bool) -> None:
    counted = memory_store(paid)
    with write_faults(monkeypatch) as counting:
        VoidProcessor(counted).run(request("PE-G1:101", reissue=reissue))
    writes = len(counting.calls)
    assert writes >= 4
    want = reference(paid, reissue)
    for index in range(writes):
        for keep in (0, None):
            store = memory_store(paid)
            with write_faults(monkeypatch, crash_at=index, keep=keep), pytest.raises(Crash):
                VoidProcessor(store).run(request("PE-G1:101", reissue=reissue))
            complete(store, reissue)
            assert without_owner(db_collections(store)) == want, (index, keep)


def test_two_voids_at_once_exactly_one_proceeds(paid: Collections,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = memory_store(paid)
    first = VoidProcessor(store)
    begin = first.controls.begin_action
    outcome: dict[str, Any] = {}

    def race(action: dict[str, Any]) -> bool:
        outcome["second"] = VoidProcessor(store).run(request("PE-G1:101", reissue=True))
        return begin(action)

    monkeypatch.setattr(first.controls, "begin_action", race)
    with pytest.raises(ConcurrencyError) as lost:
        first.run(request("PE-G1:101"))
    assert lost.value.exit_code == 3
    assert outcome["second"].kind == "REISSUE"
    assert store.db.ControlAction.count_documents({}) == 1
    assert store.db.OverUnder.count_documents({"reason": "VOID:LOST"}) == 0


def test_two_resumes_at_once_exactly_one_finishes(paid: Collections,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    store = memory_store(paid)
    hook, _ = crash_on_hook(0)
    with pytest.raises(Crash):
        VoidProcessor(store, hook).run(request("PE-G1:101"))
    first = VoidProcessor(store)
    finish = first.controls.finish_action

    def race(*args: Any) -> bool:
        VoidProcessor(store).run(request("PE-G1:101", resume=True))  # takes it over
        return finish(*args)

    monkeypatch.setattr(first.controls, "finish_action", race)
    with pytest.raises(ConcurrencyError, match="taken over by another process"):
        first.run(request("PE-G1:101", resume=True))
    assert without_owner(db_collections(store)) == reference(paid, False)


# ------------------------------------------------------------------ several cycles
def position(db: Any) -> dict[int, Decimal]:
    """Per payee: live disbursements + open UNDER - open OVER - everything the ledger owes.

    Each cycle moves what the ledger owes into disbursements or balances; a void moves a
    disbursement into an UNDER balance, a reissue into a new disbursement. So this is
    constant across cycles, voids and reissues exactly when nothing is paid twice or lost.
    """
    result: dict[int, Decimal] = defaultdict(Decimal)
    for payment in db.Payments.find({"void": {"$exists": False}}):
        result[payment["PaymentCenter_ID"]] += payment["amount"].to_decimal()
    for record in db.OverUnder.find({"status": "OPEN"}):
        sign = 1 if record["type"] == "UNDER" else -1
        result[record["PaymentCenter_ID"]] += sign * record["remaining"].to_decimal()
    for entry in db.ClaimFinCore.find():
        result[entry["PaymentCenter_ID"]] -= (entry["benefit_amount"].to_decimal()
                                              + entry["interest_amount"].to_decimal())
    return {payee: amount for payee, amount in result.items() if amount}


def pay(store: Store, event_id: str) -> None:
    assert processor(store, batch_size=1000).run_dry_run(event_id).exit_code == 0
    approve_latest(store.db, event_id)
    assert processor(store, batch_size=1000).run_final_run(event_id).status == "SUCCEEDED"


def test_money_is_conserved_across_cycles_voids_and_reissues() -> None:
    client = mongomock_ng.MongoClient()
    store = Store("mongomock://", client.payments, client)
    events = generate(store.db, SyntheticOptions(claims=600, payees=12, cycles=3,
                                                 seed=19)).event_ids
    start = position(store.db)
    pay(store, events[0])
    assert position(store.db) == start
    # the payees cycle 2 pays, and what cycle 1 paid them
    assert processor(store, batch_size=1000).run_dry_run(events[1]).exit_code == 0
    approve_latest(store.db, events[1])
    again = {e["PaymentCenter_ID"] for e in store.db.PaymentEstimate.find(
        {"PaymentEvent_ID": events[1]}) if e["disbursed"].to_decimal() > 0}
    first_paid = sorted((p for p in store.db.Payments.find({"PaymentEvent_ID": events[0]})
                         if p["PaymentCenter_ID"] in again), key=lambda p: p["_id"])
    assert len(first_paid) >= 2
    voided, reissued = first_paid[0], first_paid[1]
    request_of = {"payment_event_id": events[0], "by": "clerk"}
    VoidProcessor(store).run(VoidRequest(**request_of, payment_id=voided["_id"],
                                         reason=VoidReason.STOPPED))
    VoidProcessor(store).run(VoidRequest(**request_of, payment_id=reissued["_id"],
                                         reason=VoidReason.LOST, reissue=True))
    assert position(store.db) == start
    with pytest.raises(StageError, match="changed since its last dry run"):
        processor(store, batch_size=1000).run_final_run(events[1])  # the void is an input
    pay(store, events[1])
    pay(store, events[2])
    assert position(store.db) == start
    under_id = f"{voided['_id']}:VOID"
    under = store.db.OverUnder.find_one({"_id": under_id})
    assert under["status"] == "CLOSED" and len(under["applications"]) == 1
    assert under["applications"][0]["event_id"] == events[1]
    settlement = store.db.PaymentSettlement.find_one(
        {"_id": f"{events[1]}:{voided['PaymentCenter_ID']}"})
    assert {c["ou_id"]: c["amount"] for c in settlement["under_consumed"]}[under_id] == \
        voided["amount"]
    all_numbers = numbers(store.db)
    assert len(all_numbers) == len(set(all_numbers))
    live = [p for p in store.db.Payments.find({"void": {"$exists": False}})
            if p["PaymentCenter_ID"] == reissued["PaymentCenter_ID"]
            and p["PaymentEvent_ID"] == events[0]]
    assert [(p["_id"], p["amount"]) for p in live] == [(f"{reissued['_id']}:R1",
                                                        reissued["amount"])]


# ------------------------------------------------------------------ the command line
def embedded_paid(tmp_path: Path) -> str:
    path = tmp_path / "store"
    shutil.copytree(GOLDEN_STORE, path)
    uri = f"mongomock://{path}"
    assert run_cli("-p", EVENT, "-m", "dry-run", "--db-uri", uri).returncode == 0
    approve_latest_cli(uri, EVENT)
    assert run_cli("-p", EVENT, "-m", "final", "--db-uri", uri).returncode == 0
    return uri


VOID_101 = ("void", "-p", EVENT, "--payment-id", "PE-G1:101", "--reason", "LOST", "--by",
            "clerk", "--reissue")


@pytest.mark.parametrize("checkpoint", ["begin", "writes", "finished"])
def test_void_killed_with_sigkill_then_resumed(tmp_path: Path, checkpoint: str) -> None:
    uri = embedded_paid(tmp_path)
    path = Path(uri.removeprefix("mongomock://"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    killed = subprocess.run([sys.executable, "-m", "tests.integration.void_crash_driver",
                             checkpoint, *VOID_101, "--db-uri", uri], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [action] = read_store(path)["ControlAction"]
    if checkpoint == "finished":
        assert action["status"] == "DONE"
        again = controls_cli(*VOID_101, "--db-uri", uri)
        assert again.returncode == 3 and "already voided" in again.stderr
    else:
        assert action["status"] == "STARTED"
        plain = controls_cli(*VOID_101, "--db-uri", uri)
        assert plain.returncode == 3 and "rerun with --resume" in plain.stderr
        resumed = controls_cli(*VOID_101, "--resume", "--db-uri", uri)
        assert resumed.returncode == 0, resumed.stderr
        assert "reissued it as PE-G1:101:R1 number 500122" in resumed.stdout
    store = read_store(path)
    assert [a["status"] for a in store["ControlAction"]] == ["DONE"]
    reissues = [p for p in store["Payments"] if p.get("reissue_of") == "PE-G1:101"]
    assert [(p["_id"], p["number"]) for p in reissues] == [("PE-G1:101:R1", 500122)]
    assert next(s for s in store["Sequences"] if s["_id"] == "check:FS-G")["next"] == 500123


def test_void_through_the_command_line(tmp_path: Path) -> None:
    uri = embedded_paid(tmp_path)
    voided = controls_cli("void", "-p", EVENT, "--payment-id", "PE-G1:107", "--reason",
                          "RETURNED", "--db-uri", uri)
    assert voided.returncode == 0, voided.stderr
    assert voided.stdout.strip() == ("voided PE-G1:107 (RETURNED, 50.00): UNDER record "
                                     "PE-G1:107:VOID is paid in the payee's next cycle")
    twice = controls_cli("void", "-p", EVENT, "--payment-id", "PE-G1:107", "--reason",
                         "LOST", "--db-uri", uri)
    assert twice.returncode == 3 and twice.stderr.count("\n") == 1
    bad_reason = controls_cli("void", "-p", EVENT, "--payment-id", "PE-G1:101", "--reason",
                              "BORED", "--db-uri", uri)
    assert bad_reason.returncode == 2 and "BORED" in bad_reason.stderr
    history = controls_cli("history", "-p", EVENT, "--kind", "VOID", "--json", "--db-uri", uri)
    [entry] = json.loads(history.stdout)
    assert (entry["id"], entry["status"], entry["disbursed"]) == (
        "PE-G1:107:VOID", "DONE RETURNED", "50.00")


def test_a_reissue_gets_its_own_835(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store"
    shutil.copytree(GOLDEN_STORE, path)
    add_payer(path)
    uri = f"mongomock://{path}"
    out = tmp_path / "835"
    assert run_cli("-p", EVENT, "-m", "dry-run", "--db-uri", uri).returncode == 0
    approve_latest_cli(uri, EVENT)
    final = run_cli("-p", EVENT, "-m", "final", "--db-uri", uri, "--remittance-dir", str(out))
    assert final.returncode == 0, final.stderr
    before = {f.name: f.read_bytes() for f in out.glob("*.835")}
    reissued = controls_cli("void", "-p", EVENT, "--payment-id", "PE-G1:101", "--reason",
                            "LOST", "--reissue", "--remittance-dir", str(out), "--db-uri", uri)
    assert reissued.returncode == 0, reissued.stderr
    after = {f.name: f.read_bytes() for f in out.glob("*.835")}
    assert {name: data for name, data in after.items() if name in before} == before
    assert set(after) - set(before) == {"PE-G1_101_R1.835"}
    new = (out / "PE-G1_101_R1.835").read_text()
    old = (out / "PE-G1_101.835").read_text()
    assert "TRN*1*500122*" in new and "TRN*1*500120*" in old
    assert bpr02(new) == bpr02(old) == Decimal("97.82")
    payment = next(p for p in read_store(path)["Payments"] if p["_id"] == "PE-G1:101:R1")
    assert f"*{payment['issue_date']:%Y%m%d}~" in new  # BPR16: the reissue's date
    assert_valid(out / "PE-G1_101_R1.835", monkeypatch)
    records = {r["_id"]: r for r in read_store(path)["RemittanceFile"]}
    assert records["PE-G1:101:R1"]["control_number"] not in {
        r["control_number"] for key, r in records.items() if key != "PE-G1:101:R1"}
    rerun = subprocess.run(
        [sys.executable, "-m", "PaymentProcess.remittance", "-p", EVENT, "--db-uri", uri,
         "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert {f.name: f.read_bytes() for f in out.glob("*.835")} == after
