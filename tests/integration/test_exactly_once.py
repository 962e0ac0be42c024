"""Spec section 9 on the golden cycle: a final run crashed anywhere, then resumed, ends in the
state an uninterrupted run produces; refusals; concurrent final runs.

Two kinds of store, because they fail differently:

- a plain in-memory mongomock database behaves like MongoDB: whatever was written before
  the crash stays, including part of a bulk write;
- the embedded store (``mongomock://DIR``) rolls back to its last checkpoint, because only
  checkpoints reach the directory.

Crashes are injected deterministically, after each checkpoint of the run
(``RunSettings.checkpoint_hook``) and after or inside each write operation
(:class:`~tests.integration.resume_support.WriteFaults`).
"""

from __future__ import annotations

import contextlib
import copy
from collections import Counter
from pathlib import Path

import pytest

from PaymentProcess.data.repositories.claim_repository import ClaimRepository
from PaymentProcess.utils.error_handling import ConcurrencyError, StageError
from tests.approval_support import approve_latest
from tests.conftest import read_store
from tests.integration.resume_support import (
    EVENT,
    Collections,
    Crash,
    assert_same_store,
    crash_on_hook,
    db_collections,
    embedded_store,
    golden_documents,
    memory_store,
    processor,
    stage,
    write_faults,
)

# The checkpoints of the golden final run with batch size 3 (four pass-2 batches).
CHECKPOINTS = ["begin", "backup", "payees", "numbers", "batch", "batch", "batch", "batch",
               "ledger", "settlement", "finished"]


def after_dry_run(documents: Collections | None = None) -> Collections:
    """The store's documents after a dry run of PE-G1 (the starting point of a final run)."""
    store = memory_store(documents)
    assert processor(store).run_dry_run(EVENT).exit_code == 0
    approve_latest(store.db, EVENT)
    return db_collections(store)


def uninterrupted(documents: Collections) -> Collections:
    """The store after an uninterrupted final run from ``documents``."""
    store = memory_store(documents)
    assert processor(store).run_final_run(EVENT).status == "SUCCEEDED"
    return db_collections(store)


def without_sequences(documents: Collections) -> Collections:
    """The golden documents with no Sequences: every sequence starts from its floor."""
    return {k: v for k, v in documents.items() if k != "Sequences"}


@pytest.fixture(scope="module")
def start() -> Collections:
    return after_dry_run()


@pytest.fixture(scope="module")
def reference(start: Collections) -> Collections:
    return uninterrupted(start)


def complete(store, **settings) -> None:
    """What the operator does after a crash (docs/operations.md), checking the refusals.

    FINAL_RUNNING: a plain final run is refused (exit 3, asks for --resume) and changes
    nothing; --resume finishes. DRY_RUN: nothing was written; the final run is run again.
    """
    if stage(store) == "FINAL_RUNNING":
        before = db_collections(store)
        with pytest.raises(StageError, match="--resume") as refused:
            processor(store, **settings).run_final_run(EVENT)
        assert refused.value.exit_code == 3
        assert db_collections(store) == before
        stats = processor(store, resume=True, **settings).run_final_run(EVENT)
    else:
        assert stage(store) in ("DRY_RUN", "FINAL")
        if stage(store) == "FINAL":
            return
        stats = processor(store, **settings).run_final_run(EVENT)
    assert stats.status == "SUCCEEDED" and stats.exit_code == 0
    assert stage(store) == "FINAL"


def test_the_checkpoints_of_a_final_run(start: Collections) -> None:
    store = memory_store(start)
    seen: list[str] = []
    processor(store, hook=seen.append).run_final_run(EVENT)
    assert seen == CHECKPOINTS


# ---------------------------------------------------------------------------- in memory
@pytest.mark.parametrize("crash_at", range(len(CHECKPOINTS)),
                         ids=[f"{i}-{n}" for i, n in enumerate(CHECKPOINTS)])
def test_crash_after_each_checkpoint_then_resume(start: Collections, reference: Collections,
                                                 crash_at: int) -> None:
    store = memory_store(start)
    hook, seen = crash_on_hook(crash_at)
    with pytest.raises(Crash):
        processor(store, hook=hook).run_final_run(EVENT)
    assert seen[-1] == CHECKPOINTS[crash_at]
    complete(store)
    assert_same_store(db_collections(store), reference)


