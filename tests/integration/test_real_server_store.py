"""The real-server tier, what the engine asks of MongoDB: the database named by the URI, a
URI that weakens exactly-once refused, every command's write and read concern, retryable
writes, and an index behind every query.

The commands are captured with pymongo's command monitoring while the engine runs
in-process on the golden cycle: a dry run, a final run that crashes after its ledger
phase, its ``--resume`` (with the 835 files) and the blocked PE-G2 dry run.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import monitoring

from PaymentProcess.common.functions import close_connection, get_connection
from PaymentProcess.core import payment_processor
from PaymentProcess.data.repositories.collections import (
    INDEXES,
    INPUT_MANIFEST,
    PAYMENT_EVENT_STATS,
    RUN_BACKUP,
)
from PaymentProcess.main import main
from tests.approval_support import approve_latest
from tests.conftest import run_cli
from tests.integration.conftest import ServerDatabase
from tests.integration.mongo_server import ServerTarget, load_documents, running_secantus
from tests.integration.resume_support import Crash, golden_documents
from tests.unit.test_remittance_store import PAYER

WRITES = ("insert", "update", "delete", "findAndModify")
READS = ("find", "aggregate", "count", "distinct")
# Multi-document deletes: not retryable by MongoDB, replayed instead: by --resume (the
# backup's cleanup runs again until backup_complete; the stats cleanup on every resume),
# or by the next dry run (the manifest of the event's latest dry run is replaced whole).
REPLAYED_DELETES = {RUN_BACKUP, PAYMENT_EVENT_STATS, INPUT_MANIFEST}
SARGABLE = {"$eq", "$in", "$gt", "$gte", "$lt", "$lte", "$all"}
INDEX_STAGES_ONLY_MESSAGE = ("SecantusDB's explain does not report MongoDB's plans (it shows "
                             "COLLSCAN for an update by _id): set PAYMENT_TEST_MONGODB_URI to a "
                             "MongoDB server to check the plans")


class Recorder(monitoring.CommandListener):
    """Keeps a copy of every command started while ``active``."""

    def __init__(self) -> None:
        self.active = False
        self.commands: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.active:
            self.commands.append((event.command_name, copy.deepcopy(dict(event.command))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Nothing to do: the command was kept when it started."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Nothing to do: the command was kept when it started."""


_RECORDER = Recorder()
monitoring.register(_RECORDER)  # for clients created from now on: the engine's


