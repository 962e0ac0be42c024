"""The inputs' fingerprint (spec section 9): what it covers, and that where it is computed
(inline or in forked workers, whatever the batch size) does not change it."""

from __future__ import annotations

import copy

import pytest
from bson.decimal128 import Decimal128

from PaymentProcess.core.run_control import Fingerprint, claim_digests, describe_changes
from PaymentProcess.utils.error_handling import StageError
from tests.approval_support import approve_latest
from tests.conftest import GOLDEN_SOURCE, read_store
from tests.integration.resume_support import EVENT, golden_documents, memory_store, processor

# The golden dry run's fingerprint since a plain claim's digest is taken from what the
# engine reads of it (issue 17): the same whatever the workers and batch size. A dry run
# recorded by an earlier version does not match it: the final run asks for a new dry run.
GOLDEN_FINGERPRINT = "57e45c118e6db5829430dc460c87ea0af80e07f3cb675f388e378ac4157686c4"


def _claim() -> dict:
    return copy.deepcopy(golden_documents()["ClaimWSCore"][0])


def test_a_claims_digest_ignores_the_engine_owned_fields() -> None:
    claim = _claim()
    marked = {**claim, "PaymentStatus": "PAID", "PaidEvent_ID": EVENT}
    assert claim_digests([claim]) == claim_digests([marked])


def test_a_claims_digest_changes_with_any_input() -> None:
    claim = _claim()
    changed = copy.deepcopy(claim)
    changed["service_lines"][0]["billed"] = Decimal128("0.01")
    assert claim_digests([claim]) != claim_digests([changed])


def test_claims_are_combined_in_order() -> None:
    claims = golden_documents()["ClaimWSCore"][:2]
    forward, backward = Fingerprint(), Fingerprint()
    forward.add_claims(claim_digests(claims), [c["_id"] for c in claims])
    backward.add_claims(claim_digests(reversed(claims)), [c["_id"] for c in reversed(claims)])
    assert forward.inputs_digest() != backward.inputs_digest()


@pytest.mark.parametrize(("workers", "batch_size"), [(1, 3), (1, 1000), (2, 1), (2, 3)])
def test_the_golden_fingerprint_whatever_the_workers_and_batch_size(workers: int,
                                                                     batch_size: int) -> None:
    store = memory_store(read_store(GOLDEN_SOURCE))  # as shared: it predates bank data
    run = processor(store, workers=workers, batch_size=batch_size).run_dry_run(EVENT)
    critical = {f.code for f in run.report.findings.values() if f.severity == "CRITICAL"}
    assert critical == {"BANK_INVALID"}  # PE-G1 pays an EFT, so the dry run reports it
    event = store.db.PaymentEvent.find_one({"_id": EVENT})
    assert event["dry_run"]["fingerprint"] == GOLDEN_FINGERPRINT


def test_a_final_run_names_what_changed_since_the_dry_run() -> None:
    store = memory_store()
    assert processor(store).run_dry_run(EVENT).exit_code == 0
    approve_latest(store.db, EVENT)
    store.db.ClaimWSCore.update_one({"_id": "C1001"}, {"$set": {"patient_control_number": "X"}})
    store.db.OverUnder.delete_one({"_id": "OU-1"})
    store.db.InterestRules.update_many({}, {"$set": {"grace_days": 31}})
    with pytest.raises(StageError) as error:
        processor(store).run_final_run(EVENT)
    rules = store.db.InterestRules.find_one()["_id"]
    assert str(error.value) == (
        f"the inputs of {EVENT} changed since its last dry run (ClaimWSCore: 1 changed (C1001); "
        f"InterestRules: 1 changed ({rules}); OverUnder: 1 removed (OU-1)): run the dry run "
        "again, then the final run")


def test_changes_list_at_most_ten_ids_a_kind() -> None:
    before = {"ClaimWSCore": {f"C{i:02d}": "a" for i in range(12)}}
    after = {"ClaimWSCore": {**{f"C{i:02d}": "b" for i in range(12)}, "C99": "c"}}
    assert describe_changes(before, after) == (
        "ClaimWSCore: 12 changed (C00, C01, C02, C03, C04, C05, C06, C07, C08, C09, ...), "
        "1 added (C99)")
    assert describe_changes(after, after) == ""
