"""Spec section 14, approval: a final run pays only the latest dry run a named approver
approved with the fingerprint it approved; approvals happen exactly once; refusals carry
the exit codes of spec section 11 and change nothing."""

from __future__ import annotations

import getpass
import shutil
from pathlib import Path

import pytest

from PaymentProcess.controls.approval import ApprovalPolicy, approve
from PaymentProcess.data.repositories.control_repository import ControlRepository
from PaymentProcess.utils.error_handling import (
    ConcurrencyError,
    ConfigurationError,
    CriticalValidationError,
    StageError,
)
from tests.approval_support import approve_latest, controls_cli, latest_dry_run_id
from tests.conftest import GOLDEN_STORE, read_store, run_cli
from tests.integration.resume_support import (
    EVENT,
    Crash,
    db_collections,
    memory_store,
    processor,
    stage,
    write_faults,
)


def dry_run_store():
    store = memory_store()
    dry = processor(store).run_dry_run(EVENT)
    assert dry.exit_code == 0
    return store, dry.run_id


def test_a_final_run_without_approval_is_refused_and_writes_nothing() -> None:
    store, run_id = dry_run_store()
    before = db_collections(store)
    with pytest.raises(StageError) as refused:
        processor(store).run_final_run(EVENT)
    assert refused.value.exit_code == 3
    assert str(refused.value).startswith(f"the latest dry run {run_id} of {EVENT} is not approved")
    assert db_collections(store) == before


def test_the_approval_is_recorded_and_the_final_run_pays() -> None:
    store, run_id = dry_run_store()
    dry_run = store.db.PaymentEvent.find_one({"_id": EVENT})["dry_run"]
    approval = approve_latest(store.db, EVENT, approver="alice")
    event = store.db.PaymentEvent.find_one({"_id": EVENT})
    assert event["approval"] == approval and event["approvals"] == [approval]
    assert (approval["run_id"], approval["fingerprint"], approval["approver"]) == (
        run_id, dry_run["fingerprint"], "alice")
    assert approval["approved_at"] is not None
    final = processor(store).run_final_run(EVENT)
    assert final.status == "SUCCEEDED" and stage(store) == "FINAL"


def test_who_ran_each_run_is_recorded() -> None:
    store, run_id = dry_run_store()
    user = store.db.PaymentEventStats.find_one({"_id": run_id})["run_by"]
    assert user == getpass.getuser()
    assert store.db.PaymentEvent.find_one({"_id": EVENT})["dry_run"]["run_by"] == user


def test_a_newer_dry_run_needs_a_new_approval() -> None:
    store, first = dry_run_store()
    approve_latest(store.db, EVENT)
    second = processor(store).run_dry_run(EVENT).run_id
    with pytest.raises(StageError) as refused:
        processor(store).run_final_run(EVENT)
    assert refused.value.exit_code == 3
    assert f"a newer dry run {second}" in str(refused.value)
    assert f"replaced the approved dry run {first}" in str(refused.value)
    with pytest.raises(StageError, match="replaced by a newer dry run"):
        approve(ControlRepository(store.db), EVENT, first, "checker", ApprovalPolicy())
    approve_latest(store.db, EVENT)
    assert processor(store).run_final_run(EVENT).status == "SUCCEEDED"
    assert [a["run_id"] for a in store.db.PaymentEvent.find_one({"_id": EVENT})["approvals"]] \
        == [first, second]


def test_inputs_changed_after_the_approval_refuse_the_final_run() -> None:
    store, _ = dry_run_store()
    approve_latest(store.db, EVENT)
    store.db.ClaimWSCore.update_one({"_id": "C1001"}, {"$set": {"patient_control_number": "X"}})
    before = db_collections(store)
    with pytest.raises(StageError, match="changed since its last dry run") as refused:
        processor(store).run_final_run(EVENT)
    assert refused.value.exit_code == 3
    assert db_collections(store) == before


def test_a_dry_run_with_critical_findings_cannot_be_approved() -> None:
    store = memory_store()
    dry = processor(store).run_dry_run("PE-G2")
    assert dry.exit_code == 1
    before = db_collections(store)
    with pytest.raises(CriticalValidationError, match="critical findings") as refused:
        approve(ControlRepository(store.db), "PE-G2", dry.run_id, "checker", ApprovalPolicy())
    assert refused.value.exit_code == 1
    assert db_collections(store) == before


def test_refusals() -> None:
    store, run_id = dry_run_store()
    repository = ControlRepository(store.db)
    with pytest.raises(ConfigurationError, match="unknown payment event"):
        approve(repository, "PE-NOPE", run_id, "checker", ApprovalPolicy())
    with pytest.raises(ConfigurationError, match="is not a dry run of"):
        approve(repository, EVENT, "PE-G1:DRY_RUN:nope", "checker", ApprovalPolicy())
    with pytest.raises(ConfigurationError, match="approver must be"):
        approve(repository, EVENT, run_id, " \x1b ", ApprovalPolicy())
    approve(repository, EVENT, run_id, "alice", ApprovalPolicy())
    with pytest.raises(StageError, match="already approved by alice") as twice:
        approve(repository, EVENT, run_id, "bob", ApprovalPolicy())
    assert twice.value.exit_code == 3
    assert len(store.db.PaymentEvent.find_one({"_id": EVENT})["approvals"]) == 1
    processor(store).run_final_run(EVENT)
    with pytest.raises(StageError, match="is FINAL"):
        approve(repository, EVENT, run_id, "bob", ApprovalPolicy())


