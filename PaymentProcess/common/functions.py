"""Shared helpers: environment, the db URI, and the one store connection of the process.

The engine opens exactly one :class:`Store` per process through :func:`get_connection`
and every repository uses its ``db``. Store URIs (spec section 12):

- ``mongodb://...`` / ``mongodb+srv://...``: a real MongoDB through pymongo.
- ``mongomock://PATH``: the embedded store in directory PATH (absolute when it starts
  with ``/``, else relative to the working directory); ``mongomock://`` alone is memory only.
  Only the synthetic generator creates a missing directory (``create=True``).

A MongoDB server that does not answer within ``timeout_s`` seconds (``--db-timeout``,
``PAYMENT_DB_TIMEOUT_S``; a ``serverSelectionTimeoutMS`` in the URI wins) is named, with
its redacted host, in a RepositoryError.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, unquote_plus

import pymongo
from pymongo.database import Database
from pymongo.errors import ConfigurationError as MongoConfigurationError
from pymongo.errors import PyMongoError

from PaymentProcess.common.mongodb_guarantees import (
    check_guarantees,
    check_topology,
    guaranteed_database,
)
from PaymentProcess.utils.error_handling import ConfigurationError, RepositoryError

if TYPE_CHECKING:
    from PaymentProcess.data.embedded_store import EmbeddedStore

DB_URI_ENV = "PAYMENT_DB_URI"
MAX_WORKERS_ENV = "PAYMENT_MAX_WORKERS"
DEFAULT_DATABASE = "payments"
MONGOMOCK_PREFIX = "mongomock://"
SUPPORTED_SCHEMES = ("mongodb", "mongodb+srv", "mongomock")
DB_TIMEOUT_ENV = "PAYMENT_DB_TIMEOUT_S"
DEFAULT_DB_TIMEOUT_S = 10.0

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_QUERY_SECRET = re.compile(r"(?i)([?&;](?:[a-z0-9_]*password|authmechanismproperties)=)([^&;]*)")
_REASON_CUTS = (" (configured timeouts", ", Timeout:", ", Topology Description:")
_REASON_MAX = 200
_URI_TIMEOUT = re.compile(r"(?i)[?&;]serverSelectionTimeoutMS=")


def get_env(name: str, default: str | None = None) -> str | None:
    """The environment variable ``name``, or ``default`` when it is unset or empty."""
    value = os.environ.get(name)
    return value if value else default


def get_default_workers() -> int:
    """``PAYMENT_MAX_WORKERS`` (a positive integer) if set, else ``min(cpu count, 8)``."""
    value = get_env(MAX_WORKERS_ENV)
    if value is None:
        return min(os.cpu_count() or 4, 8)
    try:
        workers = int(value.strip())
    except ValueError:
        workers = 0
    if workers < 1:
        raise ConfigurationError(f"{MAX_WORKERS_ENV} must be a positive integer, got {value!r}")
    return workers


def _check_scheme(uri: str) -> str:
    """The scheme of ``uri`` if the engine supports it, else ConfigurationError."""
    match = _SCHEME.match(uri)
    expected = "use mongodb://, mongodb+srv:// or mongomock://"
    if match is None:
        raise ConfigurationError(f"the db URI has no scheme: {expected}")
    if match.group(1) not in SUPPORTED_SCHEMES:
        raise ConfigurationError(f"unsupported db URI scheme {match.group(1)!r}: {expected}")
    return match.group(1)


def resolve_db_uri(cli_value: str | None) -> str:
    """The db URI to use: ``--db-uri`` if given, else ``PAYMENT_DB_URI``; scheme checked."""
    uri = cli_value or get_env(DB_URI_ENV)
    if uri is None:
        raise ConfigurationError(f"no database: pass --db-uri or set {DB_URI_ENV}")
    _check_scheme(uri)
    return uri


def _redact(uri: str) -> tuple[str, list[str]]:
    """``uri`` with its secrets replaced by ``***``, and the secrets it hid."""
    secrets: list[str] = []

    def hide(match: re.Match[str]) -> str:
        secrets.append(match.group(2))
        return match.group(1) + "***"

    scheme = _SCHEME.match(uri)
    head = scheme.group(0) if scheme else ""
    rest = _QUERY_SECRET.sub(hide, uri[len(head) :])
    # The last "@" ends the userinfo even when an unescaped "@", "/" or "?" is in the
    # password: this may hide more than the password, never less.
    userinfo, at, hosts = rest.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if at and colon:
        secrets.append(password)
        rest = f"{user}:***@{hosts}"
    return head + rest, [secret for secret in secrets if secret]


def redact_uri(uri: str) -> str:
    """``uri`` safe for logs: the userinfo password and password-like query values as ``***``.

    ``mongodb://alice:s3cret@h/db`` -> ``mongodb://alice:***@h/db``. Never raises.
    """
    return _redact(uri)[0]


# A URI in free text: the scheme, then userinfo "user:password@" where the password may
# hold anything but a newline or "@" (an unescaped space or control character too), then
# everything up to the next whitespace. Hides more than the URI rather than less.
_URI_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^\s@/]*:[^\n@]*@)?\S*")
_PASSWORD_IN_TEXT = re.compile(r"(?i)(\b[a-z0-9_]*password=)([^&;\s]*)")


def redact_text(text: str) -> str:
    """Free text (a log value, an error message) with every secret replaced by ``***``.

    Each URI in ``text`` (up to the next whitespace) is redacted as by :func:`redact_uri`,
    and any ``...password=value`` outside a URI too. This is the one implementation of
    redaction: ``utils.logging.redact`` and every redacted field use it. Never raises.
    """
    if "://" in text:
        if _SCHEME.match(text) and "\n" not in text:  # the whole text is one URI
            text = redact_uri(text)
        else:
            text = _URI_IN_TEXT.sub(lambda match: redact_uri(match.group(0)), text)
    if "assword=" in text.lower():
        text = _PASSWORD_IN_TEXT.sub(lambda match: match.group(1) + "***", text)
    return text


def _short_reason(exc: BaseException, uri: str) -> str:
    """The first useful part of ``exc``'s message, with every secret of ``uri`` removed."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    for cut in _REASON_CUTS:
        reason = reason.split(cut, 1)[0]
    for secret in _redact(uri)[1]:
        for form in {secret, unquote(secret), unquote_plus(secret)}:
            if form:
                reason = reason.replace(form, "***")
    return reason[:_REASON_MAX]