@pytest.mark.parametrize("variant", ["golden", "no-sequences"])
def test_crash_in_or_after_every_write_then_resume(monkeypatch: pytest.MonkeyPatch,
                                                   variant: str) -> None:
    """Every write of the final run in turn: crash after it, and inside it after part of it."""
    begin = after_dry_run(None if variant == "golden" else without_sequences(golden_documents()))
    want = uninterrupted(begin)
    counting = memory_store(begin)
    with write_faults(monkeypatch) as counted:
        processor(counting).run_final_run(EVENT)
    assert len(counted.calls) > 20
    points = [(0, 0)]  # before the first write; after the others is "keep None"
    for index, (_, _, size) in enumerate(counted.calls):
        points.append((index, None))
        if variant == "golden":  # inside each bulk write: only its first `keep` operations
            points += [(index, keep) for keep in range(1, size)]
    failures = []
    for index, keep in points:
        store = memory_store(begin)
        with write_faults(monkeypatch, crash_at=index, keep=keep), pytest.raises(Crash):
            processor(store).run_final_run(EVENT)
        try:
            complete(store)
            assert_same_store(db_collections(store), want)
        except (AssertionError, Exception) as exc:  # collect every failing point
            failures.append((index, counted.calls[index], keep, f"{type(exc).__name__}: {exc}"))
    assert not failures, "\n".join(map(str, failures))


@pytest.mark.parametrize("first", [3, 12, 20])
def test_a_resumed_run_that_crashes_again_is_resumed(monkeypatch: pytest.MonkeyPatch,
                                                     start: Collections, reference: Collections,
                                                     first: int) -> None:
    """Crash, resume and crash the resume at every write in turn, resume again."""
    failures = []
    for second in range(0, 32, 3):
        store = memory_store(start)
        with write_faults(monkeypatch, crash_at=first, keep=1), pytest.raises(Crash):
            processor(store).run_final_run(EVENT)
        if stage(store) != "FINAL":
            resumed = stage(store) == "FINAL_RUNNING"
            with write_faults(monkeypatch, crash_at=second, keep=1) as faults, \
                    contextlib.suppress(Crash):
                processor(store, resume=resumed).run_final_run(EVENT)
            assert faults.calls
        try:
            complete(store)
            assert_same_store(db_collections(store), reference)
        except (AssertionError, Exception) as exc:
            failures.append((second, f"{type(exc).__name__}: {exc}"))
    assert not failures, "\n".join(map(str, failures))


def test_resume_with_more_workers_and_another_batch_size(start: Collections,
                                                         reference: Collections) -> None:
    """The resumed run need not use the crashed run's --workers and --batch-size."""
    store = memory_store(start)
    hook, _ = crash_on_hook(CHECKPOINTS.index("batch") + 1)
    with pytest.raises(Crash):
        processor(store, hook=hook, batch_size=3).run_final_run(EVENT)
    complete(store, workers=2, batch_size=1)
    assert_same_store(db_collections(store), reference)


# ---------------------------------------------------------------------------- refusals
def test_a_final_event_is_refused_and_nothing_changes(start: Collections) -> None:
    store = memory_store(start)
    processor(store).run_final_run(EVENT)
    before = db_collections(store)
    for resume in (False, True):
        with pytest.raises(StageError, match="already FINAL") as refused:
            processor(store, resume=resume).run_final_run(EVENT)
        assert refused.value.exit_code == 3
        assert db_collections(store) == before


def test_a_dry_run_is_refused_once_the_final_run_began(start: Collections) -> None:
    store = memory_store(start)
    hook, _ = crash_on_hook(0)
    with pytest.raises(Crash):
        processor(store, hook=hook).run_final_run(EVENT)
    before = db_collections(store)
    with pytest.raises(StageError) as refused:
        processor(store).run_dry_run(EVENT)
    assert refused.value.exit_code == 3
    assert db_collections(store) == before


def test_resume_refuses_when_the_claims_changed_after_the_crash(start: Collections) -> None:
    store = memory_store(start)
    hook, _ = crash_on_hook(CHECKPOINTS.index("numbers"))
    with pytest.raises(Crash):
        processor(store, hook=hook).run_final_run(EVENT)
    store.db.ClaimWSCore.update_one({"_id": "C1001"}, {"$set": {"patient_control_number": "X"}})
    before = db_collections(store)
    with pytest.raises(StageError, match="changed") as refused:
        processor(store, resume=True).run_final_run(EVENT)
    assert refused.value.exit_code == 3
    assert {k: v for k, v in db_collections(store).items() if k != "PaymentEvent"} == {
        k: v for k, v in before.items() if k != "PaymentEvent"}


