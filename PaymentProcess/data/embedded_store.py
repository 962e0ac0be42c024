"""The embedded store of spec section 12: mongomock loaded from, and written back to, a directory.

Layout of a store directory ``PATH``::

    PATH/.lock                 flock held by the one process using the directory
    PATH/<Collection>.jsonl    one MongoDB Extended JSON document per line (mongoexport format)
    PATH/.staging/             only while a checkpoint is being written (see below)

A checkpoint is atomic across files: the new files are written and fsynced in
``.staging/``, then a ``.staging/COMMIT`` manifest naming them is written and fsynced
(itself through a rename, so it is whole or absent), then each file is renamed over its
old version, the directory is fsynced and ``.staging/`` removed. Opening a directory rolls
an interrupted checkpoint forward when ``COMMIT`` exists and discards ``.staging/``
otherwise, so a process killed at any moment leaves the last completed checkpoint.

Importing this module applies :mod:`PaymentProcess.data.mongomock_patches`, which keep
cursor iteration, lookups by ``_id`` and ``$in`` linear on mongomock. Loading parses
each line with :mod:`PaymentProcess.data.extended_json` and inserts a file's documents
in bulk with the checks of ``insert_many`` (:func:`mongomock_patches.insert_parsed`); a
checkpoint encodes the stored documents themselves, not copies.
"""

from __future__ import annotations

import fcntl
import gc
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import mongomock_ng
from bson import json_util
from pymongo.errors import BulkWriteError, InvalidName

from PaymentProcess.data import (
    extended_json,
    mongomock_patches,  # applies the patches on import
)
from PaymentProcess.utils.error_handling import ConcurrencyError, ConfigurationError
from PaymentProcess.utils.progress import progress

DATABASE_NAME = "payments"
SUFFIX = ".jsonl"
LOCK_NAME = ".lock"
STAGING_NAME = ".staging"
COMMIT_NAME = "COMMIT"
LOAD_CHUNK = 5000




def _fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (creations, renames) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, lines: Iterable[bytes]) -> None:
    """Write ``lines`` (encoded, each with its newline) to a new file ``path`` and fsync it."""
    with open(path, "wb") as handle:
        handle.writelines(lines)
        handle.flush()
        os.fsync(handle.fileno())


def _check_collection_name(name: str) -> None:
    """Refuse a collection name that cannot be a ``<name>.jsonl`` file of the directory."""
    if not name or name.startswith(".") or "/" in name or "\0" in name:
        raise ValueError(f"collection name {name!r} cannot be stored as a file")


