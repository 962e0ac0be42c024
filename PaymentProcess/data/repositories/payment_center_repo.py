"""Payees: production ``PaymentCenter`` and the dry run's ``PaymentCenterWS`` workspace."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database

from PaymentProcess.data.repositories.collections import PAYMENT_CENTER, PAYMENT_CENTER_WS
from PaymentProcess.processing.optimization.batch_processor import batch_iterable, bulk_upsert


class PaymentCenterRepository:
    """Finds payees by key or id and creates the missing ones (workspace or production)."""

    def __init__(self, db: Database, batch_size: int = 1000) -> None:
        self.db = db
        self.batch_size = batch_size

    def find(self, keys: Iterable[str], ids: Iterable[int]) -> list[dict[str, Any]]:
        """Payee documents with any of these keys or ids, by _id."""
        keys, ids = sorted(set(keys)), sorted(set(ids))
        found: dict[str, dict[str, Any]] = {}
        for field, values in (("key", keys), ("_id", ids)):
            for chunk in batch_iterable(values, self.batch_size):
                for document in self.db[PAYMENT_CENTER].find({field: {"$in": chunk}}):
                    found[repr(document.get("_id"))] = document  # an _id may be unhashable
        return sorted(found.values(), key=lambda document: str(document.get("_id")))

    def max_id(self) -> int:
        """Largest PaymentCenter_ID in use (0 when there is none)."""
        top = list(self.db[PAYMENT_CENTER].find({}, {"_id": 1}, sort=[("_id", -1)], limit=1))
        return int(top[0]["_id"]) if top and isinstance(top[0]["_id"], int) else 0

    def copy_to_ws(self, payment_event_id: str, documents: list[dict[str, Any]]) -> None:
        """Write the dry run's workspace copies, ``_id "<PE>:<key>"`` (replayable)."""
        ws = [{**doc, "_id": f"{payment_event_id}:{doc['key']}",
               "PaymentEvent_ID": payment_event_id} for doc in documents]
        bulk_upsert(self.db[PAYMENT_CENTER_WS], ws, batch_size=self.batch_size)

    def create_prod_if_missing(self, documents: list[dict[str, Any]]) -> int:
        """Insert new payees by their allocated ``_id``; a replay inserts nothing twice."""
        created = 0
        for chunk in batch_iterable(documents, self.batch_size):
            result = self.db[PAYMENT_CENTER].bulk_write(
                [UpdateOne({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)
                 for doc in chunk],
                ordered=False,
            )
            created += result.upserted_count
        return created

