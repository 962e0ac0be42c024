"""Invariants of spec section 8, checked on what a final run wrote, and store comparison."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from bson import json_util
from pymongo.database import Database

from tests.conftest import money

SETTLEMENT_FIGURES = ("pos", "neg", "consumed_under", "offset", "over_offsets", "amount",
                      "disbursed", "new_over", "new_under")


def assert_cycle_invariants(db: Database, event_id: str) -> None:
    """Conservation per payee, ledger sums per chain, dry run equal to final, gapless numbers."""
    settlements = list(db.PaymentSettlement.find({"PaymentEvent_ID": event_id}))
    assert settlements, event_id
    estimates = {d["payee_key"]: d for d in db.PaymentEstimate.find({"PaymentEvent_ID": event_id})}
    payments = {d["PaymentCenter_ID"]: d for d in db.Payments.find({"PaymentEvent_ID": event_id})}
    for s in settlements:
        f = {name: money(s[name]) for name in SETTLEMENT_FIGURES}
        assert f["pos"] + f["consumed_under"] == (f["offset"] + f["over_offsets"] + f["new_under"]
                                                  + f["disbursed"]), s["_id"]
        assert f["neg"] == f["offset"] + f["new_over"], s["_id"]
        assert min(f.values()) >= 0, s["_id"]
        estimate = estimates[s["payee_key"]]
        assert {n: estimate[n] for n in SETTLEMENT_FIGURES} == {n: s[n] for n in
                                                                SETTLEMENT_FIGURES}
        if f["disbursed"] > 0:
            assert money(payments[s["PaymentCenter_ID"]]["amount"]) == f["disbursed"]
        else:
            assert s["PaymentCenter_ID"] not in payments

    entries = list(db.ClaimFinCore.find({"PaymentEvent_ID": event_id}))
    chains = {e["ParentClaimCore_ID"] for e in entries}
    totals: dict[str, Decimal] = defaultdict(Decimal)
    latest: dict[str, dict[str, Any]] = {}
    for entry in db.ClaimFinCore.find({"ParentClaimCore_ID": {"$in": sorted(chains)}}):
        totals[entry["ParentClaimCore_ID"]] += money(entry["benefit_amount"])
        key = (entry["paid_date"], entry["PaymentEvent_ID"])
        current = latest.get(entry["ParentClaimCore_ID"])
        if current is None or key > (current["paid_date"], current["PaymentEvent_ID"]):
            latest[entry["ParentClaimCore_ID"]] = entry
    for chain in chains:
        final_id = latest[chain]["final_ClaimCore_ID"]
        if final_id is None:
            assert totals[chain] == 0, chain
        else:
            info = db.PaymentInfo.find_one({"_id": f"{event_id}:{final_id}"})
            assert info is not None and info["in_force"], chain
            assert totals[chain] == money(info["claim_paid"]), chain

    for method in ("CHECK", "EFT"):
        numbered = sorted((p for p in payments.values() if p["method"] == method),
                          key=lambda p: p["PaymentCenter_ID"])
        numbers = [p["number"] if method == "CHECK" else int(p["number"][-9:])
                   for p in numbered]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))) if numbers else True


def comparable_store(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every collection, without run ids, timestamps and timings."""
    result = {}
    for name in sorted(db.list_collection_names()):
        documents = []
        for document in db[name].find():
            if name == "PaymentEventStats":
                document = {k: v for k, v in document.items()
                            if k not in ("_id", "started_at", "finished_at", "timings", "store")}
            if name == "PaymentEvent":
                document = {k: v for k, v in document.items()
                            if k not in ("dry_run", "final_run", "approval", "approvals")}
            documents.append(document)
        # in a canonical order: a document's repr would differ between a dict and the
        # OrderedDict mongomock-ng stores for an upsert, though the two compare equal
        result[name] = sorted(documents, key=_canonical_text)
    return result


def _canonical_text(document: dict[str, Any]) -> str:
    """The document as Extended JSON with sorted keys, whatever mapping types it holds."""
    return json_util.dumps(document, sort_keys=True)
