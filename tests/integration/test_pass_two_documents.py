"""Pass 2's fast path writes the very documents the claim model's path writes.

Synthetic cycles are paid twice from the same generated store: once with pass 2 on the
claim model for every chain (``claim_processor.evaluate_batch``, the path before the fast
path), once as the engine runs (``plain_lines.second_pass``). Every document of every
collection must be the same BSON bytes (field order and types included), apart from run
ids and timestamps. Some claims are given shapes the fast path leaves to the claim model
(units with decimals, an amount stored as an int), so both kinds of chain are written
in the same batches, and resumed runs and later cycles (replacements, voids against the
ledger) are covered.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import bson
import mongomock_ng
import mongomock_ng.helpers
import pytest
from bson.decimal128 import Decimal128

from PaymentProcess.common.functions import Store
from PaymentProcess.core import payment_processor, records
from PaymentProcess.core.claim_processor import evaluate_batch
from PaymentProcess.core.payment_processor import PaymentProcessor, Repositories, RunSettings
from PaymentProcess.core.plain_lines import PlainClaim, second_pass
from PaymentProcess.data.config.config_loader import ConfigLoader
from PaymentProcess.data.models.payment import ClaimPayment
from PaymentProcess.synthetic.generator import SyntheticOptions, generate
from tests.approval_support import approve_latest
from tests.mongomock_support import unpatched

RUN_FIELDS = {"PaymentEventStats": ("_id", "run_id", "started_at", "finished_at", "timings",
                                    "store"),
              "PaymentEvent": ("dry_run", "final_run", "approval", "approvals"),
              "RunBackup": ("_id", "run_id", "created_at")}


def _unplain(db: Any, event_id: str) -> int:
    """Give every 9th claim of the event a shape only the claim model takes (still valid)."""
    changed = 0
    for index, claim in enumerate(db.ClaimWSCore.find({"PaymentEvent_ID": event_id},
                                                      sort=[("_id", 1)])):
        if index % 9:
            continue
        lines = claim["service_lines"]
        if index % 2:
            lines[0]["units"] = Decimal128("1.5")
        else:
            lines[0]["copay"] = int(lines[0]["copay"].to_decimal())  # whole units, an int
        db.ClaimWSCore.replace_one({"_id": claim["_id"]}, claim)
        changed += 1
    return changed


def _paid_store(options: SyntheticOptions, pass_two: Any, workers: int, batch_size: int,
                monkeypatch: pytest.MonkeyPatch, kinds: Counter[str]) -> Store:
    """The store after paying every cycle, ``pass_two`` evaluating pass 2's batches;
    ``kinds`` counts the claims written by their kind (the run's process writes them)."""
    payment_info, ledger_entry = records.payment_info, records.ledger_entry

    def counted(payment_event_id: str, chain: Any, claim: Any, payee_id: int) -> Any:
        kinds[type(claim).__name__] += 1
        return _as_stored(payment_info(payment_event_id, chain, claim, payee_id))

    monkeypatch.setattr(payment_processor, "second_pass", pass_two)
    monkeypatch.setattr(records, "payment_info", counted)
    monkeypatch.setattr(records, "ledger_entry", lambda *args: _as_stored(ledger_entry(*args)))
    client = mongomock_ng.MongoClient()
    store = Store("mongomock://", client.payments, client)
    for event_id in generate(store.db, options).event_ids:
        assert _unplain(store.db, event_id)
        processor = PaymentProcessor(ConfigLoader(store.db),
                                     Repositories.for_store(store, batch_size),
                                     RunSettings(db_uri=store.uri, workers=workers,
                                                 batch_size=batch_size), store)
        assert processor.run_dry_run(event_id).exit_code == 0
        approve_latest(store.db, event_id)
        assert processor.run_final_run(event_id).status == "SUCCEEDED"
    monkeypatch.undo()
    return store


def _as_stored(document: dict[str, Any]) -> dict[str, Any]:
    """A document handed over to the embedded store is stored as it is
    (``mongomock_patches.insert_built``): its dates must already be in the form the store
    gives them (naive UTC, whole milliseconds)."""
    with unpatched("datetime"):
        assert repr(document) == repr(
            mongomock_ng.helpers.patch_datetime_awareness_in_document(document))
    return document


def _written(db: Any) -> dict[str, list[bytes]]:
    """Every collection's documents as BSON, in the store's order, without run ids."""
    written = {}
    for name in sorted(db.list_collection_names()):
        dropped = RUN_FIELDS.get(name, ())
        written[name] = [bson.encode({k: v for k, v in document.items() if k not in dropped})
                         for document in db[name].find()]
    return written


@pytest.mark.parametrize(("pc_type", "workers", "batch_size"),
                         [("PROVIDER", 1, 1000), ("PROVIDER", 2, 37), ("DMR", 1, 50)])
def test_pass_two_writes_the_claim_models_documents(pc_type: str, workers: int,
                                                    batch_size: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    options = SyntheticOptions(claims=500, payees=20, pc_type=pc_type, cycles=2, seed=23)
    model_kinds: Counter[str] = Counter()
    fast_kinds: Counter[str] = Counter()
    model = _written(_paid_store(options, evaluate_batch, 1, 1000, monkeypatch, model_kinds).db)
    fast = _written(_paid_store(options, second_pass, workers, batch_size, monkeypatch,
                                fast_kinds).db)

    assert model_kinds.keys() == {ClaimPayment.__name__}
    assert fast_kinds[PlainClaim.__name__] > 5 * fast_kinds[ClaimPayment.__name__] > 0
    assert sum(fast_kinds.values()) == model_kinds[ClaimPayment.__name__]
    assert len(model["PaymentInfo"]) == sum(model_kinds.values())
    assert model.keys() == fast.keys()
    for name in model:
        assert len(fast[name]) == len(model[name]), name
        for index, (ours, theirs) in enumerate(zip(fast[name], model[name], strict=True)):
            assert ours == theirs, (name, index, bson.decode(ours), bson.decode(theirs))