@pytest.fixture(scope="module")
def engine_commands(mongo_target: ServerTarget, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[tuple[list[tuple[str, dict[str, Any]]], Any]]:
    """Every command the engine sent during the golden cycle, and the database it used."""
    name = mongo_target.new_database()
    uri, db = mongo_target.database_uri(name), mongo_target.client[name]
    load_documents(db, golden_documents())
    db.FundingSource.update_many({}, {"$set": {"payer": PAYER}})  # what the 835s need
    original = payment_processor.PaymentProcessor._hook

    def crash_after_ledger(self: payment_processor.PaymentProcessor, checkpoint: str) -> None:
        original(self, checkpoint)
        if checkpoint == "ledger":
            raise Crash("after the ledger phase")

    remittances = tmp_path_factory.mktemp("remittance")
    base = ["-p", "PE-G1", "--db-uri", uri, "--workers", "1", "--batch-size", "3"]
    _RECORDER.active = True
    try:  # two workers first: the ranges' queries (those the run itself reads are captured)
        assert main(["-p", "PE-G1", "--db-uri", uri, "--workers", "2", "--batch-size", "1",
                     "-m", "dry-run"]) == 0
        assert main([*base, "-m", "dry-run"]) == 0
        approve_latest(get_connection(uri).db, "PE-G1")  # as the controls command does
        close_connection()
        payment_processor.PaymentProcessor._hook = crash_after_ledger
        try:
            assert main([*base, "-m", "final"]) == 4
        finally:
            payment_processor.PaymentProcessor._hook = original
        assert main([*base, "-m", "final", "--resume", "--remittance-dir",
                     str(remittances)]) == 0
        assert main(["-p", "PE-G2", "-m", "dry-run", "--db-uri", uri, "--workers", "1"]) == 1
    finally:
        _RECORDER.active = False
    commands, _RECORDER.commands = _RECORDER.commands, []
    try:
        yield commands, db
    finally:
        mongo_target.client.drop_database(name)


def filters(name: str, command: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    """(collection, filter, sort) of each query in a command."""
    collection = command[name]
    if name == "find":
        return [(collection, command.get("filter", {}), command.get("sort"))]
    if name == "update":
        return [(collection, update["q"], None) for update in command["updates"]]
    if name == "delete":
        return [(collection, delete["q"], None) for delete in command["deletes"]]
    if name == "findAndModify":
        return [(collection, command.get("query", {}), command.get("sort"))]
    if name in ("count", "distinct"):
        return [(collection, command.get("query", {}), None)]
    if name == "aggregate":
        first = (command.get("pipeline") or [{}])[0]
        return [(collection, first.get("$match", {}), None)]
    return []


def shape(value: Any) -> Any:
    """A filter with its values replaced by their types: one query per shape is enough."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return sorted({json.dumps(shape(item), sort_keys=True) for item in value})
    return type(value).__name__


def queries(commands: list[tuple[str, dict[str, Any]]]) -> dict[str, tuple[str, dict, Any]]:
    """One (command, collection, filter, sort) per distinct shape."""
    found: dict[str, tuple[str, dict, Any]] = {}
    for name, command in commands:
        if name not in WRITES + READS:
            continue
        for collection, query, sort in filters(name, command):
            key = json.dumps([name, collection, shape(query), shape(sort)], sort_keys=True)
            found.setdefault(key, (name, {"collection": collection, "filter": query}, sort))
    return found


def indexed(collection: str, query: dict[str, Any], sort: Any) -> bool:
    """Whether a MongoDB index can answer ``query``: a leading index field with a range or
    equality condition, in every branch of an ``$or`` (``$exists: true`` on a sparse
    index's field); an empty filter only by its sort."""
    indexes = INDEXES.get(collection, [])
    leading = {"_id"} | {keys[0][0] for keys, _ in indexes}
    sparse = {keys[0][0] for keys, options in indexes if options.get("sparse")}
    if not query:
        return bool(sort) and next(iter(sort)) in leading
    for field, condition in query.items():
        if field in leading and (not isinstance(condition, dict) or set(condition) <= SARGABLE):
            return True
        if field in sparse and condition == {"$exists": True}:  # the index holds just those
            return True
    if "$or" in query:
        rest = {field: condition for field, condition in query.items() if field != "$or"}
        return all(indexed(collection, rest | branch, None) for branch in query["$or"])
    return False


def test_the_database_comes_from_the_uri(server_db: ServerDatabase) -> None:
    try:
        store = get_connection(server_db.uri)
        assert (store.kind, store.db.name, store.uri) == ("mongodb", server_db.db.name,
                                                          server_db.uri)
        store.checkpoint()  # a no-op: every acknowledged write is already durable
        store.db.Probe.insert_one({"_id": 1})
        assert server_db.db.Probe.find_one() == {"_id": 1}
        close_connection()
        assert get_connection(server_db.target.database_uri("")).db.name == "payments"
    finally:
        close_connection()


@pytest.mark.parametrize("options", ["w=1", "journal=false", "retryWrites=false",
                                     "readPreference=secondaryPreferred",
                                     "readConcernLevel=local"])
def test_a_uri_that_weakens_exactly_once_is_refused(server_db: ServerDatabase, options: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """In-process (``main``): one line, exit 2, nothing read or written."""
    load_documents(server_db.db, golden_documents())
    uri = f"{server_db.uri}{'&' if '?' in server_db.uri else '?'}{options}"
    for mode in ("dry-run", "final"):
        capsys.readouterr()
        assert main(["-p", "PE-G1", "-m", mode, "--db-uri", uri]) == 2
        captured = capsys.readouterr()
        lines = [line for line in captured.err.splitlines() if not line.startswith("{")]
        assert captured.out == ""
        assert lines == [f"paymentprocess: the db URI {uri} sets {options}: a final run needs "
                         "w=majority, journal=true, retryWrites=true and primary reads; "
                         "remove it from the URI"]
    assert "PaymentEventStats" not in server_db.db.list_collection_names()


def test_a_standalone_server_is_refused(mongo_target: ServerTarget, tmp_path: Path) -> None:
    """No retryable writes, no majority: refused before anything is read or written."""
    if not mongo_target.is_secantus:
        pytest.skip("starts a standalone SecantusDB: only where the tier starts its servers")
    with running_secantus(tmp_path, "--standalone") as server:
        uri = f"{server.uri}/payments"
        result = run_cli("-p", "PE-G1", "-m", "dry-run", "--db-uri", uri)
        assert result.returncode == 2
        assert [line for line in result.stderr.splitlines() if not line.startswith("{")] == [
            f"paymentprocess: the store {uri} is a standalone mongod: a final run needs a "
            "replica set (retryable writes, majority write concern); see docs/operations.md"]


def test_every_write_is_majority_journaled_and_retryable_or_replayed(engine_commands: tuple
                                                                     ) -> None:
    commands, _ = engine_commands
    writes = [(name, command) for name, command in commands if name in WRITES]
    assert {name for name, _ in writes} >= {"update", "delete"}
    for name, command in writes:
        assert command.get("writeConcern") == {"w": "majority", "j": True}, (name, command)
        multi = any(update.get("multi") for update in command.get("updates", [])) or any(
            delete.get("limit") == 0 for delete in command.get("deletes", []))
        if multi:  # MongoDB does not retry it: --resume must replay it
            assert name == "delete" and command[name] in REPLAYED_DELETES, command
        else:
            assert "txnNumber" in command, (name, command)  # a retryable write


def test_every_read_is_majority_from_the_primary(engine_commands: tuple) -> None:
    commands, _ = engine_commands
    reads = [command for name, command in commands if name in READS]
    assert reads
    for command in reads:
        assert command.get("readConcern") == {"level": "majority"}, command
        assert command.get("$readPreference", {"mode": "primary"}) == {"mode": "primary"}


def test_every_query_has_an_index(engine_commands: tuple) -> None:
    commands, _ = engine_commands
    found = queries(commands)
    assert len(found) > 15
    assert any(query["collection"] == "ClaimWSCore" and "$lt" in str(query["filter"])
               for _, query, _ in found.values())  # a range of chains (--workers 2)
    unindexed = [(name, query, sort) for name, query, sort in found.values()
                 if not indexed(query["collection"], query["filter"], sort)]
    assert unindexed == [], "\n".join(map(str, unindexed))


def explain_command(name: str, query: dict[str, Any], sort: Any) -> dict[str, Any]:
    """An explainable command for one captured query."""
    collection, where = query["collection"], query["filter"]
    if name == "update":
        return {"update": collection, "updates": [{"q": where, "u": {"$set": {"x": 1}}}]}
    if name == "delete":
        return {"delete": collection, "deletes": [{"q": where, "limit": 0}]}
    command: dict[str, Any] = {"find": collection, "filter": where}
    if sort:
        command |= {"sort": sort, "limit": 1}
    return command


def test_every_query_plan_uses_an_index(mongo_target: ServerTarget,
                                        engine_commands: tuple) -> None:
    if mongo_target.is_secantus:
        pytest.skip(INDEX_STAGES_ONLY_MESSAGE)
    commands, db = engine_commands
    scans = []
    for name, query, sort in queries(commands).values():
        plan = db.command("explain", explain_command(name, query, sort),
                          verbosity="queryPlanner")["queryPlanner"]["winningPlan"]
        if "COLLSCAN" in json.dumps(plan, default=str):
            scans.append((name, query, plan))
    assert scans == []


def test_the_captured_run_paid_the_golden_cycle(engine_commands: tuple, expected: dict) -> None:
    """The commands above are those of a correct run: the crash and resume paid PE-G1."""
    _, db = engine_commands
    assert db.PaymentEvent.find_one({"_id": "PE-G1"})["stage"] == "FINAL"
    assert {p["PaymentCenter_ID"]: p["number"] for p in db.Payments.find()} == {
        p["PaymentCenter_ID"]: p["number"] for p in expected["PE-G1"]["payments"]}
    assert db.RemittanceFile.count_documents({}) == 7  # one 835 a payee paid or recouped

