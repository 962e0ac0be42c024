"""Adding synthetic payment events beside existing data, without changing any of it.

``add_events`` generates cycles ``1..N+cycles`` (N: the synthetic events already stored)
in memory and inserts only what is new: the events ``N+1..N+cycles``, their claims, and
configuration documents the store lacks. It never writes sequences, ledger entries,
payees or O/U records, and never replaces a document: a generated id already in the
store refuses the whole addition before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import mongomock_ng
from pymongo.database import Database

from PaymentProcess.processing.optimization.batch_processor import batch_iterable
from PaymentProcess.synthetic.generator import (
    GenerationSummary,
    SyntheticOptions,
    event_id,
    generate,
)
from PaymentProcess.utils.error_handling import ConfigurationError

CONFIG_COLLECTIONS = ("InclusionCriteria", "FundingSource", "InterestRules")
_EVENT_NUMBER = re.compile(r"PE-SYN-(\d{4})")
_LOOKUP_BATCH = 1000


def stored_cycles(db: Database) -> int:
    """The highest cycle number of a synthetic event in ``db`` (0 when there is none)."""
    numbers = [int(match.group(1)) for doc in db.PaymentEvent.find({}, {"_id": 1})
               if isinstance(doc["_id"], str) and (match := _EVENT_NUMBER.fullmatch(doc["_id"]))]
    return max(numbers, default=0)


def _taken_ids(db: Database, name: str, ids: list[Any]) -> list[Any]:
    taken: list[Any] = []
    for batch in batch_iterable(ids, _LOOKUP_BATCH):
        taken += [doc["_id"] for doc in db[name].find({"_id": {"$in": batch}}, {"_id": 1})]
    return taken


def add_events(db: Database, options: SyntheticOptions) -> GenerationSummary:
    """Insert ``options.cycles`` new events and their claims after the ones in ``db``."""
    first = stored_cycles(db) + 1
    scratch = mongomock_ng.MongoClient().payments
    summary = generate(scratch, replace(options, cycles=first - 1 + options.cycles))
    new_events = [event_id(cycle) for cycle in range(first, first + options.cycles)]
    additions = {
        "PaymentEvent": list(scratch.PaymentEvent.find({"_id": {"$in": new_events}})),
        "ClaimWSCore": list(scratch.ClaimWSCore.find({"PaymentEvent_ID": {"$in": new_events}})),
    }
    for name, docs in additions.items():
        if taken := _taken_ids(db, name, [doc["_id"] for doc in docs]):
            raise ConfigurationError(
                f"{name} already holds {len(taken)} of the ids to add (first {taken[0]}): "
                "nothing was added; try another --seed")
    for name in CONFIG_COLLECTIONS:
        docs = list(scratch[name].find())
        taken = set(_taken_ids(db, name, [doc["_id"] for doc in docs]))
        additions[name] = [doc for doc in docs if doc["_id"] not in taken]
    counts: dict[str, int] = {}
    for name, docs in additions.items():
        for batch in batch_iterable(docs, _LOOKUP_BATCH):
            db[name].insert_many(batch, ordered=False)
        if docs:
            counts[name] = len(docs)
    return replace(summary, event_ids=tuple(new_events), counts=dict(sorted(counts.items())),
                   kinds_by_event={e: summary.kinds_by_event[e] for e in new_events})
