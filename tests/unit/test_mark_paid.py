"""Claims marked paid: the same documents with MongoDB's retryable writes or one update_many."""

from __future__ import annotations

import mongomock_ng
import pytest

from PaymentProcess.data.repositories.claim_repository import ClaimRepository


@pytest.mark.parametrize("retryable", [False, True])
def test_mark_paid_sets_status_and_event_on_exactly_those_claims(retryable: bool) -> None:
    db = mongomock_ng.MongoClient().payments
    db.ClaimWSCore.insert_many([{"_id": f"C{i}", "PaymentEvent_ID": "PE-1"} for i in range(5)])
    repository = ClaimRepository(db, retryable_marks=retryable)
    repository.mark_paid("PE-1", ["C1", "C3"])
    repository.mark_paid("PE-1", ["C1", "C3"])  # a replay changes nothing
    repository.mark_paid("PE-1", [])
    assert list(db.ClaimWSCore.find(sort=[("_id", 1)])) == [
        {"_id": "C0", "PaymentEvent_ID": "PE-1"},
        {"_id": "C1", "PaymentEvent_ID": "PE-1", "PaymentStatus": "PAID", "PaidEvent_ID": "PE-1"},
        {"_id": "C2", "PaymentEvent_ID": "PE-1"},
        {"_id": "C3", "PaymentEvent_ID": "PE-1", "PaymentStatus": "PAID", "PaidEvent_ID": "PE-1"},
        {"_id": "C4", "PaymentEvent_ID": "PE-1"}]