class Store:
    """The open store of the process: the database every repository uses.

    ``kind`` is ``"mongodb"`` or ``"embedded"``; ``uri`` is redacted, for logs.
    ``reopen`` (MongoDB only) opens the same store again, for :meth:`process_db`.
    """

    def __init__(
        self, uri: str, db: Database, resource: EmbeddedStore | pymongo.MongoClient,
        reopen: Callable[[], Store] | None = None,
    ) -> None:
        self.db = db
        # The embedded store's class names its kind; any client (pymongo's, or a bare
        # mongomock one in tests) is read as "mongodb".
        self.kind: Literal["mongodb", "embedded"] = getattr(type(resource), "store_kind",
                                                            "mongodb")
        self.uri = redact_uri(uri)
        self._resource = resource
        self._reopen = reopen
        self._opened_by = os.getpid()
        self._forked: tuple[int, Store] | None = None  # a forked worker's own store

    def process_db(self) -> Database:
        """The database this process reads with: :attr:`db` in the process that opened it.

        A MongoClient must not be used across a fork (its sockets and monitor threads
        belong to the parent), so a worker forked from the run opens a client of its own,
        once, with the same URI and the same pinned guarantees (majority read concern,
        primary). The embedded store lives in memory: a forked worker reads the copy it
        inherited at the fork.
        """
        if self._reopen is None or os.getpid() == self._opened_by:
            return self.db
        if self._forked is None or self._forked[0] != os.getpid():
            self._forked = (os.getpid(), self._reopen())
        return self._forked[1].db

    def checkpoint(self, collections: Iterable[str] | None = None) -> None:
        """Make ``collections`` (None: all) durable: a no-op on MongoDB, where writes are."""
        if self.kind == "embedded":
            self._resource.checkpoint(collections)

    def close(self) -> None:
        """Close the client (and release the embedded store's lock). Does not checkpoint."""
        self._resource.close()