class EmbeddedStore:
    """A mongomock database ``payments`` persisted as ``<Collection>.jsonl`` files.

    ``path`` None keeps everything in memory (checkpoint does nothing). Otherwise the
    directory is created if missing, locked for this process until :meth:`close`,
    recovered from an interrupted checkpoint and loaded. Closing does not checkpoint.
    ``client`` is the mongomock client, ``db`` its database ``payments`` and ``path``
    the absolute directory (None in memory).
    """

    store_kind = "embedded"  # what :class:`~PaymentProcess.common.functions.Store` reports

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path).absolute() if path is not None else None
        self._lock_fd: int | None = None
        self.client = mongomock_ng.MongoClient(tz_aware=False)
        self.db = self.client[DATABASE_NAME]
        if self.path is None:
            return
        self._lock_fd = self._lock(self.path)
        try:
            self._recover()
            self._load()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> EmbeddedStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @staticmethod
    def _lock(path: Path) -> int:
        """Create ``path`` if needed and take the exclusive lock on ``path/.lock``."""
        try:
            path.mkdir(parents=True, exist_ok=True)
            if not os.access(path, os.W_OK | os.X_OK):  # found now, not after the computing
                raise PermissionError(13, "the directory is not writable")
            fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigurationError(
                f"embedded store {path} cannot be opened: {exc.strerror or exc}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConcurrencyError(f"embedded store {path} is in use by another process") from None
        return fd

    def _recover(self) -> None:
        """Finish a checkpoint whose COMMIT manifest was written, else discard its staging."""
        assert self.path is not None
        staging = self.path / STAGING_NAME
        commit = staging / COMMIT_NAME
        if commit.exists():
            self._publish(commit.read_text(encoding="utf-8").splitlines())
        elif staging.exists():
            shutil.rmtree(staging)

    def _publish(self, file_names: list[str]) -> None:
        """Rename the committed staged files into the directory, then drop the staging."""
        assert self.path is not None
        staging = self.path / STAGING_NAME
        for name in file_names:
            staged = staging / name
            if staged.exists():  # absent when an earlier attempt already moved it
                os.replace(staged, self.path / name)
        _fsync_dir(self.path)
        shutil.rmtree(staging)

    def _load(self) -> None:
        """Insert every ``<Collection>.jsonl`` of the directory into the database.

        Lines are counted first, so loading a large store shows its progress
        (:func:`PaymentProcess.utils.progress.progress`), then read and inserted in chunks,
        without the cyclic garbage collector (:func:`_no_collection`).
        """
        assert self.path is not None
        files = [file for file in sorted(self.path.glob("*" + SUFFIX))
                 if not file.name.startswith(".") and file.is_file()]
        total = sum(_count_lines(file) for file in files)
        with progress("loading the store", total, unit="documents") as advance, _no_collection():
            for file in files:
                self._load_file(file, advance)

    def _load_file(self, file: Path, advance: Callable[[int], None]) -> None:
        """Insert one collection file's documents, in chunks, counting them as they go.

        A chunk the fast decoder read whole is inserted at once
        (:func:`~PaymentProcess.data.mongomock_patches.insert_parsed`); whatever it leaves
        (a document that needs mongomock-ng's own checks, or is refused) goes through
        ``insert_many``, whose refusal names the document's line.
        """
        try:
            collection = self.db[file.name[: -len(SUFFIX)]]
        except InvalidName as exc:
            raise ConfigurationError(f"{file}: not a collection name: {_one_line(exc)}") from None
        loaded = False
        for docs, line_numbers, plain in _read_jsonl(file):
            loaded = True
            done = mongomock_patches.insert_parsed(collection, docs) if plain else 0
            if done < len(docs):
                _insert_checked(collection, docs[done:], line_numbers[done:], file)
            advance(len(docs))
        if not loaded:
            self.db.create_collection(collection.name)

    def checkpoint(self, collections: Iterable[str] | None = None) -> None:
        """Write ``collections`` (None: every collection) to the directory, atomically.

        None covers the database's collections and every collection file already in
        the directory, so a dropped collection is written as an empty file.
        """
        if self.path is None:
            return
        if self._lock_fd is None:
            raise ValueError(f"embedded store {self.path} is closed: nothing may be written")
        if isinstance(collections, str):
            raise TypeError("checkpoint() takes an iterable of collection names, not one name")
        self._recover()  # an earlier checkpoint of this process that failed after COMMIT
        if collections is None:
            names = set(self.db.list_collection_names())
            names.update(
                file.name[: -len(SUFFIX)]
                for file in self.path.glob("*" + SUFFIX)
                if not file.name.startswith(".")
            )
        else:
            names = set(collections)
        for name in names:
            _check_collection_name(name)
        file_names = sorted(name + SUFFIX for name in names)

        staging = self.path / STAGING_NAME
        staging.mkdir()
        for file_name in file_names:
            _write_durably(staging / file_name, self._dump(file_name[: -len(SUFFIX)]))
        _write_durably(staging / (COMMIT_NAME + ".tmp"), (f"{f}\n".encode() for f in file_names))
        os.replace(staging / (COMMIT_NAME + ".tmp"), staging / COMMIT_NAME)
        _fsync_dir(staging)
        _fsync_dir(self.path)
        self._publish(file_names)

    def _dump(self, name: str) -> Iterable[bytes]:
        """Relaxed Extended JSON lines of every document of ``name``, in store order
        (encoded from the stored documents: nothing here changes them)."""
        return map(extended_json.dumps_line, mongomock_patches.stored_documents(self.db[name]))

    def close(self) -> None:
        """Release the directory lock and the client. Idempotent; does not checkpoint."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None
        self.client.close()


@contextmanager
def _no_collection() -> Iterator[None]:
    """Load without automatic garbage collection, then freeze what was loaded.

    Parsing allocates only containers that live on (the documents), so the collector,
    which runs a full pass each time the heap has grown by a quarter, finds nothing
    while re-examining the growing store (about a fifth of loading 10,000 claims). The
    documents parsed from JSON hold no reference cycles: refcounting frees each one
    replaced or deleted later, so they are moved to the collector's permanent
    generation (``gc.freeze``) and no later full collection examines them again.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
    gc.freeze()


def _one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (its type name when it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _count_lines(file: Path) -> int:
    """How many lines ``file`` has (the documents it holds, give or take blank lines)."""
    with open(file, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _insert_checked(collection: Any, docs: list[dict[str, Any]], line_numbers: list[int],
                    file: Path) -> None:
    """``insert_many`` the documents; a refused one is a one-line error naming its line."""
    before = collection.estimated_document_count()
    try:
        collection.insert_many(docs, ordered=True)
    except Exception as exc:  # duplicate _id, a document BSON cannot hold
        if isinstance(exc, BulkWriteError):
            reason = exc.details["writeErrors"][0]["errmsg"]
        else:
            reason = _one_line(exc)
        # ordered inserts stop at the first bad document: it is the next one
        line = line_numbers[collection.estimated_document_count() - before]
        raise ConfigurationError(f"{file}:{line}: cannot load: {reason}") from None


def _read_jsonl(file: Path) -> Iterator[tuple[list[dict[str, Any]], list[int], bool]]:
    """Parse a ``.jsonl`` file in chunks of up to ``LOAD_CHUNK`` documents, with each one's
    line, and whether the fast decoder read the whole chunk
    (:func:`~PaymentProcess.data.extended_json.loads_plain`); a line only json_util reads
    is a chunk of its own."""
    docs: list[dict[str, Any]] = []
    line_numbers: list[int] = []
    with open(file, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8").strip()
                if not text:
                    continue
                try:
                    doc, plain = extended_json.loads_plain(text), True
                except extended_json.Unsupported:
                    doc, plain = json_util.loads(text), False
                if not isinstance(doc, dict):
                    raise ValueError(f"expected a document, got {type(doc).__name__}")
            except Exception as exc:  # json_util raises many types on bad input
                raise ConfigurationError(
                    f"{file}:{number}: not valid Extended JSON: {_one_line(exc)}"
                ) from None
            if not plain:
                if docs:
                    yield docs, line_numbers, True
                docs, line_numbers = [], []
                yield [doc], [number], False
                continue
            docs.append(doc)
            line_numbers.append(number)
            if len(docs) >= LOAD_CHUNK:
                yield docs, line_numbers, True
                docs, line_numbers = [], []
    if docs:
        yield docs, line_numbers, True
