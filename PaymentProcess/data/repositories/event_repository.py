"""The payment event's stage machine, its run records, the final run's backup and stats."""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from PaymentProcess.data.models.event import Stage
from PaymentProcess.data.repositories.collections import (
    PAYMENT_EVENT,
    PAYMENT_EVENT_STATS,
    RUN_BACKUP,
)
from PaymentProcess.processing.optimization.batch_processor import bulk_upsert


class EventRepository:
    """Reads the event and moves its stage with compare-and-set updates (spec section 9)."""

    def __init__(self, db: Database, batch_size: int = 1000) -> None:
        self.db = db
        self.batch_size = batch_size

    def load(self, payment_event_id: str) -> dict[str, Any] | None:
        """The raw ``PaymentEvent`` document."""
        return self.db[PAYMENT_EVENT].find_one({"_id": payment_event_id})

    def record_dry_run(self, payment_event_id: str, record: dict[str, Any]) -> bool:
        """Store the latest dry run and move NEW/DRY_RUN to DRY_RUN; False if the stage moved."""
        result = self.db[PAYMENT_EVENT].update_one(
            {"_id": payment_event_id, "stage": {"$in": [Stage.NEW.value, Stage.DRY_RUN.value]}},
            {"$set": {"stage": Stage.DRY_RUN.value, "dry_run": record}},
        )
        return result.matched_count == 1

    def begin_final(self, payment_event_id: str, fingerprint: str, dry_run_id: str | None,
                    record: dict[str, Any]) -> bool:
        """DRY_RUN -> FINAL_RUNNING if the approved dry run still matches; False otherwise.

        False when another run won, or a newer dry run or approval changed the event
        since the run was admitted (spec sections 9 and 14).
        """
        result = self.db[PAYMENT_EVENT].update_one(
            {"_id": payment_event_id, "stage": Stage.DRY_RUN.value,
             "dry_run.run_id": dry_run_id, "dry_run.fingerprint": fingerprint,
             "approval.run_id": dry_run_id, "approval.fingerprint": fingerprint},
            {"$set": {"stage": Stage.FINAL_RUNNING.value, "final_run": record}},
        )
        return result.matched_count == 1

    def take_over_final(self, payment_event_id: str, previous_run_id: str, run_id: str) -> bool:
        """A resumed run takes the FINAL_RUNNING event over from the run that died."""
        result = self.db[PAYMENT_EVENT].update_one(
            {"_id": payment_event_id, "stage": Stage.FINAL_RUNNING.value,
             "final_run.run_id": previous_run_id},
            {"$set": {"final_run.run_id": run_id},
             "$push": {"final_run.resumed_by": run_id}},
        )
        return result.matched_count == 1

    def set_final_run_field(self, payment_event_id: str, run_id: str, field: str,
                            value: Any) -> bool:
        """Record progress of the running final run (e.g. ``backup_complete``).

        False when ``run_id`` no longer holds the event (a resumed run took it over).
        """
        result = self.db[PAYMENT_EVENT].update_one(
            {"_id": payment_event_id, "stage": Stage.FINAL_RUNNING.value,
             "final_run.run_id": run_id},
            {"$set": {f"final_run.{field}": value}},
        )
        return result.matched_count == 1

    def release_final(self, payment_event_id: str, run_id: str) -> bool:
        """FINAL_RUNNING -> DRY_RUN, only while the inputs are not frozen (nothing was paid).

        For a resumed run that finds the inputs changed after the final run began and
        before it froze them: it cannot reproduce that run, and nothing of record exists.
        """
        result = self.db[PAYMENT_EVENT].update_one(
            {"_id": payment_event_id, "stage": Stage.FINAL_RUNNING.value,
             "final_run.run_id": run_id, "final_run.backup_complete": False},
            {"$set": {"stage": Stage.DRY_RUN.value}, "$unset": {"final_run": ""}},
        )
        return result.matched_count == 1

    def finish_final(self, payment_event_id: str, run_id: str, finished_at: Any) -> bool:
        """FINAL_RUNNING -> FINAL: the event is paid and can never be paid again."""
        result = self.db[PAYMENT_EVENT].update_one(
            {"_id": payment_event_id, "stage": Stage.FINAL_RUNNING.value,
             "final_run.run_id": run_id},
            {"$set": {"stage": Stage.FINAL.value, "final_run.finished_at": finished_at}},
        )
        return result.matched_count == 1

    def backup(self, payment_event_id: str, collection: str, documents: list[dict[str, Any]],
               inputs: str) -> None:
        """Freeze input documents of the final run (``RunBackup``), replayably.

        ``inputs`` is the fingerprint of the dry run the final run matched: each copy is
        tagged with it. Afterwards the event's frozen ``collection`` holds exactly
        ``documents``: copies left by an earlier attempt that froze other inputs (and was
        given back to DRY_RUN) carry another tag and are removed, after the writes. Two
        runs freezing the same inputs at once write the same tag, so neither removes the
        other's copies; the delete's filter has a fixed size, however many payees.
        """
        frozen = [{"_id": f"{payment_event_id}:{collection}:{doc['_id']}",
                   "PaymentEvent_ID": payment_event_id, "collection": collection,
                   "inputs": inputs, "document": doc} for doc in documents]
        bulk_upsert(self.db[RUN_BACKUP], frozen, batch_size=self.batch_size)
        self.db[RUN_BACKUP].delete_many({"PaymentEvent_ID": payment_event_id,
                                         "collection": collection, "inputs": {"$ne": inputs}})

    def restore(self, payment_event_id: str, collection: str) -> list[dict[str, Any]]:
        """The frozen documents of one collection, as they were before the final run."""
        rows = self.db[RUN_BACKUP].find({"PaymentEvent_ID": payment_event_id,
                                         "collection": collection})
        return sorted((row["document"] for row in rows), key=lambda d: str(d.get("_id")))

    def save_stats(self, stats: dict[str, Any]) -> None:
        """Insert the run's ``PaymentEventStats`` document."""
        self.db[PAYMENT_EVENT_STATS].replace_one({"_id": stats["_id"]}, stats, upsert=True)

    def discard_final_stats(self, payment_event_id: str, run_id: str, others: bool) -> None:
        """Drop SUCCEEDED final-run stats that did not end in FINAL (replayable).

        ``others``: every such document of the event except ``run_id``'s (a resumed run,
        once it holds the event, removes what attempts that died between saving their
        stats and marking the event FINAL left); else only ``run_id``'s own (a run that
        lost the event to a resumed run).
        """
        selector = {"$ne": run_id} if others else run_id
        self.db[PAYMENT_EVENT_STATS].delete_many({
            "_id": selector, "PaymentEvent_ID": payment_event_id, "stage": "FINAL",
            "status": "SUCCEEDED"})