def test_the_approver_may_be_required_to_differ_from_who_ran_the_dry_run() -> None:
    store, run_id = dry_run_store()
    repository = ControlRepository(store.db)
    strict = ApprovalPolicy(require_distinct=True)
    with pytest.raises(StageError, match="may not approve it") as refused:
        approve(repository, EVENT, run_id, getpass.getuser(), strict)
    assert refused.value.exit_code == 3
    assert "approval" not in store.db.PaymentEvent.find_one({"_id": EVENT})
    store.db.PaymentEvent.update_one({"_id": EVENT}, {"$unset": {"dry_run.run_by": ""}})
    with pytest.raises(StageError, match="who ran dry run .* is not recorded"):
        approve(repository, EVENT, run_id, "someone-else", strict)
    assert approve(repository, EVENT, run_id, "someone-else", ApprovalPolicy())["approver"] \
        == "someone-else"


def test_two_approvals_at_once_exactly_one_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    store, run_id = dry_run_store()
    first = ControlRepository(store.db)
    conditional_update = first.approve
    won: list[dict] = []

    def race(payment_event_id: str, approval: dict) -> bool:
        # the other approver passes the same checks and writes first
        won.append(approve(ControlRepository(store.db), EVENT, run_id, "bob", ApprovalPolicy()))
        return conditional_update(payment_event_id, approval)

    monkeypatch.setattr(first, "approve", race)
    with pytest.raises(ConcurrencyError, match="approved at the same time by bob") as lost:
        approve(first, EVENT, run_id, "alice", ApprovalPolicy())
    assert lost.value.exit_code == 3
    event = store.db.PaymentEvent.find_one({"_id": EVENT})
    assert event["approvals"] == won and event["approval"]["approver"] == "bob"


@pytest.mark.parametrize("keep", [0, None])
def test_an_approval_that_crashed_is_all_or_nothing(monkeypatch: pytest.MonkeyPatch,
                                                    keep: int | None) -> None:
    store, run_id = dry_run_store()
    with write_faults(monkeypatch, crash_at=0, keep=keep), pytest.raises(Crash):
        approve(ControlRepository(store.db), EVENT, run_id, "alice", ApprovalPolicy())
    event = store.db.PaymentEvent.find_one({"_id": EVENT})
    if keep == 0:  # died before the update: nothing recorded, approving again works
        assert "approval" not in event and "approvals" not in event
        approve_latest(store.db, EVENT, "alice")
    else:  # died after it: recorded once, a second approval is refused
        assert len(event["approvals"]) == 1
        with pytest.raises(StageError, match="already approved"):
            approve_latest(store.db, EVENT, "alice")
    assert processor(store).run_final_run(EVENT).status == "SUCCEEDED"


# ------------------------------------------------------------------ the command line
def test_approve_through_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "store"
    shutil.copytree(GOLDEN_STORE, path)
    uri = f"mongomock://{path}"
    assert run_cli("-p", EVENT, "-m", "dry-run", "--db-uri", uri).returncode == 0
    final = run_cli("-p", EVENT, "-m", "final", "--db-uri", uri)
    assert final.returncode == 3 and "is not approved" in final.stderr
    run_id = latest_dry_run_id(path, EVENT)

    strict = controls_cli("approve", "-p", EVENT, "--run-id", run_id, "--db-uri", uri,
                          env={"PAYMENT_REQUIRE_DISTINCT_APPROVER": "true"})
    assert strict.returncode == 3 and "may not approve it" in strict.stderr
    assert strict.stderr.count("\n") == 1 and "Traceback" not in strict.stderr
    config = tmp_path / "payment_config.yml"
    config.write_text("workers: 2\nrequire_distinct_approver: true\n")
    from_file = controls_cli("approve", "-p", EVENT, "--run-id", run_id, "--db-uri", uri,
                             "--config-path", str(config))
    assert from_file.returncode == 3 and "may not approve it" in from_file.stderr
    config.write_text("require_distinct_approvers: true\n")
    typo = controls_cli("approve", "-p", EVENT, "--run-id", run_id, "--db-uri", uri,
                        "--config-path", str(config))
    assert typo.returncode == 2 and "unknown keys require_distinct_approvers" in typo.stderr
    unknown = controls_cli("approve", "-p", EVENT, "--run-id", "nope", "--db-uri", uri)
    assert unknown.returncode == 2 and "'nope' is not a dry run of PE-G1" in unknown.stderr
    usage = controls_cli("approve", "-p", EVENT, "--db-uri", uri)
    assert usage.returncode == 2 and "--run-id" in usage.stderr

    approved = controls_cli("approve", "-p", EVENT, "--run-id", run_id, "--db-uri", uri)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.startswith(f"approved dry run {run_id} of {EVENT} by "
                                      f"{getpass.getuser()} at ")
    event = next(d for d in read_store(path)["PaymentEvent"] if d["_id"] == EVENT)
    assert event["approval"]["approver"] == getpass.getuser()
    again = controls_cli("approve", "-p", EVENT, "--run-id", run_id, "--db-uri", uri)
    assert again.returncode == 3 and "already approved" in again.stderr
    assert run_cli("-p", EVENT, "-m", "final", "--db-uri", uri).returncode == 0