# ---------------------------------------------------------------------------- concurrency
def test_two_final_runs_at_once_exactly_one_proceeds(monkeypatch: pytest.MonkeyPatch,
                                                    start: Collections,
                                                    reference: Collections) -> None:
    """Both pass admission and compute; the second to begin loses and writes nothing."""
    store = memory_store(start)
    first = processor(store)
    begin = first.repos.events.begin_final
    outcome: dict[str, object] = {}

    def race(*args, **kwargs):
        # ``second`` was admitted as well and reaches its own begin while ``first`` is
        # at the same point: it writes its begin first.
        def second_begins(name: str) -> None:
            if name == "begin":
                outcome["second_began"] = True
        outcome["second"] = processor(store, hook=second_begins).run_final_run(EVENT)
        return begin(*args, **kwargs)

    monkeypatch.setattr(first.repos.events, "begin_final", race)
    with pytest.raises(ConcurrencyError) as lost:
        first.run_final_run(EVENT)
    assert lost.value.exit_code == 3
    assert outcome["second_began"] and outcome["second"].status == "SUCCEEDED"
    assert_same_store(db_collections(store), reference)


def test_a_final_run_admitted_while_another_pays_reads_changed_inputs_and_says_so(
        monkeypatch: pytest.MonkeyPatch, start: Collections, reference: Collections) -> None:
    """Admitted at DRY_RUN, it reads the payees and O/U records after the other run wrote
    them: its fingerprint differs, and the refusal names the other run, not an edit."""
    store = memory_store(start)
    late = processor(store)
    analyze = late.analyze

    def other_run_pays_first(*args, **kwargs):
        assert processor(store).run_final_run(EVENT).status == "SUCCEEDED"
        return analyze(*args, **kwargs)

    monkeypatch.setattr(late, "analyze", other_run_pays_first)
    with pytest.raises(ConcurrencyError) as lost:
        late.run_final_run(EVENT)
    assert str(lost.value) == (f"payment event {EVENT} is being paid by another run, or its "
                               "dry run changed: nothing was written")
    assert_same_store(db_collections(store), reference)


def test_a_second_final_run_while_one_is_running_is_refused(start: Collections,
                                                            reference: Collections) -> None:
    store = memory_store(start)
    refusals = []

    def second_run(name: str) -> None:
        if name in ("begin", "ledger"):
            before = db_collections(store)
            with pytest.raises(StageError) as refused:
                processor(store).run_final_run(EVENT)
            assert db_collections(store) == before
            refusals.append(refused.value.exit_code)

    processor(store, hook=second_run).run_final_run(EVENT)
    assert refusals == [3, 3]
    assert_same_store(db_collections(store), reference)


def test_a_resume_racing_a_live_run_still_pays_once(start: Collections,
                                                    reference: Collections) -> None:
    """An operator resumes while the run is in fact alive: the resume takes the event over,
    the old run is refused at its end, and every write (both runs') landed once."""
    store = memory_store(start)
    outcome = {}

    def resume_now(name: str) -> None:
        if name == "numbers" and "resumed" not in outcome:
            outcome["resumed"] = processor(store, resume=True).run_final_run(EVENT)

    with pytest.raises(ConcurrencyError):
        processor(store, hook=resume_now).run_final_run(EVENT)
    assert outcome["resumed"].status == "SUCCEEDED"
    assert_same_store(db_collections(store), reference)


# ---------------------------------------------------------------------------- embedded
def embedded_start(tmp_path: Path, documents: Collections) -> Path:
    """A directory store holding ``documents``."""
    path = tmp_path / "store"
    store = embedded_store(path)
    for name, docs in documents.items():
        if docs:
            store.db[name].insert_many(copy.deepcopy(docs))
    store.checkpoint()
    store.close()
    return path


def files(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(path.glob("*.jsonl"))}


@pytest.mark.parametrize("crash_at", range(len(CHECKPOINTS)),
                         ids=[f"{i}-{n}" for i, n in enumerate(CHECKPOINTS)])
