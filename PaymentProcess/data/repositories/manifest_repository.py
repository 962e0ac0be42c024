"""The dry run's input manifest (``InputManifest``): each document it read, by id and digest.

Only read when a final run finds the inputs changed, to name what changed. Stored in
chunks of ``CHUNK`` entries, so no document nears MongoDB's 16 MB limit.
"""

from __future__ import annotations

from pymongo.database import Database

from PaymentProcess.data.repositories.collections import INPUT_MANIFEST

CHUNK = 5000
Manifest = dict[str, dict[str, str]]  # collection -> document id -> short digest


class ManifestRepository:
    """Replaces and reads the manifest of a payment event's latest dry run."""

    def __init__(self, db: Database) -> None:
        self.collection = db[INPUT_MANIFEST]

    def replace(self, payment_event_id: str, manifest: Manifest) -> None:
        """Store ``manifest`` as the event's, dropping the previous dry run's."""
        self.collection.delete_many({"PaymentEvent_ID": payment_event_id})
        chunks = []
        for name, entries in sorted(manifest.items()):
            ids = sorted(entries)
            for start in range(0, len(ids), CHUNK):
                part = ids[start:start + CHUNK]
                chunks.append({"_id": f"{payment_event_id}:{name}:{start // CHUNK}",
                               "PaymentEvent_ID": payment_event_id, "collection": name,
                               "ids": part, "digests": [entries[i] for i in part]})
        if chunks:
            self.collection.insert_many(chunks)

    def load(self, payment_event_id: str) -> Manifest:
        """The event's stored manifest (empty when its dry run stored none)."""
        manifest: Manifest = {}
        for chunk in self.collection.find({"PaymentEvent_ID": payment_event_id}):
            manifest.setdefault(chunk["collection"], {}).update(
                zip(chunk["ids"], chunk["digests"], strict=True))
        return manifest
