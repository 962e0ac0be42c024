"""Writes of record (ledger, PaymentInfo, Payments, O/U, settlements) and number sequences.

Every write here is replayable: documents have deterministic ``_id``s and are upserted,
O/U changes are guarded by the event id in ``applications``, and number blocks are
recorded in the sequence document itself, so a resumed final run repeats each write
with the same effect and allocates no number twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from PaymentProcess.data.repositories.collections import (
    CLAIM_FIN,
    OVER_UNDER,
    PAYMENT_ESTIMATE,
    PAYMENT_INFO,
    PAYMENT_SETTLEMENT,
    PAYMENTS,
    SEQUENCES,
)
from PaymentProcess.processing.optimization.batch_processor import (
    batch_iterable,
    bulk_upsert,
    insert_or_replace,
)
from PaymentProcess.utils.error_handling import SequenceNumberError

MAX_ALLOCATION_ATTEMPTS = 50


class PaymentRepository:
    """Persistence of a final run's results and of the dry run's estimates."""

    def __init__(self, db: Database, batch_size: int = 1000, insert_first: bool = False,
                 insert_built: Callable[[Collection, list[dict[str, Any]]], int] | None = None
                 ) -> None:
        """``insert_first``: write documents as inserts, replacing only those that exist
        (MongoDB, where an upsert costs more than an insert); else as upserts.
        ``insert_built`` (the embedded store's
        :func:`~PaymentProcess.data.mongomock_patches.insert_built`): how the ledger
        entries and PaymentInfo handed over to :meth:`persist_claim_aggregate` and
        :meth:`persist_service_line` are inserted as they are, the rest of each batch
        then written as the others."""
        self.db = db
        self.batch_size = batch_size
        self._write = insert_or_replace if insert_first else bulk_upsert
        self._insert_built = insert_built

    def persist_claim_aggregate(self, ledger_entries: list[dict[str, Any]]) -> None:
        """Upsert ledger entries (``_id "<PE>:<ParentClaimCore_ID>"``), handed over: built
        for this write, and neither kept nor changed by the caller afterwards."""
        self._write_built(self.db[CLAIM_FIN], ledger_entries)

    def persist_service_line(self, payment_infos: list[dict[str, Any]]) -> None:
        """Upsert PaymentInfo documents, one per settled claim with its lines, handed over
        as :meth:`persist_claim_aggregate`'s."""
        self._write_built(self.db[PAYMENT_INFO], payment_infos)

    def _write_built(self, collection: Collection, documents: list[dict[str, Any]]) -> None:
        """Write handed-over documents: each batch's leading new ones inserted as they
        are (``insert_built``), the rest as any other documents (a resumed run's
        replacements, or one the insert's checks leave to the write to refuse)."""
        if self._insert_built is None:
            self._write(collection, documents, batch_size=self.batch_size)
            return
        for batch in batch_iterable(documents, self.batch_size):
            inserted = self._insert_built(collection, batch)
            if inserted < len(batch):
                self._write(collection, batch[inserted:], batch_size=self.batch_size)

    def persist_payments(self, payments: list[dict[str, Any]]) -> None:
        """Upsert disbursements (``_id "<PE>:<PaymentCenter_ID>"``)."""
        self._write(self.db[PAYMENTS], payments, batch_size=self.batch_size)

    def persist_settlements(self, settlements: list[dict[str, Any]]) -> None:
        """Upsert the final run's per-payee settlement figures."""
        self._write(self.db[PAYMENT_SETTLEMENT], settlements, batch_size=self.batch_size)

    def persist_estimates(self, estimates: list[dict[str, Any]]) -> None:
        """Upsert the dry run's per-payee estimates (``_id "<PE>:<key>"``)."""
        self._write(self.db[PAYMENT_ESTIMATE], estimates, batch_size=self.batch_size)

    def open_over_under(self, payee_ids: list[int]) -> list[dict[str, Any]]:
        """Not-CLOSED O/U records of these payees (the caller rejects all but valid OPEN ones).

        A record whose status is not ``CLOSED`` or whose payee id is the id as text is
        read too, so that it is reported as malformed instead of being silently ignored
        (an OVER nobody sees is never recouped).
        """
        found: list[dict[str, Any]] = []
        for chunk in batch_iterable(sorted(set(payee_ids)), self.batch_size):
            found += self.db[OVER_UNDER].find({
                "PaymentCenter_ID": {"$in": chunk + [str(payee_id) for payee_id in chunk]},
                "status": {"$ne": "CLOSED"}})
        return sorted(found, key=lambda d: str(d.get("_id")))

    def calc_and_upsert_over_under(
        self, payment_event_id: str, applications: list[dict[str, Any]],
        new_records: list[dict[str, Any]],
    ) -> None:
        """Apply this event's offsets and consumptions once each, and insert new records.

        ``applications`` items: ``{_id, amount, remaining, status}`` computed from the
        frozen record; the ``applications.event_id`` guard makes a replay a no-op.
        """
        operations = [
            UpdateOne(
                {"_id": item["_id"], "applications.event_id": {"$ne": payment_event_id}},
                {"$set": {"remaining": item["remaining"], "status": item["status"]},
                 "$push": {"applications": {"event_id": payment_event_id,
                                            "amount": item["amount"]}}},
            )
            for item in applications
        ]
        operations += [UpdateOne({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)
                       for doc in new_records]
        for chunk in batch_iterable(operations, self.batch_size):
            self.db[OVER_UNDER].bulk_write(chunk, ordered=False)

    def peek_sequence(self, name: str) -> int | None:
        """The next number of a sequence without allocating it (None when absent)."""
        document = self.db[SEQUENCES].find_one({"_id": name})
        return int(document["next"]) if document and isinstance(document.get("next"), int) else None

    def allocate_sequence(self, name: str, payment_event_id: str, count: int, floor: int) -> int:
        """First number of a block of ``count`` for this event; a replay gets the same block.

        The block is recorded in the sequence document in the same single-document
        update that advances ``next`` (compare-and-set on ``next``), so numbers are never
        given twice, across events and concurrent runs too. ``floor`` is where a missing
        or lower sequence starts (a check range's start).
        """
        sequences = self.db[SEQUENCES]
        for _ in range(MAX_ALLOCATION_ATTEMPTS):
            document = sequences.find_one({"_id": name})
            if document is None:
                try:
                    sequences.insert_one({"_id": name, "next": floor + count, "allocations": [
                        {"event_id": payment_event_id, "start": floor, "count": count}]})
                    return floor
                except DuplicateKeyError:
                    continue
            for allocation in document.get("allocations", []):
                if allocation.get("event_id") == payment_event_id:
                    return int(allocation["start"])
            current = int(document["next"])
            start = max(current, floor)
            result = sequences.update_one(
                {"_id": name, "next": current, "allocations.event_id": {"$ne": payment_event_id}},
                {"$set": {"next": start + count},
                 "$push": {"allocations": {"event_id": payment_event_id, "start": start,
                                           "count": count}}},
            )
            if result.modified_count == 1:
                return start
        raise SequenceNumberError(f"could not allocate from sequence {name}: too much contention")