def test_embedded_store_crash_after_each_checkpoint(tmp_path: Path, start: Collections,
                                                    reference: Collections,
                                                    crash_at: int) -> None:
    """The directory holds the last checkpoint; reopened and resumed, it ends as uninterrupted."""
    path = embedded_start(tmp_path, start)
    store = embedded_store(path)
    hook, _ = crash_on_hook(crash_at)
    with pytest.raises(Crash):
        processor(store, hook=hook).run_final_run(EVENT)
    store.close()  # the process dies: nothing after the last checkpoint reaches the files
    store = embedded_store(path)
    try:
        complete(store)
    finally:
        store.close()
    assert_same_store(read_store(path), reference)


@pytest.mark.parametrize("crash_at", [CHECKPOINTS.index("batch") + 1, CHECKPOINTS.index("ledger")])
def test_embedded_store_resumed_with_workers_reading_its_listing(
        tmp_path: Path, start: Collections, reference: Collections, crash_at: int) -> None:
    """A resumed run's pass 1 lists the claims this event marked paid too, and its
    workers (forked once, a part of the listing each) end as one uninterrupted run."""
    path = embedded_start(tmp_path, start)
    store = embedded_store(path)
    with pytest.raises(Crash):
        processor(store, hook=crash_on_hook(crash_at)[0]).run_final_run(EVENT)
    store.close()
    store = embedded_store(path)
    try:
        complete(store, workers=3, batch_size=1)
    finally:
        store.close()
    assert_same_store(read_store(path), reference)


def test_embedded_store_pass_two_counts_the_claims_again_only_once_some_are_marked(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, start: Collections,
        reference: Collections) -> None:
    """Pass 2 keeps pass 1's duplicated ClaimCore_IDs on the embedded store while no claim
    is marked paid by the event; a resumed run finding claims marked counts them again.
    (Pass 1 counts the claims it lists on this store, without a count of its own.)"""
    passes: list[bool] = []  # the ``resuming`` of each count of the claims by pass 2
    counts = ClaimRepository.claim_id_counts
    monkeypatch.setattr(ClaimRepository, "claim_id_counts",
                        lambda repository, event, resuming=False:
                        passes.append(resuming) or counts(repository, event, resuming))
    path = embedded_start(tmp_path, start)
    assert max(Counter(c["ClaimCore_ID"] for c in start["ClaimWSCore"]).values()) > 1
    store = embedded_store(path)
    with pytest.raises(Crash):
        processor(store, hook=crash_on_hook(CHECKPOINTS.index("ledger"))[0]).run_final_run(EVENT)
    store.close()
    assert passes == []  # pass 2 kept pass 1's
    store = embedded_store(path)
    try:
        assert processor(store, resume=True).run_final_run(EVENT).status == "SUCCEEDED"
    finally:
        store.close()
    assert passes == [True]  # pass 2, once claims are marked
    assert_same_store(read_store(path), reference)


