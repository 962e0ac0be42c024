"""Access to the event's claims (``ClaimWSCore``) and the ledger (``ClaimFinCore``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from pymongo import ASCENDING, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database

from PaymentProcess.data.models.over_under import LedgerEntry
from PaymentProcess.data.models.payment import LedgerState
from PaymentProcess.data.repositories.collections import CLAIM_FIN, CLAIM_WS
from PaymentProcess.processing.parallel.chain_ranges import ChainRange

ENGINE_CLAIM_FIELDS = ("PaymentStatus", "PaidEvent_ID")
# the claims' order in every read: a chain's claims together, chains by parent id; the
# chain listing cuts the workers' ranges in the order fetch_ws reads them
CHAIN_ORDER = [("ParentClaimCore_ID", ASCENDING), ("_id", ASCENDING)]


class ClaimRepository:
    """Reads the claims of an event in chain order and the ledger entries of their chains."""

    def __init__(self, db: Database, retryable_marks: bool = False,
                 find_stored: Callable[[Collection, dict[str, Any], list[tuple[str, int]]],
                                       Iterator[dict[str, Any]]] | None = None) -> None:
        """``retryable_marks``: mark claims paid with writes MongoDB retries after a
        failover (one update a claim) instead of one ``update_many`` a batch.
        ``find_stored`` (the embedded store's
        :func:`~PaymentProcess.data.mongomock_patches.find_stored`): how :meth:`fetch_ws`
        and :meth:`fetch_fin` read the claims and ledger entries as stored instead of as
        copies."""
        self.db = db
        self.retryable_marks = retryable_marks
        self._find_stored = find_stored

    def _read(self, collection: str, query: dict[str, Any], sort: list[tuple[str, int]],
              **options: Any) -> Iterable[dict[str, Any]]:
        """``find(query, sort=sort)`` for a caller that only reads the documents: the
        stored ones themselves when built with ``find_stored``."""
        if self._find_stored is not None:
            return self._find_stored(self.db[collection], query, sort)
        return self.db[collection].find(query, sort=sort, **options)

    @staticmethod
    def event_filter(payment_event_id: str, resuming: bool) -> dict[str, Any]:
        """The event's unpaid claims; a resumed final run also sees those it already marked."""
        unpaid: dict[str, Any] = {"PaymentStatus": {"$exists": False}}
        if resuming:
            return {"PaymentEvent_ID": payment_event_id,
                    "$or": [unpaid, {"PaidEvent_ID": payment_event_id}]}
        return {"PaymentEvent_ID": payment_event_id, **unpaid}

    def fetch_ws(self, payment_event_id: str, batch_size: int, resuming: bool = False,
                 chains: ChainRange | None = None) -> Iterator[dict[str, Any]]:
        """Stream the event's claims sorted by chain, so that every chain arrives whole;
        ``chains``: only those of that range of ``ParentClaimCore_ID`` (a worker's share).
        The caller only reads them (on the embedded store they may be the stored ones)."""
        query = self.event_filter(payment_event_id, resuming)
        if chains is not None:
            query["ParentClaimCore_ID"] = chains.parent_condition()
        yield from self._read(CLAIM_WS, query, CHAIN_ORDER, batch_size=batch_size)

    def chain_listing(self, payment_event_id: str, resuming: bool = False
                      ) -> Iterator[tuple[Any, str]]:
        """``(ParentClaimCore_ID, ClaimCore_ID as text)`` of each of the event's claims, in
        chain order: one projection giving what
        :func:`~PaymentProcess.processing.parallel.chain_ranges.split_chains` cuts and what
        :meth:`claim_id_counts` counts, so that pass 1's workers need one listing, not two."""
        cursor = self.db[CLAIM_WS].find(
            self.event_filter(payment_event_id, resuming),
            {"ParentClaimCore_ID": 1, "ClaimCore_ID": 1, "_id": 0},
            sort=CHAIN_ORDER,
        )
        for document in cursor:
            yield document.get("ParentClaimCore_ID"), claim_id_text(document)

    def claim_id_counts(self, payment_event_id: str, resuming: bool = False) -> Counter[str]:
        """How often each ClaimCore_ID occurs among the event's claims (their total: the
        claims a run reads; those above one: duplicates).

        Reads only the ids (a projection), so it costs one pass and about a hundred bytes
        a claim; an aggregation would do the same on MongoDB but makes mongomock copy
        every whole document first.
        """
        return Counter(map(claim_id_text, self.db[CLAIM_WS].find(
            self.event_filter(payment_event_id, resuming), {"ClaimCore_ID": 1, "_id": 0})))

    def any_marked_paid(self, payment_event_id: str) -> bool:
        """Whether a claim of the event is marked paid by it (a final run wrote there).

        ``PaidEvent_ID`` comes first: on the embedded store the first plain field of a
        filter is the one looked up in its field index, and few claims have this one."""
        return self.db[CLAIM_WS].find_one(
            {"PaidEvent_ID": payment_event_id, "PaymentEvent_ID": payment_event_id},
            {"_id": 1}) is not None

    @staticmethod
    def ledger_filter(payment_event_id: str, chain_ids: Iterable[str],
                      claim_ids: Iterable[str]) -> dict[str, Any]:
        """Other events' ledger entries of these chains or naming these claims: an ``$or``
        of two ``$in``s, each answered by its own index on MongoDB."""
        return {
            "PaymentEvent_ID": {"$ne": payment_event_id},
            "$or": [{"ParentClaimCore_ID": {"$in": list(chain_ids)}},
                    {"ClaimCore_IDs": {"$in": list(claim_ids)}}],
        }

    def fetch_fin(
        self, payment_event_id: str, chain_ids: Iterable[str], claim_ids: Iterable[str]
    ) -> tuple[list[dict[str, Any]], list[LedgerEntry], list[dict[str, Any]]]:
        """Earlier ledger entries of these chains or mentioning these claims.

        Entries written by ``payment_event_id`` itself are left out, so a resumed final
        run sees the ledger as it was before the run began. Returns the valid documents,
        the same parsed (in the same order), and the malformed ones (reported as
        ``RECORD_INVALID``). The caller only reads them (on the embedded store they may
        be the stored ones).
        """
        query = self.ledger_filter(payment_event_id, chain_ids, claim_ids)
        valid, entries, malformed = [], [], []
        for document in self._read(CLAIM_FIN, query, [("_id", ASCENDING)]):
            try:
                entries.append(LedgerEntry.model_validate(document))
                valid.append(document)
            except PydanticValidationError:
                malformed.append(document)
        return valid, entries, malformed

    def mark_paid(self, payment_event_id: str, document_ids: list[str]) -> None:
        """Record on each settled claim that this event paid it (replayable).

        On MongoDB (``retryable_marks``) one single-document update per claim in an
        unordered bulk write: unlike an ``update_many``, the driver retries it after a
        failover. The embedded store has no failover and keeps the ``update_many``, which
        mongomock applies in a third of the time (0.3 s against 0.8 s for 20,000 claims).
        """
        if not document_ids:
            return
        paid = {"$set": {"PaymentStatus": "PAID", "PaidEvent_ID": payment_event_id}}
        if self.retryable_marks:
            self.db[CLAIM_WS].bulk_write([UpdateOne({"_id": document_id}, paid)
                                          for document_id in document_ids], ordered=False)
        else:
            self.db[CLAIM_WS].update_many({"_id": {"$in": document_ids}}, paid)


