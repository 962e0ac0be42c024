"""A real MongoDB server for the real-server tier: SecantusDB started here, or the one named
by ``PAYMENT_TEST_MONGODB_URI``.

SecantusDB (PyPI ``SecantusDB``, GPL-2.0) is a test tool only: it is installed from
``requirements-dev.txt`` and run as a separate process, ``secantusd-py --host 127.0.0.1
--port P --storage-path DIR``; neither the product nor these tests import it. Each test
works in a database of its own, dropped afterwards, so the tier can run against any
deployment (a replica set from ``deploy/docker-compose.yml``, say) without touching
other data.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pymongo
from pymongo.errors import PyMongoError

SERVER_URI_ENV = "PAYMENT_TEST_MONGODB_URI"
SECANTUS = "secantusd-py"
START_LIMIT = 60.0  # seconds for the server to answer ping
STOP_LIMIT = 15.0
SYSTEM_PREFIX = "system."
# SecantusDB syncs its log for every upsert that inserts under ``j: true`` (about 6 ms
# each on this machine's disk, 20 times the whole write): its files go to memory
# (tmpfs) when the machine has it. A SIGKILL of the server leaves them as a crash would.
MEMORY_DIR = Path("/dev/shm")


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def secantus_executable() -> str:
    """``secantusd-py`` of this interpreter's environment (installed by requirements-dev)."""
    beside = Path(sys.executable).parent / SECANTUS
    found = str(beside) if beside.exists() else shutil.which(SECANTUS)
    if found is None:
        raise RuntimeError(f"{SECANTUS} is not installed: pip install -r requirements-dev.txt "
                           f"(or set {SERVER_URI_ENV} to a MongoDB server)")
    return found


def ping(uri: str, timeout_ms: int = 500) -> bool:
    """Whether the server at ``uri`` answers ``ping``."""
    client: pymongo.MongoClient = pymongo.MongoClient(uri, serverSelectionTimeoutMS=timeout_ms,
                                                      connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


class SecantusServer:
    """One ``secantusd-py`` process on a loopback port, its data in ``storage``.

    :meth:`start` waits for ``ping``; :meth:`stop` ends it by its PID (SIGTERM, then
    SIGKILL); :meth:`kill` is a crash (SIGKILL). It can be started again on the same
    storage and port: WiredTiger reopens what was durable.
    """

    def __init__(self, storage: Path, *options: str) -> None:
        self.storage = storage
        self.options = options  # more secantusd-py flags (--standalone)
        self.port = free_port()
        self.log = storage.parent / f"secantus-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """``mongodb://127.0.0.1:PORT`` (no database)."""
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and wait until it answers; never leaves it running on failure."""
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [secantus_executable(), "--host", "127.0.0.1", "--port", str(self.port),
                 "--storage-path", str(self.storage), "--log-level", "WARNING", *self.options],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + START_LIMIT
        while not ping(self.uri):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{SECANTUS} on port {self.port} did not start: "
                                   f"{self.log.read_text(errors='replace')[-1000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the server (a crash) and wait for it to be gone."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_LIMIT)
        self.process = None

    def stop(self) -> None:
        """End the server by its PID: SIGTERM, then SIGKILL if it lingers."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_LIMIT)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None


def storage_parent(fallback: Path) -> Path:
    """Where a server's files go: tmpfs when there is one, else ``fallback``."""
    if MEMORY_DIR.is_dir() and os.access(MEMORY_DIR, os.W_OK):
        return MEMORY_DIR
    return fallback


@contextmanager
def running_secantus(fallback: Path, *options: str) -> Iterator[SecantusServer]:
    """A started :class:`SecantusServer` in a new directory (on tmpfs when there is one,
    else under ``fallback``), stopped and its directory removed on exit whatever happens."""
    home = Path(tempfile.mkdtemp(prefix="payment-secantus-", dir=storage_parent(fallback)))
    server = SecantusServer(home / "data", *options)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def with_database(uri: str, database: str) -> str:
    """``uri`` naming ``database`` (its options kept): ``mongodb://h:p/db?opts``."""
    scheme, _, rest = uri.partition("://")
    rest, question, options = rest.partition("?")
    hosts = rest.split("/", 1)[0]
    return f"{scheme}://{hosts}/{database}{question}{options}"


class ServerTarget:
    """Where the tier's tests run: the server's URI and whether it is our SecantusDB."""

    def __init__(self, uri: str, secantus: SecantusServer | None) -> None:
        self.uri = uri
        self.secantus = secantus
        self.client: pymongo.MongoClient = pymongo.MongoClient(uri, tz_aware=False)

    @property
    def is_secantus(self) -> bool:
        """True when the tier runs on the SecantusDB it started (not on a real MongoDB)."""
        return self.secantus is not None

    def new_database(self) -> str:
        """A fresh database name for one test."""
        return f"ptest_{uuid.uuid4().hex[:12]}"

    def database_uri(self, database: str, **options: str) -> str:
        """The URI of ``database``, with extra URI options."""
        uri = with_database(self.uri, database)
        extra = "&".join(f"{key}={value}" for key, value in options.items())
        if extra:
            uri += ("&" if "?" in uri else "?") + extra
        return uri

    def close(self) -> None:
        """Close the tier's own client."""
        self.client.close()


def load_documents(db: Any, collections: dict[str, list[dict[str, Any]]]) -> None:
    """Insert every collection's documents (as read from an embedded store's files)."""
    for name, documents in collections.items():
        if documents:
            db[name].insert_many(documents)


def server_collections(db: Any) -> dict[str, list[dict[str, Any]]]:
    """Every collection of a server database, as documents (system collections left out)."""
    return {name: list(db[name].find()) for name in sorted(db.list_collection_names())
            if not name.startswith(SYSTEM_PREFIX)}
