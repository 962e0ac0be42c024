"""Run identity and the fingerprint of the inputs a dry run read (spec section 9)."""

from __future__ import annotations

import getpass
import hashlib
import os
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import bson

from PaymentProcess.data.repositories.claim_repository import ENGINE_CLAIM_FIELDS
from PaymentProcess.data.repositories.collections import CLAIM_FIN, CLAIM_WS
from PaymentProcess.data.repositories.manifest_repository import Manifest

_MODULUS = 1 << 256
_SHORT_DIGEST = 16  # hex characters of a document's digest kept in the manifest
MAX_CHANGED_SAMPLES = 10



def now_utc() -> datetime:
    """Timezone-aware current time (stored by pymongo as a UTC date)."""
    return datetime.now(UTC)


def current_user() -> str:
    """The operating-system user running this process (``uid:N`` when it has no name)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container user with no passwd entry
        return f"uid:{os.getuid()}"


def new_run_id(payment_event_id: str, stage: str) -> str:
    """A unique id for one run of the engine."""
    return f"{payment_event_id}:{stage}:{now_utc():%Y%m%dT%H%M%S}:{uuid.uuid4().hex[:8]}"


def _digest(document: dict[str, Any]) -> bytes:
    return hashlib.sha256(bson.encode(dict(sorted(document.items())))).digest()


def claim_digests(documents: Iterable[dict[str, Any]]) -> list[bytes]:
    """Each claim document's digest, without the engine-owned fields (PaymentStatus...).

    Hashing is a good part of pass 1's cost, so workers compute the digests of the
    batches they evaluate and the run combines them in order (:meth:`Fingerprint.add_claims`).
    """
    return [_digest({k: v for k, v in document.items() if k not in ENGINE_CLAIM_FIELDS})
            for document in documents]


class Fingerprint:
    """Hash of everything a run's result depends on.

    Claims are hashed in stream order (chain, then _id: the same whatever the batch
    size); ledger entries, which arrive batch by batch, are combined as a multiset so
    batch boundaries cannot change the result. Engine-owned claim fields are ignored,
    so a resumed final run reproduces the hash of the claims it is paying.
    """

    def __init__(self) -> None:
        self._claims = hashlib.sha256()
        self._ledger = 0
        self.manifest: Manifest = {}

    def add_claims(self, digests: list[bytes], ids: list[Any]) -> None:
        """Add the claims' digests (:func:`claim_digests`), in stream order, with their ids."""
        claims = self.manifest.setdefault(CLAIM_WS, {})
        for digest, document_id in zip(digests, ids, strict=True):
            self._claims.update(digest)
            claims[str(document_id)] = digest.hex()[:_SHORT_DIGEST]

    def add_ledger(self, documents: Iterable[dict[str, Any]]) -> None:
        """Add ledger entries in any order."""
        self.add_ledger_digests(ledger_digests(documents))

    def add_ledger_digests(self, digests: Iterable[tuple[str, bytes]]) -> None:
        """Add ledger entries' :func:`ledger_digests` (taken by a worker), in any order."""
        ledger = self.manifest.setdefault(CLAIM_FIN, {})
        for document_id, digest in digests:
            self._ledger = (self._ledger + int.from_bytes(digest, "big")) % _MODULUS
            ledger[document_id] = digest.hex()[:_SHORT_DIGEST]

    def inputs_digest(self) -> str:
        """Digest of the claims and ledger entries read so far."""
        return hashlib.sha256(self._claims.digest() + self._ledger.to_bytes(32, "big")).hexdigest()

    def full_digest(self, records: dict[str, list[dict[str, Any]]]) -> str:
        """Digest of claims, ledger and the configuration/payee/O-U documents by collection.

        Those documents go into the manifest too, under their collection.
        """
        combined = hashlib.sha256(self.inputs_digest().encode())
        for collection, documents in records.items():
            entries = self.manifest.setdefault(collection, {})
            for document in documents:
                digest = _digest(document)
                combined.update(digest)
                entries[str(document.get("_id"))] = digest.hex()[:_SHORT_DIGEST]
        return combined.hexdigest()


def ledger_digests(documents: Iterable[dict[str, Any]]) -> list[tuple[str, bytes]]:
    """Each ledger entry's id (as text) and digest, as :meth:`Fingerprint.add_ledger` takes them."""
    return [(str(document.get("_id")), _digest(document)) for document in documents]


def describe_changes(before: Manifest, after: Manifest) -> str:
    """What differs between two manifests, per collection: how many documents changed,
    were added or removed, with up to ten sample ids each; '' when nothing differs."""
    parts = []
    for collection in sorted(before.keys() | after.keys()):
        old, new = before.get(collection, {}), after.get(collection, {})
        kinds = (("changed", sorted(i for i in old.keys() & new.keys() if old[i] != new[i])),
                 ("added", sorted(new.keys() - old.keys())),
                 ("removed", sorted(old.keys() - new.keys())))
        described = [f"{len(ids)} {kind} ({', '.join(ids[:MAX_CHANGED_SAMPLES])}"
                     f"{', ...' if len(ids) > MAX_CHANGED_SAMPLES else ''})"
                     for kind, ids in kinds if ids]
        if described:
            parts.append(f"{collection}: {', '.join(described)}")
    return "; ".join(parts)