def claim_id_text(document: dict[str, Any]) -> str:
    """A claim's ``ClaimCore_ID`` as the counts of duplicates key it (as text, whatever
    its type, ``'None'`` when absent)."""
    return str(document.get("ClaimCore_ID"))


def ledger_states(entries: Iterable[LedgerEntry]) -> tuple[dict[str, LedgerState],
                                                         dict[str, str]]:
    """Fold ledger entries into each chain's state and a claim -> chain ownership map."""
    parsed = sorted(entries, key=lambda e: (e.ParentClaimCore_ID, e.paid_date,
                                            e.PaymentEvent_ID))
    states: dict[str, LedgerState] = {}
    owners: dict[str, str] = {}
    for entry in parsed:
        previous = states.get(entry.ParentClaimCore_ID, LedgerState())
        states[entry.ParentClaimCore_ID] = LedgerState(
            prior_sum=previous.prior_sum + entry.benefit_amount,
            in_force_id=entry.final_ClaimCore_ID,
            has_entries=True,
            last_payee_id=entry.PaymentCenter_ID,
            paid_claim_ids=previous.paid_claim_ids | frozenset(entry.ClaimCore_IDs),
        )
        for claim_id in entry.ClaimCore_IDs:
            owners[claim_id] = entry.ParentClaimCore_ID
    return states, owners

