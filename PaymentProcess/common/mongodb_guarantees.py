"""What exactly-once needs from a MongoDB server, pinned on the engine's database.

A final run's writes must be durable when they return, and every read of the stage,
``Sequences``, the ledger and the backup must see them. So the engine's database uses,
whatever the URI says:

- write concern ``w: "majority"`` with ``j: true`` (a ``wtimeoutMS`` of the URI is kept);
- read preference ``primary`` and read concern ``majority``;
- retryable writes (pymongo's default).

A URI that asks for less (``w=1``, ``journal=false``, ``retryWrites=false``,
``readPreference=secondary``, ``readConcernLevel=local``...) is refused with a one-line
:class:`ConfigurationError` (exit 2) rather than silently overridden: the operator sees
that the URI says something the engine will not do. A standalone server, which can
do neither retryable writes nor a majority, is refused the same way.
"""

from __future__ import annotations

from typing import Any

from pymongo import MongoClient, ReadPreference, WriteConcern
from pymongo.database import Database
from pymongo.read_concern import ReadConcern

from PaymentProcess.utils.error_handling import ConfigurationError

WRITE_CONCERN_W = "majority"
READ_CONCERN_LEVEL = "majority"
ACCEPTED_READ_CONCERNS = (None, "majority", "linearizable")


def weakened_options(client: MongoClient) -> list[str]:
    """The options of ``client`` (from its URI) that would weaken exactly-once, as text."""
    problems = []
    write = client.write_concern.document
    if "w" in write and write["w"] != WRITE_CONCERN_W:
        problems.append(f"w={write['w']}")
    if write.get("j") is False:
        problems.append("journal=false")
    if not client.options.retry_writes:
        problems.append("retryWrites=false")
    if client.read_preference != ReadPreference.PRIMARY:
        problems.append(f"readPreference={client.read_preference.mongos_mode}")
    if client.read_concern.level not in ACCEPTED_READ_CONCERNS:
        problems.append(f"readConcernLevel={client.read_concern.level}")
    return problems


def check_guarantees(client: MongoClient, redacted_uri: str) -> None:
    """ConfigurationError (one line) when the URI weakens what exactly-once needs."""
    problems = weakened_options(client)
    if problems:
        raise ConfigurationError(
            f"the db URI {redacted_uri} sets {', '.join(problems)}: a final run needs "
            f"w=majority, journal=true, retryWrites=true and primary reads; remove "
            f"{'them' if len(problems) > 1 else 'it'} from the URI")


def check_topology(hello: dict[str, Any], redacted_uri: str) -> None:
    """ConfigurationError (one line) when the server is a standalone ``mongod``.

    A standalone has no retryable writes and no majority to write to: only a replica set
    member (``setName`` in its ``hello``) or a ``mongos`` (``msg: "isdbgrid"``) will do.
    """
    if "setName" not in hello and hello.get("msg") != "isdbgrid":
        raise ConfigurationError(
            f"the store {redacted_uri} is a standalone mongod: a final run needs a replica "
            "set (retryable writes, majority write concern); see docs/operations.md")


def guaranteed_database(client: MongoClient, default_name: str) -> Database:
    """The URI's database (else ``default_name``) with the pinned concerns of this module."""
    wtimeout: Any = client.write_concern.document.get("wtimeout")
    write_concern = WriteConcern(WRITE_CONCERN_W, wtimeout=wtimeout, j=True)
    read_concern = ReadConcern(client.read_concern.level or READ_CONCERN_LEVEL)
    return client.get_default_database(default_name, write_concern=write_concern,
                                       read_preference=ReadPreference.PRIMARY,
                                       read_concern=read_concern)