_lock = threading.Lock()
_store: Store | None = None
_store_uri: str | None = None


def _open_embedded(uri: str, create: bool) -> Store:
    """Open ``mongomock://[PATH]``: memory only without PATH; PATH must exist unless ``create``."""
    location = uri[len(MONGOMOCK_PREFIX) :]
    path = Path.cwd() / location if location else None
    if path is not None and not create and not path.is_dir():
        raise ConfigurationError(f"the embedded store {path} does not exist: check --db-uri "
                                 "(only python -m PaymentProcess.synthetic creates a store)")
    # Imported here: mongomock-ng and its patches cost ~35 ms a start, and a mongodb:// run
    # never uses them.
    from PaymentProcess.data.embedded_store import EmbeddedStore

    embedded = EmbeddedStore(path)
    return Store(uri, embedded.db, embedded)


def store_hosts(uri: str) -> str:
    """The host list of a MongoDB URI (no user, no password, no options), for messages."""
    rest = uri.split("://", 1)[-1]
    return rest.rpartition("@")[2].split("/", 1)[0].split("?", 1)[0] or "?"


def _open_mongodb(uri: str, timeout_s: float) -> Store:
    """Connect to MongoDB and check it answers.

    A malformed URI, an unknown URI option or a ``mongodb+srv://`` host without SRV
    record is a ConfigurationError (exit 2); a server that does not answer within
    ``timeout_s`` a RepositoryError naming the host. The database has the write and read
    concerns exactly-once needs pinned (:mod:`PaymentProcess.common.mongodb_guarantees`);
    a URI weakening them, or a standalone server, is refused (exit 2).
    """
    options = {} if _URI_TIMEOUT.search(uri) else {
        "serverSelectionTimeoutMS": int(timeout_s * 1000),
        "connectTimeoutMS": int(timeout_s * 1000)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # pymongo warns of unknown options
            client: pymongo.MongoClient = pymongo.MongoClient(uri, tz_aware=False, **options)
    except (MongoConfigurationError, UserWarning, ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"invalid db URI {redact_uri(uri)}: {_short_reason(exc, uri)}"
        ) from None
    except PyMongoError as exc:
        raise RepositoryError(
            f"cannot reach the store {redact_uri(uri)}: {_short_reason(exc, uri)}"
        ) from None
    try:
        check_guarantees(client, redact_uri(uri))
        check_topology(client.admin.command("hello"), redact_uri(uri))
    except ConfigurationError:
        client.close()
        raise
    except PyMongoError as exc:
        client.close()
        within = f"{timeout_s:g} s" if options else "the URI's serverSelectionTimeoutMS"
        raise RepositoryError(
            f"cannot reach the store {redact_uri(uri)}: {store_hosts(redact_uri(uri))} did not "
            f"answer within {within}: {_short_reason(exc, uri)}"
        ) from None
    return Store(uri, guaranteed_database(client, DEFAULT_DATABASE), client,
                 reopen=partial(_open_mongodb, uri, timeout_s))


def get_connection(db_uri: str, *, create: bool = False,
                   timeout_s: float = DEFAULT_DB_TIMEOUT_S) -> Store:
    """The process-wide :class:`Store` for ``db_uri``, opened on first use.

    ``create``: a missing embedded store directory is created (the generator only);
    ``timeout_s``: how long a MongoDB server may take to answer.

    The same URI gives the same Store; another URI while one is open is a
    ConfigurationError (call :func:`close_connection` first).
    """
    global _store, _store_uri
    with _lock:
        if _store is not None:
            if db_uri != _store_uri:
                raise ConfigurationError(
                    f"cannot open {redact_uri(db_uri)}: the store {_store.uri} is already open"
                )
            return _store
        if _check_scheme(db_uri) == "mongomock":
            store = _open_embedded(db_uri, create)
        else:
            store = _open_mongodb(db_uri, timeout_s)
        _store, _store_uri = store, db_uri
        return store


def close_connection() -> None:
    """Close and forget the process-wide Store, if any (releasing an embedded store's lock)."""
    global _store, _store_uri
    with _lock:
        if _store is not None:
            _store.close()
        _store, _store_uri = None, None
