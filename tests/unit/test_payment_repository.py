"""Number sequences allocated once per event, and replayable O/U writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import mongomock_ng
import pytest
from bson.decimal128 import Decimal128
from pymongo.database import Database

from PaymentProcess.data.repositories.payment_repository import (
    MAX_ALLOCATION_ATTEMPTS,
    PaymentRepository,
)
from PaymentProcess.utils.error_handling import SequenceNumberError

CHECKS = "check:FS-G"


@pytest.fixture
def db() -> Database:
    return mongomock_ng.MongoClient().payments


def sequence(db: Database, name: str = CHECKS) -> dict[str, Any] | None:
    return db.Sequences.find_one({"_id": name})


# --- allocate_sequence ---------------------------------------------------------------------


def test_first_allocation_without_a_document_starts_at_the_floor(db: Database) -> None:
    repository = PaymentRepository(db)
    assert repository.allocate_sequence(CHECKS, "PE-1", 3, 500000) == 500000
    assert sequence(db) == {"_id": CHECKS, "next": 500003, "allocations": [
        {"event_id": "PE-1", "start": 500000, "count": 3}]}


def test_replay_returns_the_same_block_and_does_not_advance(db: Database) -> None:
    repository = PaymentRepository(db)
    start = repository.allocate_sequence(CHECKS, "PE-1", 3, 500000)
    before = sequence(db)
    assert repository.allocate_sequence(CHECKS, "PE-1", 3, 500000) == start
    assert repository.allocate_sequence(CHECKS, "PE-1", 99, 1) == start
    assert sequence(db) == before


def test_two_events_get_consecutive_blocks(db: Database) -> None:
    repository = PaymentRepository(db)
    assert repository.allocate_sequence(CHECKS, "PE-1", 2, 500000) == 500000
    assert repository.allocate_sequence(CHECKS, "PE-2", 3, 500000) == 500002
    assert repository.allocate_sequence(CHECKS, "PE-1", 2, 500000) == 500000
    assert repository.allocate_sequence(CHECKS, "PE-3", 1, 500000) == 500005
    document = sequence(db)
    assert document is not None
    assert document["next"] == 500006
    assert [(a["event_id"], a["start"], a["count"]) for a in document["allocations"]] == [
        ("PE-1", 500000, 2), ("PE-2", 500002, 3), ("PE-3", 500005, 1)]


def test_next_below_the_floor_starts_at_the_floor(db: Database) -> None:
    db.Sequences.insert_one({"_id": CHECKS, "next": 17})
    repository = PaymentRepository(db)
    assert repository.allocate_sequence(CHECKS, "PE-1", 4, 500000) == 500000
    assert sequence(db)["next"] == 500004


def test_existing_sequence_without_allocations_continues(db: Database) -> None:
    db.Sequences.insert_many([{"_id": CHECKS, "next": 500120}, {"_id": "eft:FS-G", "next": 7},
                              {"_id": "PaymentCenter", "next": 200}])
    repository = PaymentRepository(db)
    assert repository.allocate_sequence(CHECKS, "PE-G1", 2, 500000) == 500120
    assert repository.allocate_sequence("eft:FS-G", "PE-G1", 1, 1) == 7
    assert repository.allocate_sequence("PaymentCenter", "PE-G1", 1, 108) == 200
    assert {d["_id"]: d["next"] for d in db.Sequences.find()} == {
        CHECKS: 500122, "eft:FS-G": 8, "PaymentCenter": 201}


def test_sequences_are_independent(db: Database) -> None:
    repository = PaymentRepository(db)
    assert repository.allocate_sequence("check:A", "PE-1", 2, 100) == 100
    assert repository.allocate_sequence("check:B", "PE-1", 2, 900) == 900
    assert repository.allocate_sequence("check:A", "PE-2", 1, 100) == 102


class Interleaved:
    """A Sequences collection where another run allocates just before our first update."""

    def __init__(self, real: Any, repository: PaymentRepository) -> None:
        self.real, self.repository, self.updates = real, repository, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def update_one(self, *args: Any, **kwargs: Any) -> Any:
        self.updates += 1
        if self.updates == 1:
            other = PaymentRepository(self.repository.db.real_db)
            other.allocate_sequence(CHECKS, "PE-OTHER", 5, 500000)
        return self.real.update_one(*args, **kwargs)


class Proxy:
    def __init__(self, real_db: Database, sequences: Any = None) -> None:
        self.real_db, self.sequences = real_db, sequences

    def __getitem__(self, name: str) -> Any:
        return self.sequences if name == "Sequences" else self.real_db[name]


def test_a_concurrent_allocation_is_never_overlapped(db: Database) -> None:
    db.Sequences.insert_one({"_id": CHECKS, "next": 500000})
    proxy = Proxy(db)
    repository = PaymentRepository(proxy)  # type: ignore[arg-type]
    proxy.sequences = Interleaved(db.Sequences, repository)
    assert repository.allocate_sequence(CHECKS, "PE-1", 2, 500000) == 500005
    assert proxy.sequences.updates == 2
    assert sequence(db)["next"] == 500007


def test_creation_race_falls_back_to_the_existing_document(db: Database) -> None:
    PaymentRepository(db).allocate_sequence(CHECKS, "PE-OTHER", 3, 500000)

    class MissesOnce:
        def __init__(self, real: Any) -> None:
            self.real, self.reads = real, 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        def find_one(self, *args: Any, **kwargs: Any) -> Any:
            self.reads += 1
            return None if self.reads == 1 else self.real.find_one(*args, **kwargs)

    repository = PaymentRepository(Proxy(db, MissesOnce(db.Sequences)))  # type: ignore[arg-type]
    assert repository.allocate_sequence(CHECKS, "PE-1", 2, 500000) == 500003
    assert sequence(db)["next"] == 500005


def test_endless_contention_gives_up(db: Database) -> None:
    db.Sequences.insert_one({"_id": CHECKS, "next": 500000})

    class NeverWins:
        updates = 0

        def find_one(self, *args: Any, **kwargs: Any) -> Any:
            return db.Sequences.find_one(*args, **kwargs)

        def update_one(self, *args: Any, **kwargs: Any) -> Any:
            NeverWins.updates += 1
            return type("Result", (), {"modified_count": 0})()

    repository = PaymentRepository(Proxy(db, NeverWins()))  # type: ignore[arg-type]
    with pytest.raises(SequenceNumberError, match="contention"):
        repository.allocate_sequence(CHECKS, "PE-1", 1, 500000)
    assert NeverWins.updates == MAX_ALLOCATION_ATTEMPTS
    assert sequence(db)["next"] == 500000


def test_peek_sequence(db: Database) -> None:
    repository = PaymentRepository(db)
    assert repository.peek_sequence(CHECKS) is None
    repository.allocate_sequence(CHECKS, "PE-1", 2, 500000)
    assert repository.peek_sequence(CHECKS) == 500002
    db.Sequences.insert_one({"_id": "weird", "next": "12"})
    assert repository.peek_sequence("weird") is None


# --- O/U writes ----------------------------------------------------------------------------


def over(record_id: str, remaining: str, status: str = "OPEN", payee: int = 101) -> dict:
    return {"_id": record_id, "PaymentCenter_ID": payee, "type": "OVER", "reason": "RECOUPMENT",
            "total": Decimal128(remaining), "remaining": Decimal128(remaining), "status": status,
            "created_event_id": "PE-PRIOR", "created_date": datetime(2026, 10, 1),
            "applications": [], "references": []}


def test_over_under_writes_are_replayable(db: Database) -> None:
    db.OverUnder.insert_many([over("OU-5a", "30.00", payee=105), over("OU-5b", "200.00",
                                                                      payee=105)])
    repository = PaymentRepository(db, batch_size=1)
    applications = [
        {"_id": "OU-5a", "amount": Decimal128("30.00"), "remaining": Decimal128("0.00"),
         "status": "CLOSED"},
        {"_id": "OU-5b", "amount": Decimal128("70.00"), "remaining": Decimal128("130.00"),
         "status": "OPEN"},
    ]
    new = [{**over("PE-G1:102:OVER", "17.40", payee=102), "created_event_id": "PE-G1"}]
    repository.calc_and_upsert_over_under("PE-G1", applications, new)
    after_first = list(db.OverUnder.find(sort=[("_id", 1)]))
    repository.calc_and_upsert_over_under("PE-G1", applications, new)
    assert list(db.OverUnder.find(sort=[("_id", 1)])) == after_first
    records = {d["_id"]: d for d in after_first}
    assert records["OU-5a"]["applications"] == [{"event_id": "PE-G1",
                                                 "amount": Decimal128("30.00")}]
    assert (records["OU-5a"]["remaining"], records["OU-5a"]["status"]) == (
        Decimal128("0.00"), "CLOSED")
    assert (records["OU-5b"]["remaining"], records["OU-5b"]["status"]) == (
        Decimal128("130.00"), "OPEN")
    assert records["PE-G1:102:OVER"]["remaining"] == Decimal128("17.40")
    # a later event applies again
    repository.calc_and_upsert_over_under("PE-G2", [
        {"_id": "OU-5b", "amount": Decimal128("30.00"), "remaining": Decimal128("100.00"),
         "status": "OPEN"}], [])
    assert [a["event_id"] for a in db.OverUnder.find_one({"_id": "OU-5b"})["applications"]] == [
        "PE-G1", "PE-G2"]


def test_open_over_under_of_some_payees(db: Database) -> None:
    db.OverUnder.insert_many([over("B", "1.00", payee=101), over("A", "2.00", payee=101),
                              over("C", "0.00", status="CLOSED", payee=101),
                              over("D", "3.00", payee=102), over("E", "4.00", payee=103)])
    repository = PaymentRepository(db, batch_size=1)
    assert [d["_id"] for d in repository.open_over_under([103, 101, 101])] == ["A", "B", "E"]
    assert repository.open_over_under([]) == []


# --- ledger and PaymentInfo handed over --------------------------------------------------


def test_handed_over_documents_end_as_upserted_ones_and_a_replay_replaces_them() -> None:
    """On the embedded store the new documents of a batch are stored as handed over;
    those that exist (a resumed run's) and any after them are upserted: the stored
    documents are those the upserts alone leave, field order included."""
    from PaymentProcess.data.mongomock_patches import insert_built

    def infos(amount: str) -> list[dict[str, Any]]:
        return [{"_id": f"PE-1:C{i}", "PaymentEvent_ID": "PE-1",
                 "claim_paid": Decimal128(amount), "lines": [{"line_no": 1}],
                 "received_date": datetime(2026, 3, 1)} for i in range(5)]

    def stored(db: Database) -> list[list[tuple[str, Any]]]:
        return [list(document.items()) for document in db.PaymentInfo.find()]

    handed = mongomock_ng.MongoClient().payments
    upserted = mongomock_ng.MongoClient().payments
    repository = PaymentRepository(handed, batch_size=2, insert_built=insert_built)
    crashed = infos("1.00")[:3]  # a run that died after writing three
    repository.persist_service_line(crashed)
    PaymentRepository(upserted, batch_size=2).persist_service_line(infos("1.00")[:3])
    assert handed.PaymentInfo._store._documents["PE-1:C0"] is crashed[0]  # not copied
    assert stored(handed) == stored(upserted)
    repository.persist_service_line(infos("2.50"))  # the resumed run's
    PaymentRepository(upserted, batch_size=2).persist_service_line(infos("2.50"))
    assert stored(handed) == stored(upserted)
    assert [d["claim_paid"] for d in handed.PaymentInfo.find()] == [Decimal128("2.50")] * 5