def test_embedded_store_crash_inside_every_write(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path, start: Collections,
                                                 reference: Collections) -> None:
    """Inside a bulk write the embedded store loses everything since its last checkpoint."""
    counting = memory_store(start)
    with write_faults(monkeypatch) as counted:
        processor(counting).run_final_run(EVENT)
    failures, tried = [], set()
    for index, (method, name, size) in enumerate(counted.calls):
        # one bulk write of each kind: a crash anywhere between two checkpoints is the same
        # to this store, which keeps only checkpoints
        if size < 2 or (method, name) in tried:
            continue
        tried.add((method, name))
        root = tmp_path / str(index)
        path = embedded_start(root, start)
        store = embedded_store(path)
        with write_faults(monkeypatch, crash_at=index, keep=size // 2), pytest.raises(Crash):
            processor(store).run_final_run(EVENT)
        store.close()
        store = embedded_store(path)
        try:
            complete(store)
            store.close()
            assert_same_store(read_store(path), reference)
        except (AssertionError, Exception) as exc:
            failures.append((index, counted.calls[index], f"{type(exc).__name__}: {exc}"))
        finally:
            store.close()
    assert not failures, "\n".join(map(str, failures))


# ---------------------------------------------------------------------------- frozen inputs
RECORD_COLLECTIONS = ("ClaimFinCore", "PaymentInfo", "Payments", "PaymentSettlement",
                      "PaymentCenter", "OverUnder", "Sequences", "ClaimWSCore")


def of_record(collections: Collections) -> Collections:
    return {k: v for k, v in collections.items() if k in RECORD_COLLECTIONS}


def crashed_at(start: Collections, checkpoint: str) -> object:
    store = memory_store(start)
    hook, _ = crash_on_hook(CHECKPOINTS.index(checkpoint))
    with pytest.raises(Crash):
        processor(store, hook=hook).run_final_run(EVENT)
    return store


@pytest.mark.parametrize("checkpoint", ["backup", "payees", "batch", "ledger"])
def test_payees_and_balances_changed_after_the_freeze_do_not_change_the_result(
        start: Collections, reference: Collections, checkpoint: str) -> None:
    """The resumed run computes from the frozen payees and O/U records, not the live ones."""
    store = crashed_at(start, checkpoint)
    store.db.PaymentCenter.update_one({"_id": 102}, {"$set": {"payment_method": "CHECK"}})
    store.db.PaymentCenter.update_one({"_id": 103}, {"$set": {"status": "ACTIVE"}})
    store.db.OverUnder.insert_one({**reference_record(reference, "OU-2"), "_id": "OU-late",
                                   "remaining": reference_record(start, "OU-2")["remaining"]})
    complete(store)
    got = db_collections(store)
    for payee in got["PaymentCenter"]:
        if payee["_id"] in (102, 103):  # the edits themselves stay, they just were not used
            payee.update(next(p for p in reference["PaymentCenter"] if p["_id"] == payee["_id"]))
    got["OverUnder"] = [r for r in got["OverUnder"] if r["_id"] != "OU-late"]
    assert_same_store(got, reference)


def reference_record(collections: Collections, record_id: str) -> dict:
    return dict(next(r for r in collections["OverUnder"] if r["_id"] == record_id))


@pytest.mark.parametrize("checkpoint", ["payees", "numbers", "batch", "settlement"])
def test_resume_refuses_when_the_configuration_changed(start: Collections,
                                                       reference: Collections,
                                                       checkpoint: str) -> None:
    """Interest rules, funding source, criteria and the event are inputs too."""
    store = crashed_at(start, checkpoint)
    store.db.InterestRules.update_one({}, {"$set": {"grace_days": 0}})
    before = db_collections(store)
    with pytest.raises(StageError, match="changed") as refused:
        processor(store, resume=True).run_final_run(EVENT)
    assert refused.value.exit_code == 3
    assert of_record(db_collections(store)) == of_record(before)
    assert stage(store) == "FINAL_RUNNING"
    store.db.InterestRules.replace_one({"_id": before["InterestRules"][0]["_id"]},
                                       start["InterestRules"][0])
    complete(store)
    assert_same_store(db_collections(store), reference)


def test_inputs_changed_before_the_freeze_release_the_event(start: Collections,
                                                            reference: Collections) -> None:
    """Died before its inputs were frozen, so nothing was paid; the inputs changed since:
    the resumed run cannot reproduce the run, pays nothing and gives the event back to
    DRY_RUN (exit 3), so the change goes through a dry run and its review."""
    store = crashed_at(start, "begin")
    assert store.db.PaymentEvent.find_one({"_id": EVENT})["final_run"]["backup_complete"] is False
    store.db.PaymentCenter.update_one({"_id": 103}, {"$set": {"status": "ACTIVE"}})
    before = db_collections(store)
    with pytest.raises(StageError, match="dry run") as refused:
        processor(store, resume=True).run_final_run(EVENT)
    assert refused.value.exit_code == 3
    assert of_record(db_collections(store)) == of_record(before)
    assert stage(store) == "DRY_RUN"
    with pytest.raises(StageError, match="dry run"):  # the dry run no longer matches
        processor(store).run_final_run(EVENT)
    store.db.PaymentCenter.update_one({"_id": 103}, {"$set": {"status": "HOLD"}})
    complete(store)  # put back: the reviewed dry run matches again
    assert_same_store(db_collections(store), reference)


def test_a_run_taken_over_before_its_freeze_stops(start: Collections) -> None:
    """The live run whose event was resumed (and given back) by another stops at its freeze
    and never writes anything of record."""
    store = memory_store(start)

    def operator_resumes(name: str) -> None:
        if name == "begin":
            store.db.PaymentCenter.update_one({"_id": 103}, {"$set": {"status": "ACTIVE"}})
            with pytest.raises(StageError):
                processor(store, resume=True).run_final_run(EVENT)

    with pytest.raises(ConcurrencyError):
        processor(store, hook=operator_resumes).run_final_run(EVENT)
    assert stage(store) == "DRY_RUN"
    got, want = of_record(db_collections(store)), of_record(start)
    assert len(got.pop("PaymentCenter")) == len(want.pop("PaymentCenter"))  # none created
    assert got == want
