"""Helpers of the exactly-once tests: stores, runs, store comparison and fault injection.

The comparison (:func:`normalise`) is the one the issue asks for: every collection,
document for document, apart from run ids and timestamps (and the redacted store URI,
which names the directory the run used).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mongomock_ng
import mongomock_ng.collection
import pytest
from bson import json_util
from pymongo.errors import PyMongoError

from PaymentProcess.common.functions import Store
from PaymentProcess.core.payment_processor import PaymentProcessor, Repositories, RunSettings
from PaymentProcess.data import mongomock_patches
from PaymentProcess.data.config.config_loader import ConfigLoader
from PaymentProcess.data.embedded_store import EmbeddedStore
from tests.conftest import GOLDEN_STORE, read_store

Collections = dict[str, list[dict[str, Any]]]

EVENT = "PE-G1"
CHECKPOINT = '"event": "checkpoint"'  # the log line of a checkpoint reached

# Fields that legitimately differ between two runs that did the same thing.
STATS_VOLATILE = ("_id", "started_at", "finished_at", "timings", "store")
RUN_VOLATILE = ("run_id", "started_at", "finished_at", "resumed_by")
APPROVAL_VOLATILE = ("run_id", "approved_at")


class Crash(Exception):
    """An injected crash (stands for a process dying at that point)."""


# ---------------------------------------------------------------------------- stores
def golden_documents() -> Collections:
    """The golden store's documents (a fresh copy each call)."""
    return read_store(GOLDEN_STORE)


def memory_store(documents: Collections | None = None) -> Store:
    """A plain in-memory mongomock database (like MongoDB: no rollback on a crash)."""
    client = mongomock_ng.MongoClient()
    db = client.payments
    for name, docs in (documents if documents is not None else golden_documents()).items():
        if docs:
            db[name].insert_many(copy.deepcopy(docs))
    return Store("mongomock://", db, client)


def embedded_store(path: Path) -> Store:
    """The embedded store of directory ``path`` (locked until closed)."""
    embedded = EmbeddedStore(path)
    return Store(f"mongomock://{path}", embedded.db, embedded)


def processor(store: Store, *, resume: bool = False, batch_size: int = 3, workers: int = 1,
              hook: Callable[[str], None] | None = None) -> PaymentProcessor:
    """A processor on ``store`` as main.run builds it."""
    settings = RunSettings(db_uri=store.uri, workers=workers, batch_size=batch_size,
                           resume=resume, checkpoint_hook=hook)
    return PaymentProcessor(ConfigLoader(store.db), Repositories.for_store(store, batch_size),
                            settings, store)


def db_collections(store: Store) -> Collections:
    """Every collection of a store's database."""
    return {name: list(store.db[name].find()) for name in store.db.list_collection_names()}


# ---------------------------------------------------------------------------- comparison
def _drop(document: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in fields}


def _canonical(document: dict[str, Any]) -> str:
    return json_util.dumps(document, sort_keys=True)


def normalise(collections: Collections) -> dict[str, list[dict[str, Any]]]:
    """Documents with run ids and timestamps removed, sorted; empty collections dropped.

    ``PaymentEventStats``: ``_id`` (the run id), ``started_at``, ``finished_at``,
    ``timings``, ``store``. ``PaymentEvent``: the run id and times of ``dry_run`` and
    ``final_run``, ``final_run.resumed_by``, and the run id and time of each approval.
    Everything else must be equal.
    """
    result: dict[str, list[dict[str, Any]]] = {}
    for name, documents in collections.items():
        docs = copy.deepcopy(documents)
        if name == "PaymentEventStats":
            docs = [_drop(d, STATS_VOLATILE) for d in docs]
        if name == "PaymentEvent":
            for doc in docs:
                for run in ("dry_run", "final_run"):
                    if isinstance(doc.get(run), dict):
                        doc[run] = _drop(doc[run], RUN_VOLATILE)
                if isinstance(doc.get("approval"), dict):
                    doc["approval"] = _drop(doc["approval"], APPROVAL_VOLATILE)
                doc["approvals"] = [_drop(a, APPROVAL_VOLATILE) for a in doc.get("approvals", [])]
        if docs:
            result[name] = sorted(docs, key=_canonical)
    return result


def assert_same_store(got: Collections, want: Collections) -> None:
    """Equal collections, document for document (after :func:`normalise`)."""
    got_n, want_n = normalise(got), normalise(want)
    assert sorted(got_n) == sorted(want_n), "collections differ"
    for name in want_n:
        assert len(got_n[name]) == len(want_n[name]), f"{name}: document count differs"
        for got_doc, want_doc in zip(got_n[name], want_n[name], strict=True):
            assert got_doc == want_doc, f"{name}: documents differ"


