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

_MODULUS = 1 << 256


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

    def add_claims(self, digests: Iterable[bytes]) -> None:
        """Add the claims' digests (:func:`claim_digests`), in stream order."""
        for digest in digests:
            self._claims.update(digest)

    def add_ledger(self, documents: Iterable[dict[str, Any]]) -> None:
        """Add ledger entries in any order."""
        for document in documents:
            self._ledger = (self._ledger + int.from_bytes(_digest(document), "big")) % _MODULUS

    def inputs_digest(self) -> str:
        """Digest of the claims and ledger entries read so far."""
        return hashlib.sha256(self._claims.digest() + self._ledger.to_bytes(32, "big")).hexdigest()

    def full_digest(self, records: Iterable[dict[str, Any]]) -> str:
        """Digest of claims, ledger and the given configuration/payee/O-U documents."""
        combined = hashlib.sha256(self.inputs_digest().encode())
        for document in records:
            combined.update(_digest(document))
        return combined.hexdigest()
