"""Controls after the dry run (spec section 14): approvals of dry runs, run history reads.

Every change here is one conditional single-document update, so it happens exactly once
on MongoDB and on the embedded store alike, however many processes try at the same time.
"""

from __future__ import annotations

from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from PaymentProcess.data.models.event import Stage
from PaymentProcess.data.repositories.collections import (
    CONTROL_ACTION,
    PAYMENT_EVENT,
    PAYMENT_EVENT_STATS,
    PAYMENTS,
)


class ControlRepository:
    """Reads and conditional writes of the controls on ``PaymentEvent`` and its stats."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def load_event(self, payment_event_id: str) -> dict[str, Any] | None:
        """The raw ``PaymentEvent`` document."""
        return self.db[PAYMENT_EVENT].find_one({"_id": payment_event_id})

    def approve(self, payment_event_id: str, approval: dict[str, Any]) -> bool:
        """Record ``approval`` of the event's latest dry run; False when it is no longer possible.

        Matches only while that dry run is still the latest, clean, unapproved one of a
        DRY_RUN event: a concurrent approval, a newer dry run or a final run that began
        makes it match nothing.
        """
        result = self.db[PAYMENT_EVENT].update_one(
            {"_id": payment_event_id, "stage": Stage.DRY_RUN.value,
             "dry_run.run_id": approval["run_id"],
             "dry_run.fingerprint": approval["fingerprint"],
             "dry_run.critical_findings": 0,
             "approval.run_id": {"$ne": approval["run_id"]}},
            {"$set": {"approval": approval}, "$push": {"approvals": approval}},
        )
        return result.matched_count == 1

    def run_stats(self, payment_event_id: str) -> list[dict[str, Any]]:
        """Every ``PaymentEventStats`` document of the event, oldest first."""
        return list(self.db[PAYMENT_EVENT_STATS].find({"PaymentEvent_ID": payment_event_id},
                                                      sort=[("started_at", 1), ("_id", 1)]))

    def stats(self, run_id: str) -> dict[str, Any] | None:
        """One run's ``PaymentEventStats`` document."""
        return self.db[PAYMENT_EVENT_STATS].find_one({"_id": run_id})

    def actions(self, payment_event_id: str) -> list[dict[str, Any]]:
        """The event's control actions (``ControlAction``: voids, reissues), oldest first."""
        return list(self.db[CONTROL_ACTION].find({"PaymentEvent_ID": payment_event_id},
                                                 sort=[("at", 1), ("_id", 1)]))

    def action(self, action_id: str) -> dict[str, Any] | None:
        """One control action."""
        return self.db[CONTROL_ACTION].find_one({"_id": action_id})

    # ------------------------------------------------------------------ voids
    def payment(self, payment_id: str) -> dict[str, Any] | None:
        """One ``Payments`` document."""
        return self.db[PAYMENTS].find_one({"_id": payment_id})

    def begin_action(self, action: dict[str, Any]) -> bool:
        """Insert the journal of a new action; False when one with its id exists already."""
        try:
            self.db[CONTROL_ACTION].insert_one(action)
        except DuplicateKeyError:
            return False
        return True

    def take_over_action(self, action_id: str, previous_owner: str, owner: str) -> bool:
        """A resumed action takes an unfinished journal over from the process that died."""
        result = self.db[CONTROL_ACTION].update_one(
            {"_id": action_id, "status": "STARTED", "owner": previous_owner},
            {"$set": {"owner": owner}})
        return result.matched_count == 1

    def mark_void(self, payment_id: str, void: dict[str, Any]) -> None:
        """Record the void on the payment, once (a replay of the same action changes nothing)."""
        self.db[PAYMENTS].update_one({"_id": payment_id, "void": {"$exists": False}},
                                     {"$set": {"void": void}})

    def insert_once(self, collection: str, document: dict[str, Any]) -> None:
        """Insert ``document`` unless its ``_id`` exists (replayable, never overwrites)."""
        self.db[collection].bulk_write(
            [UpdateOne({"_id": document["_id"]}, {"$setOnInsert": document}, upsert=True)])

    def finish_action(self, action_id: str, owner: str, fields: dict[str, Any]) -> bool:
        """STARTED -> DONE for the owner; False when another process took the action over."""
        result = self.db[CONTROL_ACTION].update_one(
            {"_id": action_id, "status": "STARTED", "owner": owner},
            {"$set": {"status": "DONE", **fields}})
        return result.matched_count == 1