def stage(store: Store, event: str = EVENT) -> str:
    """The event's stage."""
    return store.db.PaymentEvent.find_one({"_id": event})["stage"]


def checkpoints(log: Path) -> list[str]:
    """The checkpoints a run logged to ``log`` (each is durable before it is logged)."""
    return [line.split('"checkpoint": "')[1].split('"')[0]
            for line in log.read_text(errors="replace").splitlines() if CHECKPOINT in line]


# ---------------------------------------------------------------------------- faults
WRITE_METHODS = ("insert_one", "insert_many", "update_one", "update_many", "replace_one",
                 "bulk_write", "delete_one", "delete_many", "find_one_and_update",
                 "find_one_and_replace", "find_one_and_delete")
MULTI = ("bulk_write", "insert_many", "update_many", "delete_many")


class WriteFaults:
    """Counts every write on every mongomock collection and crashes at a chosen one.

    ``crash_at`` is the 0-based index of the write to crash in; ``keep`` how many of its
    operations (bulk requests, inserted or updated documents) are applied first: None
    applies all of it and crashes after it; 0 crashes before it. That is what a process
    dying inside an unordered bulk write on MongoDB leaves: part of the batch.
    """

    def __init__(self, crash_at: int | None = None, keep: int | None = None) -> None:
        self.crash_at = crash_at
        self.keep = keep
        self.calls: list[tuple[str, str, int]] = []
        self.active = True

    def wrap(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        faults = self

        def write(collection: mongomock_ng.collection.Collection, *args: Any, **kwargs: Any) -> Any:
            if not faults.active:
                return original(collection, *args, **kwargs)
            index = len(faults.calls)
            size = faults._size(name, collection, args, kwargs)
            faults.calls.append((name, collection.name, size))
            if index != faults.crash_at:
                return original(collection, *args, **kwargs)
            faults.active = False  # one crash per run
            # The process dies in the write: the server applies its part, and its answer
            # (a duplicate key of a replayed insert, say) never reaches the process.
            with contextlib.suppress(PyMongoError):
                if faults.keep is None:
                    original(collection, *args, **kwargs)
                elif faults.keep > 0:
                    faults._apply_part(name, original, collection, args, kwargs)
            raise Crash(f"crash in write {index} ({name} {collection.name}), keep={faults.keep}")

        return write

    @staticmethod
    def _size(name: str, collection: Any, args: tuple, kwargs: dict) -> int:
        if name in ("bulk_write", "insert_many", "insert_built"):
            return len(list(args[0]))
        if name in ("update_many", "delete_many"):
            return collection.count_documents(args[0])
        return 1

    def _apply_part(self, name: str, original: Callable[..., Any], collection: Any,
                    args: tuple, kwargs: dict) -> None:
        assert self.keep is not None
        if name in ("bulk_write", "insert_many", "insert_built"):
            part = list(args[0])[: self.keep]
            if part:
                original(collection, part, *args[1:], **kwargs)
        elif name in ("update_many", "delete_many"):
            ids = [d["_id"] for d in collection.find(args[0], {"_id": 1})][: self.keep]
            original(collection, {"_id": {"$in": ids}}, *args[1:], **kwargs)
        else:
            original(collection, *args, **kwargs)


@contextmanager
def write_faults(monkeypatch: pytest.MonkeyPatch, crash_at: int | None = None,
                 keep: int | None = None) -> Iterator[WriteFaults]:
    """Install :class:`WriteFaults` on mongomock's Collection for the duration, and on
    the embedded store's insert of handed-over documents (``insert_built``, for the
    repositories built meanwhile)."""
    faults = WriteFaults(crash_at, keep)
    with monkeypatch.context() as patch:
        for name in WRITE_METHODS:
            original = getattr(mongomock_ng.collection.Collection, name)
            patch.setattr(mongomock_ng.collection.Collection, name, faults.wrap(name, original))
        patch.setattr(mongomock_patches, "insert_built",
                      faults.wrap("insert_built", mongomock_patches.insert_built))
        yield faults


def crash_on_hook(target: int) -> tuple[Callable[[str], None], list[str]]:
    """A checkpoint hook that raises :class:`Crash` at its ``target``-th call (0-based)."""
    seen: list[str] = []

    def hook(name: str) -> None:
        seen.append(name)
        if len(seen) - 1 == target:
            raise Crash(f"crash after checkpoint {len(seen) - 1} ({name})")

    return hook, seen
